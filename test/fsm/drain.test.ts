import { describe, expect, it } from "vitest";
import { ClusterFsm, type CommandBody } from "../../src/fsm/index.js";
import { RolloutOutcome } from "../../src/gen/orchestrator/v1/fsm.js";
import { body, ContainerState, Harness, HealthState, NodeStatus } from "./helpers.js";

const S = ContainerState;

const drain = {
  eligibility: (nodeId: string, eligible: boolean): CommandBody => ({
    kind: "node-eligibility",
    nodeEligibility: { nodeId, eligible, actor: "ops" },
  }),
  start: (nodeId: string, deadlineMs = 60_000, ignoreSingletons = false): CommandBody => ({
    kind: "node-drain-start",
    nodeDrainStart: { nodeId, deadlineMs, ignoreSingletons, actor: "ops" },
  }),
  step: (nodeId: string, stepSeq: number, migrate: string[], stop: string[] = [], atDeadline = false): CommandBody => ({
    kind: "node-drain-step",
    nodeDrainStep: {
      nodeId,
      stepSeq,
      migrateContainerIds: migrate,
      stopContainerIds: stop,
      atDeadline,
      reason: "",
    },
  }),
  finish: (nodeId: string, stepSeq: number): CommandBody => ({
    kind: "node-drain-finish",
    nodeDrainFinish: { nodeId, stepSeq, reason: "empty" },
  }),
};

/** web: 2 replicas running healthy on n1 (min_healthy_time 0); n2 is empty. */
function cluster(): Harness {
  const h = new Harness();
  h.ok(body.register("n1"));
  h.ok(body.register("n2"));
  h.ok(
    body.deploy({
      replicas: 2,
      update: { maxParallel: 1, minHealthyTimeMs: 0, healthyDeadlineMs: 0, progressDeadlineMs: 0, canary: 0 },
    }),
  );
  h.ok(
    body.plan("web", [
      ["web-0", "n1"],
      ["web-1", "n1"],
    ]),
  );
  for (const id of ["web-0", "web-1"]) {
    h.ok(body.status(id, "n1", S.CONTAINER_STATE_RUNNING));
    h.ok(body.health(id, HealthState.HEALTH_STATE_HEALTHY));
  }
  return h;
}

describe("node eligibility and drain in the FSM", () => {
  it("a cordoned node takes no placement; enabling it again does", () => {
    const h = cluster();
    h.ok(body.scale("web", 3));
    expect(h.ok(drain.eligibility("n2", false))).toMatchObject({ changed: true });
    expect(h.ok(drain.eligibility("n2", false))).toMatchObject({ changed: false });
    expect(h.ok(body.plan("web", [["web-2", "n2"]]))).toMatchObject({
      placed: 0,
      rejections: [{ reason: "node-ineligible", count: 1 }],
    });
    h.ok(drain.eligibility("n2", true));
    expect(h.ok(body.plan("web", [["web-2", "n2"]], { planId: "p2" }))).toMatchObject({ placed: 1 });
  });

  it("refuses an unknown node, a bad deadline, and enabling a draining node; changes nothing", () => {
    const h = cluster();
    const before = JSON.stringify(h.fsm.listNodes());
    expect(h.fail(drain.start("nope")).code).toBe("NOT_FOUND");
    expect(h.fail(drain.eligibility("nope", false)).code).toBe("NOT_FOUND");
    expect(h.fail(drain.start("n1", 0)).code).toBe("INVALID_ARGUMENT");
    expect(h.fail(drain.start("n1", 8 * 86_400_000)).code).toBe("INVALID_ARGUMENT");
    expect(JSON.stringify(h.fsm.listNodes())).toBe(before);
    h.ok(drain.start("n1"));
    expect(h.fail(drain.eligibility("n1", true)).code).toBe("FAILED_PRECONDITION");
    expect(h.fsm.getNode("n1")).toMatchObject({ status: "draining", eligible: false });
  });

  it("migrates: a replacement first, the stop only once it is healthy, each step once", () => {
    const h = cluster();
    h.ok(drain.start("n1"));
    // max_parallel 1: two migrations at once are refused.
    expect(h.fail(drain.step("n1", 0, ["web-0", "web-1"])).message).toContain("max_parallel");
    expect(h.ok(drain.step("n1", 0, ["web-1"]))).toMatchObject({ applied: true, migrating: 1 });
    // The same step again (a new leader's retry) changes nothing.
    expect(h.ok(drain.step("n1", 0, ["web-1"]))).toMatchObject({ applied: false });
    expect(h.fsm.getDeploymentRecord("web")?.migrations).toEqual([{ from: "web-1", to: "web-2" }]);
    // Stopping web-1 before web-2 is healthy is refused.
    expect(h.fail(drain.step("n1", 1, [], ["web-1"])).code).toBe("FAILED_PRECONDITION");
    h.ok(body.plan("web", [["web-2", "n2"]]));
    h.ok(body.status("web-2", "n2", S.CONTAINER_STATE_RUNNING));
    h.ok(body.health("web-2", HealthState.HEALTH_STATE_HEALTHY));
    expect(h.ok(drain.step("n1", 1, [], ["web-1"]))).toMatchObject({ applied: true, stopped: 1 });
    expect(h.fsm.getContainer("web-1")?.desired).toBe("stopped");
    // Finishing while web-0 and the stopping web-1 hold n1 is refused.
    expect(h.fail(drain.finish("n1", 2)).code).toBe("FAILED_PRECONDITION");
  });

  it("never goes below the disruption budget: max_unavailable 0 with a replica unhealthy elsewhere waits", () => {
    const h = cluster();
    h.ok(
      body.deploy({
        replicas: 2,
        maxUnavailable: 0,
        update: { maxParallel: 1, minHealthyTimeMs: 0, healthyDeadlineMs: 0, progressDeadlineMs: 0, canary: 0 },
      }),
    );
    // A new budget is a new version whose replicas are the same containers: it succeeds at once.
    h.ok({
      kind: "rollout-finish",
      rolloutFinish: { deployment: "web", toVersion: 2, outcome: RolloutOutcome.ROLLOUT_OUTCOME_SUCCEEDED, reason: "" },
    });
    h.ok(drain.start("n1"));
    h.ok(drain.step("n1", 0, ["web-1"]));
    h.ok(body.plan("web", [["web-2", "n2"]], { version: 2 }));
    h.ok(body.status("web-2", "n2", S.CONTAINER_STATE_RUNNING));
    h.ok(body.health("web-2", HealthState.HEALTH_STATE_HEALTHY));
    h.ok(body.health("web-0", HealthState.HEALTH_STATE_UNHEALTHY));
    // healthy: web-1, web-2 = 2; stopping web-1 leaves 1 < 2 - 0.
    expect(h.fail(drain.step("n1", 1, [], ["web-1"])).message).toContain("budget");
  });

  it("a scale abandons the migrations; a down node's drain completes at once; snapshots keep it all", () => {
    const h = cluster();
    h.ok(drain.start("n1"));
    h.ok(drain.step("n1", 0, ["web-1"]));
    h.ok(body.scale("web", 3));
    expect(h.fsm.getDeploymentRecord("web")?.migrations).toEqual([]);
    expect(h.fsm.getContainer("web-2")).toBeUndefined();
    const copy = new ClusterFsm();
    copy.restore(h.fsm.snapshot());
    expect(copy.getNode("n1")).toEqual(h.fsm.getNode("n1"));
    h.ok(body.nodeDown("n2"));
    expect(h.ok(drain.start("n2"))).toMatchObject({ complete: true });
    expect(h.fsm.getNode("n2")).toMatchObject({ status: "down", eligible: false, drain: { state: "complete" } });
    // It comes back ready but stays ineligible.
    h.ok(body.nodeStatus("n2", NodeStatus.NODE_STATUS_READY));
    expect(h.fsm.getNode("n2")).toMatchObject({ status: "ready", eligible: false });
  });
});
