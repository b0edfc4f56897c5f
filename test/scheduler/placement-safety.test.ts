/**
 * Safety properties of planDeployment on random clusters and requests: capacity, readiness,
 * region constraints and one-per-node always hold; the plan accounts for every container; a
 * container is left unplaced only when no node can take it, with every node counted once.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  planDeployment,
  rejectionReasons,
  SchedulerState,
  type NodeView,
  type Plan,
  type PlacementRequest,
} from "../../src/scheduler/core/index.js";
import {
  clusterArb,
  nodesAfter,
  placedPerNode,
  planUntouched,
  referenceRejection,
  replicasAfter,
  requestArb,
  seedArb,
  stillFeasible,
} from "./helpers.js";

const caseArb = clusterArb().chain((nodes) => fc.tuple(fc.constant(nodes), requestArb(nodes), seedArb));

function checkPlan(nodes: readonly NodeView[], req: PlacementRequest, plan: Plan): void {
  // Every container is accounted for: placed ones first, in request order, then the unplaced.
  expect(plan.placements.map((p) => p.containerId)).toEqual(req.containerIds.slice(0, plan.placements.length));
  expect(plan.unplaced).toEqual(req.containerIds.slice(plan.placements.length));
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const placed = placedPerNode(plan);
  for (const [nodeId, count] of placed) {
    const n = byId.get(nodeId);
    expect(n, `placed on unknown node ${nodeId}`).toBeDefined();
    if (n === undefined) continue;
    expect(n.status).toBe("ready");
    if (req.regions.length > 0) expect(req.regions).toContain(n.region);
    expect(n.cpuAllocated + count * req.cpuMillicores).toBeLessThanOrEqual(n.cpuCapacity);
    expect(n.memoryAllocated + count * req.memoryMib).toBeLessThanOrEqual(n.memoryCapacity);
    if (req.onePerNode) {
      expect(count).toBe(1);
      expect(req.existing.get(nodeId) ?? 0).toBe(0);
    }
  }
  if (plan.unplaced.length === 0) {
    expect(plan.rejections).toEqual([]);
    expect(plan.pendingReason).toBe("");
    return;
  }
  // Unplaced only when nothing can take another container.
  expect(stillFeasible(nodes, req, plan)).toEqual([]);
  // Every node counted once, under the first check it fails, as the reference sees it.
  const replicas = replicasAfter(req, plan);
  const expected = new Map<string, number>();
  for (const n of nodesAfter(nodes, plan, req)) {
    const reason = referenceRejection(n, req, replicas.get(n.id) ?? 0);
    expect(reason).not.toBeNull();
    if (reason !== null) expected.set(reason, (expected.get(reason) ?? 0) + 1);
  }
  expect(plan.rejections).toEqual(
    rejectionReasons.filter((r) => expected.has(r)).map((reason) => ({ reason, count: expected.get(reason) })),
  );
  expect(plan.rejections.reduce((sum, r) => sum + r.count, 0)).toBe(nodes.length);
  expect(plan.pendingReason).toMatch(
    nodes.length === 0
      ? /^0\/0 nodes: no nodes registered$/
      : new RegExp(`^0/${nodes.length} nodes: \\d+ [a-z ()-]+(, \\d+ [a-z ()-]+)*$`),
  );
}

describe("planDeployment safety", () => {
  it("never exceeds a node's capacity, places only on ready nodes in allowed regions, respects one-per-node, and explains what it leaves", () => {
    fc.assert(
      fc.property(caseArb, ([nodes, req, seed]) => {
        const state = SchedulerState.fromNodes(nodes);
        const plan = planUntouched(state, req, seed);
        checkPlan(nodes, req, plan);
      }),
      { numRuns: 400 },
    );
  });

  it("holds on clusters large enough for the sample and the visit budget to bind", () => {
    const largeArb = clusterArb(400).chain((nodes) =>
      fc.tuple(fc.constant(nodes), requestArb(nodes, undefined, 600), seedArb),
    );
    fc.assert(
      fc.property(largeArb, ([nodes, req, seed]) => {
        checkPlan(nodes, req, planUntouched(SchedulerState.fromNodes(nodes), req, seed));
      }),
      { numRuns: 60 },
    );
  });

  it("never over-commits across a sequence of plans applied to the model", () => {
    const sequenceArb = clusterArb(40).chain((nodes) =>
      fc.tuple(fc.constant(nodes), fc.array(fc.tuple(requestArb(nodes), seedArb), { minLength: 1, maxLength: 8 })),
    );
    fc.assert(
      fc.property(sequenceArb, ([nodes, steps]) => {
        const state = SchedulerState.fromNodes(nodes);
        let current = nodes;
        steps.forEach(([req, seed], step) => {
          const named = {
            ...req,
            deployment: `d${step}`,
            containerIds: req.containerIds.map((_, i) => `d${step}-${i}`),
          };
          const plan = planDeployment(state, named, seed);
          checkPlan(current, named, plan);
          state.applyPlan(plan, named);
          current = nodesAfter(current, plan, named);
          state.checkInvariants();
          expect(state.nodes()).toEqual([...current].sort((a, b) => (a.id < b.id ? -1 : 1)));
        });
      }),
      { numRuns: 150 },
    );
  });

  it("respects region constraints, including regions no node is in", () => {
    fc.assert(
      fc.property(caseArb, ([nodes, req, seed]) => {
        const plan = planDeployment(SchedulerState.fromNodes(nodes), req, seed);
        const regionOf = new Map(nodes.map((n) => [n.id, n.region]));
        for (const p of plan.placements)
          if (req.regions.length > 0) expect(req.regions).toContain(regionOf.get(p.nodeId));
      }),
      { numRuns: 300 },
    );
  });

  it("puts at most one replica per node, counting replicas already there, when asked to", () => {
    const onePerNodeArb = clusterArb().chain((nodes) =>
      fc.tuple(
        fc.constant(nodes),
        requestArb(nodes).map((r) => ({ ...r, onePerNode: true })),
        seedArb,
      ),
    );
    fc.assert(
      fc.property(onePerNodeArb, ([nodes, req, seed]) => {
        const plan = planDeployment(SchedulerState.fromNodes(nodes), req, seed);
        for (const [nodeId, count] of replicasAfter(req, plan)) {
          if ((req.existing.get(nodeId) ?? 0) > 0) expect(placedPerNode(plan).get(nodeId) ?? 0).toBe(0);
          else expect(count).toBeLessThanOrEqual(1);
        }
      }),
      { numRuns: 300 },
    );
  });
});
