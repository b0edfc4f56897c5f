/**
 * Reproducibility: a plan is a function of the model's contents, the request, the seed and the
 * configuration, whatever order the nodes arrived in and whatever the model went through.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { planDeployment, SchedulerState, type NodeView } from "../../src/scheduler/core/index.js";
import { clusterArb, demoRegions, node, request, requestArb, seedArb, shuffle } from "./helpers.js";

const caseArb = clusterArb().chain((nodes) =>
  fc.tuple(fc.constant(nodes), requestArb(nodes), seedArb, fc.array(fc.nat(), { minLength: 1, maxLength: 40 })),
);

/** Builds a model of `nodes` the long way: out-of-order arrivals, detours that cancel out. */
function modelWithHistory(nodes: readonly NodeView[], order: readonly number[]): SchedulerState {
  const state = SchedulerState.fromNodes([]);
  const arrivals = shuffle(nodes, order);
  arrivals.forEach((n, i) => {
    // Arrive empty and down, then take the real allocation and status in steps.
    state.upsertNode({ ...n, cpuAllocated: 0, memoryAllocated: 0, status: "down" });
    if (i % 3 === 0)
      state.upsertNode({
        id: `zz-temporary-${i}`,
        region: "temporary-region",
        cpuCapacity: 10,
        memoryCapacity: 10,
        cpuAllocated: 0,
        memoryAllocated: 0,
        status: "ready",
      });
    state.allocate(n.id, n.cpuCapacity, n.memoryCapacity);
    state.setStatus(n.id, "ready");
    state.release(n.id, n.cpuCapacity - n.cpuAllocated, n.memoryCapacity - n.memoryAllocated);
    state.setStatus(n.id, n.status);
  });
  arrivals.forEach((_, i) => {
    if (i % 3 === 0) state.removeNode(`zz-temporary-${i}`);
  });
  return state;
}

/** The same contents reached through incremental changes to a live index (no renumbering). */
function modelWithLiveIndex(nodes: readonly NodeView[], order: readonly number[], seed: number): SchedulerState {
  const state = SchedulerState.fromNodes(
    nodes.map((n) => ({ ...n, cpuAllocated: 0, memoryAllocated: 0, status: "ready" as const })),
  );
  // A plan applied and then released leaves the contents as they were, not the heaps' layout.
  const warmUp = request({
    deployment: "warm-up",
    strategy: "spread",
    replicas: 25,
    cpuMillicores: 100,
    memoryMib: 64,
  });
  const plan = planDeployment(state, warmUp, seed);
  state.applyPlan(plan, warmUp);
  for (const p of plan.placements) state.release(p.nodeId, warmUp.cpuMillicores, warmUp.memoryMib);
  for (const n of shuffle(nodes, order)) {
    state.allocate(n.id, n.cpuCapacity, n.memoryCapacity);
    state.setStatus(n.id, "draining");
    state.release(n.id, n.cpuCapacity - n.cpuAllocated, n.memoryCapacity - n.memoryAllocated);
    state.setStatus(n.id, n.status);
    state.checkInvariants();
  }
  return state;
}

describe("planDeployment determinism", () => {
  it("gives the same plan for the same model, request and seed", () => {
    fc.assert(
      fc.property(caseArb, ([nodes, req, seed]) => {
        const state = SchedulerState.fromNodes(nodes);
        const first = planDeployment(state, req, seed);
        expect(planDeployment(state, req, seed)).toEqual(first);
        expect(planDeployment(SchedulerState.fromNodes(nodes), req, seed)).toEqual(first);
        expect(first.seed).toBe(seed);
      }),
      { numRuns: 200 },
    );
  });

  it("does not depend on the order nodes are listed in", () => {
    fc.assert(
      fc.property(caseArb, ([nodes, req, seed, order]) => {
        expect(planDeployment(SchedulerState.fromNodes(shuffle(nodes, order)), req, seed)).toEqual(
          planDeployment(SchedulerState.fromNodes(nodes), req, seed),
        );
      }),
      { numRuns: 200 },
    );
  });

  it("does not depend on the model's history, only on its contents", () => {
    fc.assert(
      fc.property(caseArb, ([nodes, req, seed, order]) => {
        const built = modelWithHistory(nodes, order);
        built.checkInvariants();
        expect(built.nodes()).toEqual(SchedulerState.fromNodes(nodes).nodes());
        expect(planDeployment(built, req, seed)).toEqual(planDeployment(SchedulerState.fromNodes(nodes), req, seed));
        built.checkInvariants();
      }),
      { numRuns: 200 },
    );
  });

  it("does not depend on the order changes reached a live index", () => {
    fc.assert(
      fc.property(caseArb, ([nodes, req, seed, order]) => {
        const built = modelWithLiveIndex(nodes, order, seed);
        expect(built.nodes()).toEqual(SchedulerState.fromNodes(nodes).nodes());
        expect(planDeployment(built, req, seed)).toEqual(planDeployment(SchedulerState.fromNodes(nodes), req, seed));
      }),
      { numRuns: 200 },
    );
  });

  it("draws its sample from the seed", () => {
    const nodes = Array.from({ length: 300 }, (_, i) => node(`n-${String(i).padStart(3, "0")}`, demoRegions[i % 3]));
    const state = SchedulerState.fromNodes(nodes);
    const req = request({ strategy: "spread", replicas: 30 });
    const plans = [1, 2, 3].map((seed) => planDeployment(state, req, seed));
    expect(new Set(plans.map((p) => JSON.stringify(p.placements))).size).toBe(3);
    expect(plans.map((p) => p.planId)).toEqual(["web-v1-00000001", "web-v1-00000002", "web-v1-00000003"]);
  });
});
