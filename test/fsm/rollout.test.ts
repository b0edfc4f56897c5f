/**
 * Versions and rollouts in the FSM: deploy of a changed spec, the history, undo, the rollout
 * commands and their preconditions, the error-budget gate, and snapshots of all of it.
 */
import { describe, expect, it } from "vitest";
import { RolloutOutcome, RolloutPauser } from "../../src/gen/orchestrator/v1/fsm.js";
import type { UpdatePolicy } from "../../src/gen/orchestrator/v1/types.js";
import { ClusterFsm, fsmLimits, type CommandBody } from "../../src/fsm/index.js";
import { body, ContainerState, Harness, HealthState, spec } from "./helpers.js";

/** An update policy message: unset scalar fields are 0 (the defaults), optional ones absent. */
const update = (p: Partial<UpdatePolicy> = {}): UpdatePolicy => ({
  maxParallel: 0,
  healthyDeadlineMs: 0,
  progressDeadlineMs: 0,
  canary: 0,
  ...p,
});
const client = (seq: number) => ({ clientId: "alice", seq });
const step = (toVersion: number, stepSeq: number, startCount: number, stop: string[] = []): CommandBody => ({
  kind: "rollout-step",
  rolloutStep: { deployment: "web", toVersion, stepSeq, startCount, stopContainerIds: stop, reason: "" },
});
const finish = (toVersion: number, succeeded: boolean, reason = ""): CommandBody => ({
  kind: "rollout-finish",
  rolloutFinish: {
    deployment: "web",
    toVersion,
    outcome: succeeded ? RolloutOutcome.ROLLOUT_OUTCOME_SUCCEEDED : RolloutOutcome.ROLLOUT_OUTCOME_FAILED,
    reason,
  },
});
const pause = (by: RolloutPauser, reason = ""): CommandBody => ({
  kind: "rollout-pause",
  rolloutPause: { deployment: "web", by, reason, actor: "bob", toVersion: 0 },
});
const resume = (by: RolloutPauser): CommandBody => ({
  kind: "rollout-resume",
  rolloutResume: { deployment: "web", by, reason: "", actor: "bob", toVersion: 0 },
});
const undo = (toVersion = 0): CommandBody => ({
  kind: "rollout-undo",
  rolloutUndo: { deployment: "web", toVersion, actor: "" },
});

/** web v1 with 3 replicas placed on n1 and healthy, its deploy operation closed as a success. */
function running(policy: Partial<UpdatePolicy> = {}): Harness {
  const h = new Harness();
  h.ok(body.register("n1", "us-east-1", 16_000, 16_384));
  h.ok(body.deploy({ update: update(policy) }), client(1));
  h.ok(
    body.plan("web", [
      ["web-0", "n1"],
      ["web-1", "n1"],
      ["web-2", "n1"],
    ]),
  );
  for (const id of ["web-0", "web-1", "web-2"]) {
    h.ok(body.status(id, "n1", ContainerState.CONTAINER_STATE_RUNNING));
    h.ok(body.health(id, HealthState.HEALTH_STATE_HEALTHY));
  }
  h.ok(body.outcome(h.fsm.openOperation("web")!.id, true));
  return h;
}

function versions(h: Harness): string[] {
  return h.fsm.listContainers({ deployment: "web" }).containers.map((c) => `${c.id}:v${c.version}:${c.desired}`);
}

describe("versions", () => {
  it("an identical deploy is unchanged, replicas alone a scale, anything else a new version", () => {
    const h = running();
    expect(h.ok(body.deploy(), client(2))).toMatchObject({ result: "unchanged", version: 1 });
    expect(h.ok(body.deploy({ replicas: 4 }), client(3))).toMatchObject({ result: "scaled", version: 1 });
    expect(h.fsm.getDeploymentRecord("web")?.spec.replicas).toBe(4);
    expect(h.ok(body.deploy({ replicas: 4, image: "nginx:2" }), client(4))).toMatchObject({
      result: "configured",
      version: 2,
    });
    const record = h.fsm.getDeploymentRecord("web")!;
    expect(record.history.map((v) => [v.version, v.spec.image, v.actor, v.reason, v.outcome])).toEqual([
      [1, "nginx:1", "alice", "deploy", "succeeded"],
      [2, "nginx:2", "alice", "deploy", "pending"],
    ]);
    expect(record.history[1].atMs).toBe(h.atMs);
    expect(record.rollout).toMatchObject({ fromVersion: 1, toVersion: 2, state: "running", isRevert: false });
    // Nothing is replaced by the deploy itself: the rollout's steps do it.
    expect(versions(h)).toEqual(["web-0:v1:running", "web-1:v1:running", "web-2:v1:running", "web-3:v1:running"]);
    // A changed spec and a changed count: a new version at the new count.
    expect(h.ok(body.deploy({ replicas: 2, image: "nginx:3" }), client(5))).toMatchObject({ version: 3 });
    expect(h.fsm.getDeploymentRecord("web")?.spec.replicas).toBe(2);
    expect(h.fsm.getDeploymentRecord("web")?.history[1].outcome).toBe("superseded");
  });

  it("a change of the update policy alone is a new version that already runs everywhere", () => {
    const h = running();
    h.ok(body.deploy({ update: update({ maxParallel: 2 }) }), client(2));
    expect(versions(h)).toEqual(["web-0:v2:running", "web-1:v2:running", "web-2:v2:running"]);
    h.ok(finish(2, true, "all healthy"));
    expect(h.fsm.getDeploymentRecord("web")?.rollout?.state).toBe("succeeded");
  });

  it("keeps the last versions, and the last that rolled out beyond them", () => {
    const h = running();
    for (let i = 2; i <= 13; i++) h.ok(body.deploy({ image: `nginx:${i}` }), client(i));
    const history = h.fsm.getDeploymentRecord("web")!.history;
    expect(history.map((v) => v.version)).toEqual([1, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
    expect(history.length).toBe(fsmLimits.versionHistoryMax + 1);
  });

  it("undo rolls back to an earlier spec as a new version, taking over its running replicas; NOT_FOUND beyond the history", () => {
    const h = running();
    h.ok(body.deploy({ image: "nginx:2" }), client(2));
    h.ok(step(2, 0, 1));
    expect(h.fail(undo(7), client(3))).toMatchObject({
      code: "NOT_FOUND",
      message: "deployment web has no version 7 in its history (kept: v1, v2)",
    });
    expect(h.ok(undo(), client(4))).toEqual({
      kind: "rollout-undo",
      deployment: "web",
      toVersion: 1,
      version: 3,
      changed: true,
    });
    const record = h.fsm.getDeploymentRecord("web")!;
    expect(record.spec.image).toBe("nginx:1");
    expect(record.history[2]).toMatchObject({ version: 3, reason: "undo to v1", actor: "alice" });
    expect(record.rollout).toMatchObject({ toVersion: 3, promoted: true });
    expect(versions(h)).toEqual(["web-0:v3:running", "web-1:v3:running", "web-2:v3:running", "web-3:v2:running"]);
    const fresh = new Harness();
    fresh.ok(body.deploy());
    expect(fresh.fail(undo())).toMatchObject({ code: "NOT_FOUND" });
  });

  it("refuses a new version while the 30-day error budget is spent, unless forced; creating is not gated", () => {
    const h = running();
    h.ok(body.scale("web", 4));
    h.ok(body.outcome(h.fsm.openOperation("web")!.id, false, "deadline"));
    const refused = h.fail(body.deploy({ replicas: 4, image: "nginx:2" }), client(2));
    expect(refused.code).toBe("FAILED_PRECONDITION");
    expect(refused.message).toContain("error budget is spent (1 failed operations");
    expect(refused.message).toContain("--force");
    expect(h.ok({ kind: "deploy", deploy: { spec: spec({ name: "api" }) } })).toMatchObject({ result: "created" });
    expect(
      h.ok({ kind: "deploy", deploy: { spec: spec({ replicas: 4, image: "nginx:2" }), force: true } }, client(3)),
    ).toMatchObject({ result: "configured", version: 2 });
  });

  it("refuses each bad update policy field by name", () => {
    const h = new Harness();
    const cases: [Partial<UpdatePolicy>, string][] = [
      [{ maxParallel: 20_000 }, "update.max_parallel must be 1..10000, got 20000"],
      [{ maxSurge: 20_000 }, "update.max_surge must be 0..10000"],
      [{ minHealthyTimeMs: 4_000_000 }, "update.min_healthy_time_ms must be 0..3600000 ms"],
      [
        { minHealthyTimeMs: 9_000, healthyDeadlineMs: 9_000 },
        "update.healthy_deadline_ms must be above min_healthy_time_ms",
      ],
      [
        { healthyDeadlineMs: 90_000, progressDeadlineMs: 80_000 },
        "update.progress_deadline_ms must be from healthy_deadline_ms",
      ],
      [{ canary: 4 }, "update.canary must be 0..replicas (3), got 4"],
    ];
    for (const [policy, message] of cases) {
      const refused = h.fail(body.deploy({ update: update(policy) }));
      expect(refused.code).toBe("INVALID_ARGUMENT");
      expect(refused.message).toContain(message);
    }
  });

  it("fills the update policy defaults", () => {
    const h = new Harness();
    h.ok(body.deploy());
    expect(h.fsm.getDeploymentRecord("web")?.spec.update).toEqual({
      maxParallel: 1,
      maxSurge: 1,
      minHealthyTimeMs: 5_000,
      healthyDeadlineMs: 60_000,
      progressDeadlineMs: 600_000,
      canary: 0,
      autoRevert: true,
    });
  });
});

describe("rollout commands", () => {
  it("applies a step once: a repeated or skipped step number changes nothing", () => {
    const h = running();
    h.ok(body.deploy({ image: "nginx:2" }), client(2));
    expect(h.ok(step(2, 0, 1))).toMatchObject({ applied: true, started: 1, stopped: 0 });
    const after = h.fsm.dumpState().containers.length;
    expect(h.ok(step(2, 0, 1))).toMatchObject({
      applied: false,
      ignoredReason: "step 0 was already applied (next: 1)",
    });
    expect(h.ok(step(2, 5, 1))).toMatchObject({
      applied: false,
      ignoredReason: "step 5 is ahead of the rollout (next: 1)",
    });
    expect(h.fsm.dumpState().containers.length).toBe(after);
    expect(h.fsm.getDeploymentRecord("web")?.rollout?.stepSeq).toBe(1);
  });

  it("re-checks what a step stops and starts", () => {
    const h = running({ maxParallel: 1 });
    h.ok(body.deploy({ image: "nginx:2" }), client(2));
    h.ok(step(2, 0, 1));
    expect(h.fail(step(2, 1, 0, ["web-3"])).message).toBe(
      "container web-3 already runs v2; a step stops only old replicas",
    );
    expect(h.fail(step(2, 1, 0, ["web-9"])).message).toContain("container web-9 is not a replica of web");
    expect(h.fail(step(2, 1, 3)).message).toContain("would run 4 replicas of v2, more than 3");
    // Two healthy stops would leave one healthy, below replicas - max_parallel = 2.
    expect(h.fail(step(2, 1, 0, ["web-0", "web-1"])).message).toContain("below replicas - max_parallel (2)");
    expect(h.fail(step(3, 1, 0)).message).toBe("deployment web is rolling out v2, not v3");
    expect(h.fail(step(2, 1, 0, ["web-0", "web-0"])).message).toBe("a rollout step names a container to stop twice");
    expect(h.ok(step(2, 1, 0, ["web-0"]))).toMatchObject({ applied: true, stopped: 1 });
  });

  it("says there is no rollout in progress", () => {
    const h = running();
    for (const command of [step(1, 0, 1), finish(1, true), pause(RolloutPauser.ROLLOUT_PAUSER_OPERATOR)]) {
      const refused = h.fail(command);
      expect(refused.code).toBe("FAILED_PRECONDITION");
      expect(refused.message).toBe(
        "deployment web has no rollout in progress (it has never rolled out a new version); deploy a changed spec to start one",
      );
    }
  });

  it("finishes only a rollout that is done; a failed rollout counts as a failed operation", () => {
    const h = running();
    h.ok(body.deploy({ image: "nginx:2" }), client(2));
    const operation = h.fsm.openOperation("web")!;
    expect(operation.kind).toBe("rollout");
    // The health controller's verdicts do not close it.
    expect(h.ok(body.outcome(operation.id, true))).toMatchObject({ recorded: false });
    expect(h.fail(finish(2, true)).message).toContain("runs 0 of 3 replicas at v2 and wants 3");
    const failedBefore = h.fsm.outcomeBuckets().reduce((sum, b) => sum + b.failed, 0);
    expect(h.ok(finish(2, false, "replica web-3 missed its deadline"))).toMatchObject({ state: "failed" });
    expect(h.fsm.outcomeBuckets().reduce((sum, b) => sum + b.failed, 0)).toBe(failedBefore + 1);
    expect(h.fsm.getDeployment("web")?.lastOutcome).toMatchObject({ kind: "rollout", succeeded: false });
    expect(h.fsm.getDeploymentRecord("web")?.history[1].outcome).toBe("failed");
    expect(h.fsm.events({ deployment: "web", limit: 1 })[0].message).toBe(
      "rollout of web to v2 failed: replica web-3 missed its deadline",
    );
  });

  it("reverts to the last version that rolled out, as a new version, keeping its replicas", () => {
    const h = running();
    h.ok(body.deploy({ image: "nginx:2", update: update({ canary: 1 }) }), client(2));
    h.ok(step(2, 0, 1));
    expect(h.fsm.getDeploymentRecord("web")?.rollout?.state).toBe("awaiting-promotion");
    expect(
      h.ok({ kind: "rollout-revert", rolloutRevert: { deployment: "web", toVersion: 2, reason: "canary unhealthy" } }),
    ).toEqual({ kind: "rollout-revert", deployment: "web", failedVersion: 2, revertedTo: 1, version: 3 });
    const record = h.fsm.getDeploymentRecord("web")!;
    expect(record.rollout).toMatchObject({ toVersion: 3, isRevert: true, promoted: true, state: "running" });
    expect(record.history[2]).toMatchObject({
      reason: "auto-revert to v1 after: canary unhealthy",
      actor: "rollout-controller",
    });
    expect(versions(h)).toEqual(["web-0:v3:running", "web-1:v3:running", "web-2:v3:running", "web-3:v2:running"]);
    // A revert is not reverted.
    expect(
      h.fail({ kind: "rollout-revert", rolloutRevert: { deployment: "web", toVersion: 3, reason: "again" } }).message,
    ).toContain("is itself a revert");
    h.ok(step(3, 0, 0, ["web-3"]));
    h.ok(body.status("web-3", "n1", ContainerState.CONTAINER_STATE_STOPPED));
    expect(h.ok(finish(3, true))).toMatchObject({ state: "reverted" });
  });

  it("promotes a canary phase only", () => {
    const h = running();
    h.ok(body.deploy({ image: "nginx:2" }), client(2));
    const promote: CommandBody = { kind: "rollout-promote", rolloutPromote: { deployment: "web", actor: "bob" } };
    expect(h.fail(promote).message).toContain("has no canary phase to promote");
  });

  it("lets an operator's pause outrank the burn-rate gate's", () => {
    const h = running();
    h.ok(body.deploy({ image: "nginx:2" }), client(2));
    h.ok(pause(RolloutPauser.ROLLOUT_PAUSER_BURN_RATE, "burn rate 20 over 5m"));
    expect(h.fsm.getDeploymentRecord("web")?.rollout).toMatchObject({ state: "paused", pausedBy: "burn-rate" });
    expect(h.fail(step(2, 0, 1)).message).toContain("is paused; no step is taken");
    h.ok(pause(RolloutPauser.ROLLOUT_PAUSER_OPERATOR));
    expect(h.ok(resume(RolloutPauser.ROLLOUT_PAUSER_BURN_RATE))).toMatchObject({ changed: false, state: "paused" });
    expect(h.ok(resume(RolloutPauser.ROLLOUT_PAUSER_OPERATOR))).toMatchObject({ changed: true, state: "running" });
    expect(h.fsm.getDeploymentRecord("web")?.rollout?.lastProgressAtMs).toBe(h.atMs);
  });
});

describe("scaling and node loss during a rollout", () => {
  it("a scale-down sheds old replicas first, and never leaves more of the new version than wanted", () => {
    const h = running();
    h.ok(body.deploy({ image: "nginx:2" }), client(2));
    h.ok(step(2, 0, 1));
    h.ok(body.plan("web", [["web-3", "n1"]], { version: 2 }));
    h.ok(body.scale("web", 1));
    // Two fewer: two old ones go; the last old one goes when the rollout's new replica counts.
    expect(versions(h)).toEqual(["web-0:v1:running", "web-1:v1:stopped", "web-2:v1:stopped", "web-3:v2:running"]);
    // The scale joined the rollout's operation instead of superseding it.
    expect(h.fsm.openOperation("web")?.kind).toBe("rollout");
    h.ok(body.scale("web", 3));
    expect(versions(h).filter((v) => v.endsWith(":running"))).toEqual([
      "web-0:v1:running",
      "web-3:v2:running",
      "web-4:v2:running",
      "web-5:v2:running",
    ]);
  });

  it("replaces a lost replica only while the new version runs fewer than wanted", () => {
    const h = running();
    h.ok(body.register("n2", "us-east-1", 16_000, 16_384));
    h.ok(body.deploy({ image: "nginx:2" }), client(2));
    h.ok(step(2, 0, 1));
    h.ok(body.plan("web", [["web-3", "n2"]], { version: 2 }));
    // n1 holds the three old replicas: one new one runs, so two replacements (of v2) are due.
    expect(h.ok(body.nodeDown("n1", "silent"))).toMatchObject({ lost: 3, rescheduled: 2 });
    expect(versions(h).filter((v) => v.endsWith(":running"))).toEqual([
      "web-3:v2:running",
      "web-4:v2:running",
      "web-5:v2:running",
    ]);
  });
});

describe("health and snapshots", () => {
  it("records since when a container is healthy, and forgets it when it is not", () => {
    const h = running();
    const since = h.fsm.getContainer("web-0")!.healthySinceMs;
    expect(since).toBeGreaterThan(0);
    h.ok(body.health("web-0", HealthState.HEALTH_STATE_UNHEALTHY));
    expect(h.fsm.getContainer("web-0")!.healthySinceMs).toBe(0);
    h.ok(body.health("web-0", HealthState.HEALTH_STATE_HEALTHY));
    expect(h.fsm.getContainer("web-0")!.healthySinceMs).toBe(h.atMs);
    expect(h.fsm.getContainer("web-0")!.placedAtMs).toBeGreaterThan(0);
  });

  it("keeps versions, rollouts and health times through a snapshot", () => {
    const h = running();
    h.ok(body.deploy({ image: "nginx:2", update: update({ maxSurge: 0 }) }), client(2));
    h.ok(step(2, 0, 1, ["web-0"]));
    h.ok(pause(RolloutPauser.ROLLOUT_PAUSER_BURN_RATE, "burning"));
    const restored = new ClusterFsm();
    const bytes = h.fsm.snapshot();
    restored.restore(bytes);
    restored.checkInvariants();
    expect(restored.dumpState()).toEqual(h.fsm.dumpState());
    expect(restored.snapshot()).toEqual(bytes);
    expect(restored.getDeploymentRecord("web")?.rollout).toMatchObject({ state: "paused", pausedBy: "burn-rate" });
    expect(restored.getDeploymentRecord("web")?.history.length).toBe(2);
    expect(restored.getContainer("web-0")?.healthySinceMs).toBe(h.fsm.getContainer("web-0")?.healthySinceMs);
  });

  it("does not place a pending replica of an older version", () => {
    const h = new Harness();
    h.ok(body.register("n1", "us-east-1", 16_000, 16_384));
    h.ok(body.deploy({ replicas: 1 }));
    h.ok(body.deploy({ replicas: 1, image: "nginx:2" }));
    expect(h.ok(body.plan("web", [["web-0", "n1"]], { version: 2 }))).toMatchObject({
      placed: 0,
      rejections: [{ reason: "deployment-version-changed", count: 1 }],
    });
  });
});
