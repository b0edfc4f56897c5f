import * as grpc from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { sloApiLimits } from "../../src/api/slo-handlers.js";
import { callError, FixedClock, FsmFeeder, minuteStartMs, serve, stubNode, type ServedService } from "./harness.js";

/**
 * GetSlo over the real service: the FSM is fed deploy/scale commands (each opens an operation)
 * and OperationOutcome commands (each closes one into its minute's bucket), and the answer is
 * checked against the numbers the objective implies.
 */

const running: ServedService[] = [];
afterEach(() => {
  for (const service of running.splice(0)) service.stop();
});

async function start(feeder: FsmFeeder, nowMs: number, stub = stubNode()) {
  const service = await serve(feeder.fsm, stub, { clock: new FixedClock(nowMs) });
  running.push(service);
  return { service, stub };
}

const byName = <T extends { name: string }>(windows: readonly T[]) =>
  Object.fromEntries(windows.map((w) => [w.name, w]));

describe("GetSlo", () => {
  it("9,999 successes and 1 failure in the last 5 minutes: 0.9999 everywhere, burn rate 1, no budget left", async () => {
    const feeder = new FsmFeeder();
    const nowMs = minuteStartMs + 30_000;
    // 10,000 operations within the 100 s before now: a deploy, then scales 1 <-> 2, each judged.
    let atMs = nowMs - 100_000;
    const step = () => (atMs += 5);
    feeder.outcome(feeder.deploy("web", step()), true, step());
    for (let i = 1; i < 10_000; i += 1) {
      const operation = feeder.scale("web", i % 2 === 1 ? 2 : 1, step());
      feeder.outcome(operation, i !== 5_000, step(), i === 5_000 ? "1 of 2 replicas unhealthy at the deadline" : "");
    }
    expect(atMs).toBeLessThanOrEqual(nowMs);
    const { service, stub } = await start(feeder, nowMs);

    const slo = await service.getSlo({});
    expect(stub.reads).toBe(1); // linearizable by default
    expect(slo.objective).toBe(0.9999);
    expect(slo.windows.map((w) => w.name)).toEqual(["5m", "1h", "30d"]);
    for (const window of slo.windows) {
      expect(window).toMatchObject({ succeeded: 9_999, failed: 1, successRatio: 0.9999, burnRate: 1 });
    }
    expect(byName(slo.windows)["30d"].minutes).toBe(43_200);
    expect(slo.errorBudgetAllowedFailures).toBe(1);
    expect(slo.errorBudgetFailed).toBe(1);
    expect(slo.errorBudgetConsumedRatio).toBe(1);
    expect(slo.errorBudgetRemainingRatio).toBe(0);
    expect(slo.nowMs).toBe(nowMs);
    expect(slo.revision).toBe(feeder.index);
    expect(slo.replicaId).toBe("r1");
    expect(slo.openOperations).toEqual([]);
    expect(slo.recentOutcomesTotal).toBe(1);
    expect(slo.recentOutcomes[0].deployment).toBe("web");
    expect(slo.recentOutcomes[0].lastOutcome).toMatchObject({ kind: "scale", finished: true, succeeded: true });
  });

  it("counts each outcome in the windows that hold its minute, at the replica's clock", async () => {
    const feeder = new FsmFeeder();
    const nowMs = minuteStartMs + 59_000;
    const hour = 3_600_000;
    feeder.outcome(feeder.deploy("a", nowMs - 3 * hour), true, nowMs - 2 * hour); // 30d only
    feeder.outcome(feeder.scale("a", 2, nowMs - 31 * 60_000), false, nowMs - 30 * 60_000, "deadline passed"); // 1h and 30d
    feeder.outcome(feeder.scale("a", 3, nowMs - 70_000), true, nowMs - 60_000); // all three
    feeder.outcome(feeder.deploy("b", nowMs - 10_000), true, nowMs - 1_000); // all three
    const open = feeder.scale("b", 4, nowMs - 5_000); // still open
    feeder.deploy("c", nowMs - 2_000); // still open, never finished
    const { service } = await start(feeder, nowMs);

    const slo = await service.getSlo({ stale: true });
    const windows = byName(slo.windows);
    expect(windows["5m"]).toMatchObject({ succeeded: 2, failed: 0, successRatio: 1, burnRate: 0 });
    expect(windows["1h"]).toMatchObject({ succeeded: 2, failed: 1 });
    expect(windows["1h"].successRatio).toBeCloseTo(2 / 3, 12);
    expect(windows["1h"].burnRate).toBeCloseTo(1 / 3 / 0.0001, 6);
    expect(windows["30d"]).toMatchObject({ succeeded: 3, failed: 1, successRatio: 0.75 });
    // 4 operations allow 0.0004 failures: one failure overspends the budget 2,500 times.
    expect(slo.errorBudgetAllowedFailures).toBeCloseTo(0.0004, 12);
    expect(slo.errorBudgetConsumedRatio).toBeCloseTo(2_500, 6);
    expect(slo.errorBudgetRemainingRatio).toBe(0);
    expect(slo.openOperations).toEqual([
      { deployment: "b", id: open, kind: "scale", startedAtMs: nowMs - 5_000, deadlineAtMs: nowMs - 5_000 + 60_000 },
      {
        deployment: "c",
        id: `c-${feeder.index}`,
        kind: "deploy",
        startedAtMs: nowMs - 2_000,
        deadlineAtMs: nowMs - 2_000 + 60_000,
      },
    ]);
    // Last outcome per deployment, most recently finished first; c has none.
    expect(slo.recentOutcomesTotal).toBe(2);
    expect(
      slo.recentOutcomes.map((o) => [
        o.deployment,
        o.lastOutcome?.kind,
        o.lastOutcome?.succeeded,
        o.lastOutcome?.finishedAtMs,
      ]),
    ).toEqual([
      ["b", "deploy", true, nowMs - 1_000],
      ["a", "scale", true, nowMs - 60_000],
    ]);

    // An hour later the 5 m and 1 h windows are empty (ratio 1, burn 0); 30 d still holds everything.
    const later = await start(feeder, nowMs + 2 * hour);
    const afterwards = byName((await later.service.getSlo({ stale: true })).windows);
    expect(afterwards["5m"]).toMatchObject({ succeeded: 0, failed: 0, successRatio: 1, burnRate: 0 });
    expect(afterwards["1h"]).toMatchObject({ succeeded: 0, failed: 0, successRatio: 1, burnRate: 0 });
    expect(afterwards["30d"]).toMatchObject({ succeeded: 3, failed: 1 });
  });

  it("with no operations: every ratio 1, burn rate 0, the whole budget left", async () => {
    const feeder = new FsmFeeder();
    const { service } = await start(feeder, minuteStartMs);
    const slo = await service.getSlo({});
    for (const window of slo.windows)
      expect(window).toMatchObject({ succeeded: 0, failed: 0, successRatio: 1, burnRate: 0 });
    expect(slo.errorBudgetRemainingRatio).toBe(1);
    expect(slo.errorBudgetAllowedFailures).toBe(0);
    expect(slo.errorBudgetConsumedRatio).toBe(0);
    expect(slo.recentOutcomes).toEqual([]);
  });

  it("bounds the recent outcomes and reports how many there were", async () => {
    const feeder = new FsmFeeder();
    const nowMs = minuteStartMs;
    const count = sloApiLimits.recentOutcomesMax + 5;
    for (let i = 0; i < count; i += 1)
      feeder.outcome(feeder.deploy(`d${i}`, nowMs - 10_000 + i), true, nowMs - 5_000 + i);
    const { service } = await start(feeder, nowMs);
    const slo = await service.getSlo({ stale: true });
    expect(slo.recentOutcomesTotal).toBe(count);
    expect(slo.recentOutcomes).toHaveLength(sloApiLimits.recentOutcomesMax);
    expect(slo.recentOutcomes[0].deployment).toBe(`d${count - 1}`);
  });

  it("stale reads skip the ReadIndex barrier; a follower refuses linearizable ones with the leader's address", async () => {
    const feeder = new FsmFeeder();
    const stub = stubNode("r3", "127.0.0.1:50052");
    stub.leader = false;
    const { service } = await start(feeder, minuteStartMs, stub);
    const stale = await service.getSlo({ stale: true });
    expect(stale.replicaId).toBe("r3");
    expect(stub.reads).toBe(0);
    const error = await callError(service.getSlo({ stale: false }));
    expect(error.code).toBe(grpc.status.UNAVAILABLE);
    expect(error.metadata.get("x-leader-id")).toEqual(["r2"]);
    expect(error.metadata.get("x-leader-address")).toEqual(["127.0.0.1:50052"]);
    expect(stub.reads).toBe(1);
  });
});
