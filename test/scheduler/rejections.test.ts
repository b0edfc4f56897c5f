/**
 * Why containers stay pending: every node counted once under its first failing check, in a
 * sentence `orchctl get` can show as it is.
 */
import { describe, expect, it } from "vitest";
import { pendingSentence, planDeployment, SchedulerState } from "../../src/scheduler/core/index.js";
import { node, request } from "./helpers.js";

describe("rejections", () => {
  it("explains an unplaceable request: 0/9 nodes: 6 insufficient memory, 3 region constraint", () => {
    const nodes = [
      ...[0, 1, 2, 3, 4, 5].map((i) => node(`east-${i}`, "us-east-1", { memoryCapacity: 1_024 })),
      ...[0, 1, 2].map((i) => node(`asia-${i}`, "ap-southeast-1")),
    ];
    const plan = planDeployment(
      SchedulerState.fromNodes(nodes),
      request({ memoryMib: 2_048, regions: ["us-east-1"], replicas: 2 }),
      1,
    );
    expect(plan.placements).toEqual([]);
    expect(plan.unplaced).toEqual(["web-0", "web-1"]);
    expect(plan.rejections).toEqual([
      { reason: "region-constraint", count: 3 },
      { reason: "insufficient-memory", count: 6 },
    ]);
    expect(plan.pendingReason).toBe("0/9 nodes: 6 insufficient memory, 3 region constraint");
  });

  it("counts each node under the first check it fails, largest counts first", () => {
    const nodes = [
      node("down", "us-east-1", { status: "down", memoryCapacity: 0 }),
      node("draining", "us-east-1", { status: "draining" }),
      node("asia", "ap-southeast-1", { cpuCapacity: 0 }),
      node("cpu-a", "us-east-1", { cpuAllocated: 3_900 }),
      node("cpu-b", "eu-west-1", { cpuAllocated: 3_900, memoryAllocated: 8_192 }),
      node("has-one", "eu-west-1"),
    ];
    const req = request({ regions: ["us-east-1", "eu-west-1"], onePerNode: true, existing: new Map([["has-one", 1]]) });
    const plan = planDeployment(SchedulerState.fromNodes(nodes), req, 2);
    expect(plan.rejections).toEqual([
      { reason: "node-not-ready", count: 1 },
      { reason: "node-ineligible", count: 1 },
      { reason: "region-constraint", count: 1 },
      { reason: "insufficient-cpu", count: 2 },
      { reason: "one-per-node", count: 1 },
    ]);
    expect(plan.pendingReason).toBe(
      "0/6 nodes: 2 insufficient cpu, 1 not ready, 1 ineligible (cordoned or draining), 1 region constraint, 1 already running a replica (one per node)",
    );
  });

  it("explains the last container after the plan's own placements", () => {
    const nodes = [
      node("a", "us-east-1", { memoryCapacity: 1_000 }),
      node("b", "us-east-1", { memoryCapacity: 1_000 }),
    ];
    const plan = planDeployment(SchedulerState.fromNodes(nodes), request({ memoryMib: 600, replicas: 3 }), 3);
    expect(plan.placements.map((p) => p.nodeId).sort()).toEqual(["a", "b"]);
    expect(plan.unplaced).toEqual(["web-2"]);
    expect(plan.pendingReason).toBe("0/2 nodes: 2 insufficient memory");
  });

  it("says so when there are no nodes", () => {
    const plan = planDeployment(SchedulerState.fromNodes([]), request({ replicas: 1 }), 4);
    expect(plan.rejections).toEqual([]);
    expect(plan.pendingReason).toBe("0/0 nodes: no nodes registered");
  });

  it("is empty when everything is placed", () => {
    const plan = planDeployment(SchedulerState.fromNodes([node("a", "us-east-1")]), request({ replicas: 3 }), 5);
    expect(plan.unplaced).toEqual([]);
    expect(plan.rejections).toEqual([]);
    expect(plan.pendingReason).toBe("");
  });

  it("orders ties by check order", () => {
    expect(
      pendingSentence(
        [
          { reason: "insufficient-cpu", count: 2 },
          { reason: "node-not-ready", count: 2 },
        ],
        4,
      ),
    ).toBe("0/4 nodes: 2 not ready, 2 insufficient cpu");
  });
});
