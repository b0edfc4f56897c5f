/**
 * Spread: replicas of a deployment end as even as capacity allows, first over the allowed
 * regions, then over the nodes of each region; scale-ups are placed in batches.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  planDeployment,
  SchedulerState,
  type NodeView,
  type Plan,
  type PlacementRequest,
} from "../../src/scheduler/core/index.js";
import {
  clusterArb,
  demoRegions,
  node,
  placedPerNode,
  request,
  requestArb,
  runs,
  seedArb,
  stillFeasible,
} from "./helpers.js";

/** Replicas per region after the plan (already there plus placed). */
function regionCounts(nodes: readonly NodeView[], req: PlacementRequest, plan: Plan): Map<string, number> {
  const regionOf = new Map(nodes.map((n) => [n.id, n.region]));
  const counts = new Map<string, number>();
  const add = (nodeId: string, count: number): void => {
    const region = regionOf.get(nodeId);
    if (region !== undefined) counts.set(region, (counts.get(region) ?? 0) + count);
  };
  for (const [nodeId, count] of req.existing) add(nodeId, count);
  for (const [nodeId, count] of placedPerNode(plan)) add(nodeId, count);
  return counts;
}

/** Nodes with room for a few hundred small replicas, 1-4 per region. */
const roomyClusterArb = fc
  .tuple(...demoRegions.map(() => fc.integer({ min: 1, max: 4 })))
  .map((perRegion) =>
    demoRegions.flatMap((region, r) =>
      Array.from({ length: perRegion[r] }, (_, i) =>
        node(`${region}-${i}`, region, { cpuCapacity: 64_000, memoryCapacity: 262_144 }),
      ),
    ),
  );

describe("spread", () => {
  it("keeps replica counts of the allowed regions within one of each other when capacity allows", () => {
    fc.assert(
      fc.property(
        roomyClusterArb,
        fc.subarray([...demoRegions]),
        fc.integer({ min: 0, max: 400 }),
        seedArb,
        (nodes, regions, replicas, seed) => {
          const req = request({ strategy: "spread", regions, replicas, cpuMillicores: 100, memoryMib: 128 });
          const plan = planDeployment(SchedulerState.fromNodes(nodes), req, seed);
          expect(plan.unplaced).toEqual([]);
          const counts = regionCounts(nodes, req, plan);
          const allowed = regions.length === 0 ? demoRegions : regions;
          const perRegion = allowed.map((region) => counts.get(region) ?? 0);
          expect(Math.max(...perRegion) - Math.min(...perRegion)).toBeLessThanOrEqual(1);
          for (const [region] of counts) expect(allowed).toContain(region);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("keeps replicas per node within one of each other inside a region when capacity allows", () => {
    fc.assert(
      fc.property(roomyClusterArb, fc.integer({ min: 0, max: 400 }), seedArb, (nodes, replicas, seed) => {
        const req = request({ strategy: "spread", replicas, cpuMillicores: 100, memoryMib: 128 });
        const placed = placedPerNode(planDeployment(SchedulerState.fromNodes(nodes), req, seed));
        for (const region of demoRegions) {
          const perNode = nodes.filter((n) => n.region === region).map((n) => placed.get(n.id) ?? 0);
          expect(Math.max(...perNode) - Math.min(...perNode)).toBeLessThanOrEqual(1);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("only lets a region fall behind by more than one when it has no room left", () => {
    const caseArb = clusterArb().chain((nodes) =>
      fc.tuple(fc.constant(nodes), requestArb(nodes, fc.constant("spread")), seedArb),
    );
    fc.assert(
      fc.property(caseArb, ([nodes, req, seed]) => {
        const plan = planDeployment(SchedulerState.fromNodes(nodes), req, seed);
        const counts = regionCounts(nodes, req, plan);
        const regionOf = new Map(nodes.map((n) => [n.id, n.region]));
        const receiving = new Set(plan.placements.map((p) => regionOf.get(p.nodeId) as string));
        const withRoom = new Set(stillFeasible(nodes, req, plan).map((n) => n.region));
        for (const a of receiving)
          for (const b of withRoom) expect(counts.get(a) ?? 0).toBeLessThanOrEqual((counts.get(b) ?? 0) + 1);
      }),
      { numRuns: 400 },
    );
  });

  it("tops up the regions that are behind before the others", () => {
    const nodes = demoRegions.map((region) =>
      node(`${region}-a`, region, { cpuCapacity: 64_000, memoryCapacity: 262_144 }),
    );
    const existing = new Map([["us-east-1-a", 5]]);
    const plan = planDeployment(
      SchedulerState.fromNodes(nodes),
      request({ strategy: "spread", replicas: 4, existing }),
      7,
    );
    expect(regionCounts(nodes, request({ existing }), plan)).toEqual(
      new Map([
        ["us-east-1", 5],
        ["eu-west-1", 2],
        ["ap-southeast-1", 2],
      ]),
    );
  });

  it("prefers the least allocated nodes", () => {
    const nodes = [
      node("busy", "us-east-1", { cpuAllocated: 3_000 }),
      node("idle", "us-east-1"),
      node("half", "us-east-1", { memoryAllocated: 4_096 }),
    ];
    const plan = planDeployment(
      SchedulerState.fromNodes(nodes),
      request({ strategy: "spread", regions: ["us-east-1"] }),
      1,
    );
    expect(plan.placements).toEqual([{ containerId: "web-0", nodeId: "idle" }]);
  });

  it("places a large scale-up in batches, one per node of a small region", () => {
    const nodes = demoRegions.flatMap((region) =>
      [0, 1, 2].map((i) => node(`${region}-${i}`, region, { cpuCapacity: 64_000, memoryCapacity: 262_144 })),
    );
    const plan = planDeployment(
      SchedulerState.fromNodes(nodes),
      request({ strategy: "spread", replicas: 999, cpuMillicores: 50, memoryMib: 64 }),
      3,
    );
    expect(plan.unplaced).toEqual([]);
    expect(runs(plan)).toBe(9);
    for (const count of placedPerNode(plan).values()) expect(count).toBe(111);
  });

  it("spreads 1,000 replicas over 3,000 nodes one per node", () => {
    const nodes = Array.from({ length: 3_000 }, (_, i) =>
      node(`n-${String(i).padStart(4, "0")}`, demoRegions[i % 3], { cpuAllocated: (i % 7) * 100 }),
    );
    const plan = planDeployment(SchedulerState.fromNodes(nodes), request({ strategy: "spread", replicas: 1_000 }), 11);
    expect(plan.placements).toHaveLength(1_000);
    expect(Math.max(...placedPerNode(plan).values())).toBe(1);
  });
});
