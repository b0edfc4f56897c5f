/**
 * The model and its building blocks: the capacity index stays exact through any sequence of
 * changes, and the small pieces (free levels, strides, water-filling, configuration) do what
 * the planner relies on.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Prng } from "../../src/lib/prng.js";
import { freeLevel } from "../../src/scheduler/core/capacity-index.js";
import { coprimeStride } from "../../src/scheduler/core/candidate-source.js";
import { waterFill } from "../../src/scheduler/core/region-plan.js";
import {
  planDeployment,
  plannerConfig,
  sampleSize,
  defaultPlannerConfig,
  SchedulerState,
  type NodeView,
} from "../../src/scheduler/core/index.js";
import { demoRegions, node, request, seedArb } from "./helpers.js";

const amountArb = fc.integer({ min: 0, max: 0x7fff_ffff });

type Op =
  | {
      kind: "upsert";
      id: number;
      region: number;
      cpu: number;
      memory: number;
      used: number;
      status: NodeView["status"];
    }
  | { kind: "remove"; id: number }
  | { kind: "status"; id: number; status: NodeView["status"] }
  | { kind: "allocate"; id: number; share: number }
  | { kind: "release"; id: number; share: number }
  | { kind: "plan"; seed: number; replicas: number; strategy: "binpack" | "spread" | "latency" };

const statusArb = fc.constantFrom<NodeView["status"]>("ready", "ready", "down", "draining");
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant("upsert" as const),
    id: fc.nat(30),
    region: fc.nat(4),
    cpu: fc.constantFrom(1_000, 4_000, 16_000),
    memory: fc.constantFrom(1_024, 8_192),
    used: fc.double({ min: 0, max: 1, noNaN: true }),
    status: statusArb,
  }),
  fc.record({ kind: fc.constant("remove" as const), id: fc.nat(30) }),
  fc.record({ kind: fc.constant("status" as const), id: fc.nat(30), status: statusArb }),
  fc.record({
    kind: fc.constant("allocate" as const),
    id: fc.nat(30),
    share: fc.double({ min: 0, max: 1, noNaN: true }),
  }),
  fc.record({
    kind: fc.constant("release" as const),
    id: fc.nat(30),
    share: fc.double({ min: 0, max: 1, noNaN: true }),
  }),
  fc.record({
    kind: fc.constant("plan" as const),
    seed: seedArb,
    replicas: fc.nat(40),
    strategy: fc.constantFrom("binpack" as const, "spread" as const, "latency" as const),
  }),
);
const regionNames = [...demoRegions, "sa-east-1", "af-south-1"];

/** Applies an op to the model and to a plain map of views, the reference. */
function apply(state: SchedulerState, reference: Map<string, NodeView>, op: Op): void {
  const id = "id" in op ? `node-${op.id}` : "";
  const known = reference.get(id);
  switch (op.kind) {
    case "upsert": {
      const view = {
        id,
        region: known?.region ?? regionNames[op.region],
        cpuCapacity: op.cpu,
        memoryCapacity: op.memory,
        cpuAllocated: Math.floor(op.cpu * op.used),
        memoryAllocated: Math.floor(op.memory * op.used),
        status: op.status,
      };
      state.upsertNode(view);
      reference.set(id, view);
      return;
    }
    case "remove":
      expect(state.removeNode(id)).toBe(known !== undefined);
      reference.delete(id);
      return;
    case "status":
      expect(state.setStatus(id, op.status)).toBe(known !== undefined);
      if (known !== undefined) reference.set(id, { ...known, status: op.status });
      return;
    case "allocate":
    case "release": {
      if (known === undefined) return;
      const cpuRoom = op.kind === "allocate" ? known.cpuCapacity - known.cpuAllocated : known.cpuAllocated;
      const memoryRoom = op.kind === "allocate" ? known.memoryCapacity - known.memoryAllocated : known.memoryAllocated;
      const cpu = Math.floor(cpuRoom * op.share);
      const memory = Math.floor(memoryRoom * op.share);
      const sign = op.kind === "allocate" ? 1 : -1;
      expect(op.kind === "allocate" ? state.allocate(id, cpu, memory) : state.release(id, cpu, memory)).toBe(true);
      reference.set(id, {
        ...known,
        cpuAllocated: known.cpuAllocated + sign * cpu,
        memoryAllocated: known.memoryAllocated + sign * memory,
      });
      return;
    }
    case "plan": {
      const req = request({
        deployment: "p",
        strategy: op.strategy,
        replicas: op.replicas,
        cpuMillicores: 250,
        memoryMib: 512,
        clientRegions: ["eu-west-1"],
      });
      const plan = planDeployment(state, req, op.seed);
      state.applyPlan(plan, req);
      for (const p of plan.placements) {
        const n = reference.get(p.nodeId) as NodeView;
        expect(n.status).toBe("ready");
        reference.set(p.nodeId, {
          ...n,
          cpuAllocated: n.cpuAllocated + req.cpuMillicores,
          memoryAllocated: n.memoryAllocated + req.memoryMib,
        });
      }
      return;
    }
  }
}

describe("scheduler model", () => {
  it("stays exact through any sequence of registrations, removals, status changes, allocations and plans", () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 80 }), (ops) => {
        const state = SchedulerState.fromNodes([]);
        const reference = new Map<string, NodeView>();
        for (const op of ops) {
          apply(state, reference, op);
          state.checkInvariants();
        }
        expect(state.nodes()).toEqual([...reference.values()].sort((a, b) => (a.id < b.id ? -1 : 1)));
        expect(state.nodeCount).toBe(reference.size);
      }),
      { numRuns: 300 },
    );
  });

  it("builds from nodes in any order and reports them sorted", () => {
    const state = SchedulerState.fromNodes([node("b", "us-east-1"), node("a", "eu-west-1", { status: "down" })]);
    expect(state.nodes().map((n) => n.id)).toEqual(["a", "b"]);
    expect(state.regionNames).toEqual(["eu-west-1", "us-east-1"]);
    expect(state.node("a")?.status).toBe("down");
    expect(state.node("zzz")).toBeUndefined();
    expect(state.allocate("zzz", 1, 1)).toBe(false);
  });

  it("refuses to over-commit a node: that would be a bug upstream", () => {
    const state = SchedulerState.fromNodes([node("a", "us-east-1")]);
    expect(() => state.allocate("a", 4_001, 0)).toThrow(/over-committed/);
    expect(() => state.release("a", 1, 0)).toThrow(/released more than it held/);
    expect(() => SchedulerState.fromNodes([node("a", "us-east-1"), node("a", "eu-west-1")])).toThrow(/listed twice/);
  });
});

describe("free levels", () => {
  it("are monotone, so a lower level never fits and a higher level always does", () => {
    fc.assert(
      fc.property(amountArb, amountArb, (a, b) => {
        const [low, high] = a <= b ? [a, b] : [b, a];
        expect(freeLevel(low)).toBeLessThanOrEqual(freeLevel(high));
        if (freeLevel(low) < freeLevel(high)) expect(low).toBeLessThan(high);
      }),
    );
    expect([0, 1, 2, 3, 4, 6, 8].map(freeLevel)).toEqual([0, 1, 3, 4, 5, 6, 7]);
    expect(freeLevel(0x7fff_ffff)).toBe(62);
  });
});

describe("coprime strides", () => {
  it("visit every position of a cell exactly once", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 500 }), seedArb, (size, seed) => {
        const prng = new Prng(seed);
        const stride = coprimeStride(size, prng);
        const seen = new Set<number>();
        let position = prng.nextInt(size);
        for (let i = 0; i < size; i++) {
          seen.add(position);
          position = (position + stride) % size;
        }
        expect(seen.size).toBe(size);
      }),
    );
  });
});

describe("water-filling", () => {
  it("hands out every replica and levels the regions it gives to", () => {
    fc.assert(
      fc.property(fc.array(fc.nat(50), { maxLength: 6 }), fc.nat(300), (counts, replicas) => {
        const quotas = waterFill(counts, replicas);
        expect(quotas.reduce((a, b) => a + b, 0)).toBe(counts.length === 0 ? 0 : replicas);
        const after = counts.map((c, i) => c + quotas[i]);
        const floor = Math.min(...after);
        quotas.forEach((q, i) => {
          if (q > 0) expect(after[i]).toBeLessThanOrEqual(floor + 1);
        });
      }),
    );
    expect(waterFill([0, 0, 0], 1_000)).toEqual([334, 333, 333]);
    expect(waterFill([5, 0, 0], 4)).toEqual([0, 2, 2]);
    expect(waterFill([5, 0, 1], 2)).toEqual([0, 2, 0]);
  });
});

describe("planner configuration", () => {
  it("refuses nonsense with a message", () => {
    const bad = plannerConfig({ regionLatencyMs: { "us-east-1": { "eu-west-1": -5 } } });
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      expect(bad.error.code).toBe("INVALID_ARGUMENT");
      expect(bad.error.message).toMatch(/latency from us-east-1 to eu-west-1/);
    }
    expect(plannerConfig({ sampleCandidatesMin: 0 }).ok).toBe(false);
    expect(plannerConfig({ sampleCandidatesMin: 8, sampleCandidatesMax: 4 }).ok).toBe(false);
    expect(plannerConfig({ latencyToleranceMs: 20 }).ok).toBe(true);
  });

  it("samples log2(n) candidates within the configured bounds", () => {
    expect([0, 1, 16, 1_000, 10_000, 1_000_000].map((n) => sampleSize(defaultPlannerConfig, n))).toEqual([
      4, 4, 4, 10, 14, 16,
    ]);
  });
});
