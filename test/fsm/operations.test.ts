import { describe, expect, it } from "vitest";
import { OutcomeBuckets } from "../../src/fsm/outcome-buckets.js";
import { deploymentToProto, fsmLimits } from "../../src/fsm/index.js";
import { body, ContainerState, Harness, t0 } from "./helpers.js";

const S = ContainerState;
const minuteMs = 60_000;

/** n1 ready; web deployed (revision 2) with 2 replicas running on n1. */
function cluster(): Harness {
  const h = new Harness();
  h.ok(body.register("n1"));
  h.ok(body.deploy({ replicas: 2, progressDeadlineMs: 30_000 }));
  h.ok(
    body.plan("web", [
      ["web-0", "n1"],
      ["web-1", "n1"],
    ]),
  );
  h.ok(body.status("web-0", "n1", S.CONTAINER_STATE_RUNNING));
  h.ok(body.status("web-1", "n1", S.CONTAINER_STATE_RUNNING));
  return h;
}

describe("operations", () => {
  it("a deploy opens one, with a deterministic id and the progress deadline", () => {
    const h = cluster();
    const opened = t0 + 2000;
    expect(h.fsm.openOperations()).toEqual([
      {
        id: "web-2",
        deployment: "web",
        kind: "deploy",
        startedAtMs: opened,
        deadlineAtMs: opened + 30_000,
        startedRevision: 2,
      },
    ]);
    expect(h.fsm.openOperation("web")?.id).toBe("web-2");
    expect(h.fsm.getDeployment("web")).toMatchObject({ openOperation: { id: "web-2" }, lastOutcome: null });
    // An identical re-deploy changes nothing, so it opens nothing.
    h.ok(body.deploy({ replicas: 2, progressDeadlineMs: 30_000 }));
    expect(h.fsm.openOperations().map((o) => o.id)).toEqual(["web-2"]);
  });

  it("closes with an outcome, once, counting it in its minute", () => {
    const h = cluster();
    h.atMs = 1_700_000_100_000 - 1000; // the next entry is stamped 1_700_000_100_000
    expect(h.ok(body.outcome("web-2", true, "2/2 healthy"))).toEqual({
      kind: "operation-outcome",
      operationId: "web-2",
      recorded: true,
    });
    expect(h.fsm.openOperations()).toEqual([]);
    expect(h.fsm.outcomeBuckets()).toEqual([
      { minute: Math.floor(1_700_000_100_000 / minuteMs), succeeded: 1, failed: 0 },
    ]);
    const lastOutcome = {
      operationId: "web-2",
      kind: "deploy",
      succeeded: true,
      reason: "2/2 healthy",
      startedAtMs: t0 + 2000,
      deadlineAtMs: t0 + 32_000,
      finishedAtMs: 1_700_000_100_000,
    };
    expect(h.fsm.getDeployment("web")).toMatchObject({ openOperation: null, lastOutcome });
    expect(h.fsm.events({ limit: 1 })[0]).toMatchObject({
      kind: "operation-succeeded",
      deployment: "web",
      message: "deploy operation web-2 succeeded after 98s: 2/2 healthy",
    });
    // Idempotent: a new leader repeating the verdict changes nothing.
    const before = h.fsm.dumpState();
    expect(h.ok(body.outcome("web-2", false, "late"))).toEqual({
      kind: "operation-outcome",
      operationId: "web-2",
      recorded: false,
    });
    expect({ ...h.fsm.dumpState(), revision: 0 }).toEqual({ ...before, revision: 0 });
    expect(h.ok(body.outcome("nope-7", true))).toMatchObject({ recorded: false });
    expect(h.fail(body.outcome("", true)).code).toBe("INVALID_ARGUMENT");
    expect(h.fail(body.outcome("x".repeat(fsmLimits.operationIdLengthMax + 1), true)).code).toBe("INVALID_ARGUMENT");
  });

  it("closes several in one command, refusing the whole batch if one verdict is invalid", () => {
    const h = cluster();
    h.ok(body.deploy({ name: "api", replicas: 0, progressDeadlineMs: 30_000 }));
    expect(h.fsm.openOperations().map((o) => o.id)).toEqual(["web-2", "api-6"]);
    const outcomes = (list: Array<[string, boolean]>): Parameters<typeof h.ok>[0] => ({
      kind: "operation-outcomes",
      operationOutcomes: { outcomes: list.map(([operationId, succeeded]) => ({ operationId, succeeded, reason: "" })) },
    });
    const before = h.fsm.dumpState();
    expect(
      h.fail(
        outcomes([
          ["web-2", true],
          ["", true],
        ]),
      ).code,
    ).toBe("INVALID_ARGUMENT");
    expect(h.fail(outcomes([])).code).toBe("INVALID_ARGUMENT");
    const tooMany = Array.from({ length: fsmLimits.outcomesPerCommandMax + 1 }, (_, i): [string, boolean] => [
      `x-${i}`,
      true,
    ]);
    expect(h.fail(outcomes(tooMany)).code).toBe("INVALID_ARGUMENT");
    expect({ ...h.fsm.dumpState(), revision: 0 }).toEqual({ ...before, revision: 0 });
    expect(
      h.ok(
        outcomes([
          ["web-2", true],
          ["api-6", false],
          ["gone-1", true],
        ]),
      ),
    ).toEqual({ kind: "operation-outcomes", recorded: 2, ignored: 1 });
    expect(h.fsm.openOperations()).toEqual([]);
    const [bucket] = h.fsm.outcomeBuckets();
    expect(bucket).toMatchObject({ succeeded: 1, failed: 1 });
  });

  it("a scale supersedes the open operation, which is dropped uncounted", () => {
    const h = cluster();
    h.ok(body.scale("web", 2)); // no change: nothing opens
    expect(h.fsm.openOperations().map((o) => o.id)).toEqual(["web-2"]);
    h.ok(body.scale("web", 3));
    expect(h.fsm.openOperations()).toMatchObject([{ id: "web-7", kind: "scale" }]);
    expect(h.ok(body.outcome("web-2", false))).toMatchObject({ recorded: false });
    expect(h.fsm.outcomeBuckets()).toEqual([]);
    h.ok(body.scale("web", 1));
    expect(h.fsm.openOperations()).toMatchObject([{ id: "web-9", kind: "scale" }]);
    h.ok(body.outcome("web-9", false, "deadline passed with 0/1 healthy"));
    expect(h.fsm.outcomeBuckets()).toMatchObject([{ succeeded: 0, failed: 1 }]);
    expect(h.fsm.getDeployment("web")?.lastOutcome).toMatchObject({
      operationId: "web-9",
      kind: "scale",
      succeeded: false,
    });
    expect(h.fsm.events({ limit: 1 })[0].kind).toBe("operation-failed");
  });

  it("a restart opens a replacement operation, or joins the open one", () => {
    const h = cluster();
    h.ok(body.restart("web-0"));
    expect(h.fsm.openOperations().map((o) => `${o.id} ${o.kind}`)).toEqual(["web-2 deploy"]);
    h.ok(body.outcome("web-2", true));
    h.ok(body.restart("web-1"));
    const replacement = h.fsm.openOperations();
    expect(replacement.map((o) => `${o.id} ${o.kind}`)).toEqual(["web-8 replacement"]);
    // A crash loop does not push its deadline out: later restarts join the open operation.
    h.ok(body.status("web-1", "n1", S.CONTAINER_STATE_RUNNING));
    h.ok(body.restart("web-1"));
    expect(h.fsm.openOperations()).toEqual(replacement);
  });

  it("a node going down opens a replacement operation per affected deployment", () => {
    const h = cluster();
    h.ok(body.register("n2", "eu-west-1"));
    h.ok(body.deploy({ name: "api", replicas: 1 }));
    h.ok(body.plan("api", [["api-0", "n1"]]));
    h.ok(body.outcome("web-2", true));
    h.ok(body.nodeDown("n1"));
    expect(h.fsm.openOperations().map((o) => `${o.id} ${o.kind}`)).toEqual(["api-7 deploy", "web-10 replacement"]);
  });

  it("a delete drops the deployment's open operation", () => {
    const h = cluster();
    h.ok(body.delete("web"));
    expect(h.fsm.openOperations()).toEqual([]);
    expect(h.ok(body.outcome("web-2", true))).toMatchObject({ recorded: false });
    expect(h.fsm.outcomeBuckets()).toEqual([]);
  });

  it("shows operations and the finer status counts through the API message", () => {
    const h = cluster();
    h.ok(body.restart("web-0"));
    h.ok(body.outcome("web-2", true, "ok"));
    h.ok(body.scale("web", 3));
    const message = deploymentToProto(h.fsm.getDeployment("web")!);
    expect(message.openOperation).toEqual({
      id: "web-8",
      kind: "scale",
      startedAtMs: t0 + 8000,
      deadlineAtMs: t0 + 38_000,
      finished: false,
      succeeded: false,
      reason: "",
      finishedAtMs: 0,
    });
    expect(message.lastOutcome).toMatchObject({
      id: "web-2",
      kind: "deploy",
      finished: true,
      succeeded: true,
      reason: "ok",
      finishedAtMs: t0 + 7000,
    });
    expect(message.status?.detail).toEqual({ starting: 0, restarting: 1, unhealthy: 0, lost: 0, stopping: 0 });
    expect(message.recentEvents.map((e) => e.kind)).toEqual([
      "scaled",
      "operation-succeeded",
      "restarted",
      "scheduled",
      "deployed",
    ]);
  });

  it("buckets outcomes per minute for 30 days", () => {
    const h = new Harness();
    h.ok(body.register("n1"));
    const outcomeAt = (atMs: number, succeeded: boolean): void => {
      h.ok(body.scale("web", h.fsm.getDeployment("web")!.deployment.spec.replicas === 1 ? 2 : 1));
      h.atMs = atMs - 1000;
      h.ok(body.outcome(h.fsm.openOperation("web")!.id, succeeded));
    };
    h.ok(body.deploy({ replicas: 1 }));
    const day0 = 1_700_000_000_000 - (1_700_000_000_000 % minuteMs);
    outcomeAt(day0, true);
    outcomeAt(day0 + 30_000, false);
    outcomeAt(day0 + 3 * minuteMs, true);
    // A new leader whose clock is a minute behind: the outcome lands in its own, earlier minute.
    outcomeAt(day0 + 2 * minuteMs, true);
    const m0 = day0 / minuteMs;
    expect(h.fsm.outcomeBuckets()).toEqual([
      { minute: m0, succeeded: 1, failed: 1 },
      { minute: m0 + 2, succeeded: 1, failed: 0 },
      { minute: m0 + 3, succeeded: 1, failed: 0 },
    ]);
    // 30 days after minute m0 + 2, minutes up to m0 + 2 have left the window.
    outcomeAt(day0 + (2 + fsmLimits.outcomeBucketsMax) * minuteMs, false);
    expect(h.fsm.outcomeBuckets()).toEqual([
      { minute: m0 + 3, succeeded: 1, failed: 0 },
      { minute: m0 + 2 + fsmLimits.outcomeBucketsMax, succeeded: 0, failed: 1 },
    ]);
    // An outcome older than the window is not counted (its deployment still remembers it).
    outcomeAt(day0, true);
    expect(h.fsm.outcomeBuckets().length).toBe(2);
    expect(h.fsm.getDeployment("web")?.lastOutcome).toMatchObject({ succeeded: true, finishedAtMs: day0 });
  });
});

describe("outcome buckets", () => {
  it("stay ordered, sparse and within their window", () => {
    const buckets = new OutcomeBuckets(3, minuteMs);
    expect(buckets.record(10 * minuteMs, true)).toBe(true);
    expect(buckets.record(12 * minuteMs + 59_999, false)).toBe(true);
    expect(buckets.record(11 * minuteMs, true)).toBe(true);
    expect(buckets.record(9 * minuteMs, true)).toBe(false);
    expect(buckets.values().map((b) => b.minute)).toEqual([10, 11, 12]);
    expect(buckets.record(13 * minuteMs, true)).toBe(true);
    expect(buckets.values().map((b) => b.minute)).toEqual([11, 12, 13]);
    expect(buckets.record(100 * minuteMs, true)).toBe(true);
    expect(buckets.values()).toEqual([{ minute: 100, succeeded: 1, failed: 0 }]);
    buckets.checkInvariants();
  });
});
