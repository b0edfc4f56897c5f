/**
 * Latency-aware placement: the nearest region (mean latency from the client regions) that can
 * take replicas gets them, spread over its nodes; when it fills up, the next nearest takes over.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  defaultPlannerConfig,
  meanLatencyMs,
  planDeployment,
  plannerConfig,
  SchedulerState,
  type NodeView,
  type Plan,
} from "../../src/scheduler/core/index.js";
import {
  clusterArb,
  demoRegions,
  node,
  placedPerNode,
  request,
  requestArb,
  seedArb,
  stillFeasible,
} from "./helpers.js";

function placedByRegion(nodes: readonly NodeView[], plan: Plan): Record<string, number> {
  const regionOf = new Map(nodes.map((n) => [n.id, n.region]));
  const counts: Record<string, number> = {};
  for (const [nodeId, count] of placedPerNode(plan)) {
    const region = regionOf.get(nodeId) as string;
    counts[region] = (counts[region] ?? 0) + count;
  }
  return counts;
}

/** Two nodes per demo region, each with room for `perNode` replicas of the default request. */
function cluster(perNode: Partial<Record<string, number>> = {}): NodeView[] {
  return demoRegions.flatMap((region) =>
    [0, 1].map((i) =>
      node(`${region}-${i}`, region, { cpuCapacity: 500 * (perNode[region] ?? 100), memoryCapacity: 100_000 }),
    ),
  );
}

describe("latency-aware", () => {
  it("never places farther than a region that still has room", () => {
    const caseArb = clusterArb().chain((nodes) =>
      fc.tuple(
        fc.constant(nodes),
        requestArb(nodes, fc.constant("latency")).filter((r) => r.clientRegions.length > 0),
        seedArb,
      ),
    );
    fc.assert(
      fc.property(caseArb, ([nodes, req, seed]) => {
        const plan = planDeployment(SchedulerState.fromNodes(nodes), req, seed);
        const latency = (region: string): number => meanLatencyMs(defaultPlannerConfig, region, req.clientRegions);
        const withRoom = stillFeasible(nodes, req, plan).map((n) => latency(n.region));
        for (const region of Object.keys(placedByRegion(nodes, plan))) {
          for (const nearer of withRoom)
            expect(nearer).toBeGreaterThanOrEqual(latency(region) - defaultPlannerConfig.latencyToleranceMs);
        }
      }),
      { numRuns: 400 },
    );
  });

  it("places everything in the nearest region when it has room", () => {
    const nodes = cluster();
    const plan = planDeployment(
      SchedulerState.fromNodes(nodes),
      request({ strategy: "latency", clientRegions: ["eu-west-1"], replicas: 50 }),
      1,
    );
    expect(placedByRegion(nodes, plan)).toEqual({ "eu-west-1": 50 });
  });

  it("falls back to the next nearest region, then the next, as each fills up", () => {
    const nodes = cluster({ "eu-west-1": 2, "us-east-1": 3 });
    const plan = planDeployment(
      SchedulerState.fromNodes(nodes),
      request({ strategy: "latency", clientRegions: ["eu-west-1"], replicas: 20 }),
      2,
    );
    // eu-west-1 (1 ms) holds 4, us-east-1 (75 ms) holds 6, ap-southeast-1 (160 ms) takes the rest.
    expect(placedByRegion(nodes, plan)).toEqual({ "eu-west-1": 4, "us-east-1": 6, "ap-southeast-1": 10 });
    expect(plan.placements.slice(0, 4).every((p) => p.nodeId.startsWith("eu-west-1"))).toBe(true);
  });

  it("shares the replicas between equally near regions", () => {
    const nodes = cluster();
    const plan = planDeployment(
      SchedulerState.fromNodes(nodes),
      request({ strategy: "latency", clientRegions: ["us-east-1", "eu-west-1"], replicas: 11 }),
      3,
    );
    const counts = placedByRegion(nodes, plan);
    expect(counts["ap-southeast-1"]).toBeUndefined();
    expect(Math.abs(counts["us-east-1"] - counts["eu-west-1"])).toBe(1);
  });

  it("respects region constraints before latency", () => {
    const nodes = cluster();
    const plan = planDeployment(
      SchedulerState.fromNodes(nodes),
      request({
        strategy: "latency",
        clientRegions: ["eu-west-1"],
        regions: ["ap-southeast-1", "us-east-1"],
        replicas: 5,
      }),
      4,
    );
    expect(placedByRegion(nodes, plan)).toEqual({ "us-east-1": 5 });
  });

  it("behaves like spread without client regions", () => {
    fc.assert(
      fc.property(clusterArb(), seedArb, (nodes, seed) => {
        const state = SchedulerState.fromNodes(nodes);
        const spread = planDeployment(state, request({ strategy: "spread", replicas: 20 }), seed);
        const latency = planDeployment(state, request({ strategy: "latency", replicas: 20 }), seed);
        expect(latency.placements).toEqual(spread.placements);
      }),
      { numRuns: 100 },
    );
  });

  it("takes its latencies from the configured matrix", () => {
    const config = plannerConfig({
      regionLatencyMs: { "eu-west-1": { "eu-west-1": 1, "ap-southeast-1": 20, "us-east-1": 90 } },
    });
    expect(config.ok).toBe(true);
    if (!config.ok) return;
    const nodes = cluster({ "eu-west-1": 1 });
    const plan = planDeployment(
      SchedulerState.fromNodes(nodes),
      request({ strategy: "latency", clientRegions: ["eu-west-1"], replicas: 6 }),
      5,
      config.value,
    );
    expect(placedByRegion(nodes, plan)).toEqual({ "eu-west-1": 2, "ap-southeast-1": 4 });
  });

  it("ranks regions the matrix does not know after the ones it does", () => {
    const nodes = [node("far", "sa-east-1"), node("near", "us-east-1", { cpuCapacity: 1_000 })];
    const plan = planDeployment(
      SchedulerState.fromNodes(nodes),
      request({ strategy: "latency", clientRegions: ["eu-west-1"], replicas: 3 }),
      6,
    );
    expect(plan.placements.map((p) => p.nodeId)).toEqual(["near", "near", "far"]);
  });
});
