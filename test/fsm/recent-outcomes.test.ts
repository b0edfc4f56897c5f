/**
 * Each deployment's recent operation outcomes (the input of its own burn rate, which gates its
 * rollouts): kept in order, bounded, in the snapshot, and the burn rate computed from them.
 */
import { describe, expect, it } from "vitest";
import { ClusterFsm, fsmLimits } from "../../src/fsm/index.js";
import { recentBurnRate, rolloutBurnWindowMs } from "../../src/fsm/slo.js";
import { Harness, body, spec } from "./helpers.js";

describe("per-deployment recent outcomes", () => {
  it("records each closed operation with its time, keeps the newest within the bound, and survives a snapshot", () => {
    const h = new Harness();
    h.ok(body.register("n1"));
    h.ok({ kind: "deploy", deploy: { spec: spec({ replicas: 1 }) } });
    const closed: boolean[] = [];
    for (let i = 0; i < fsmLimits.recentOutcomesKeptMax + 5; i++) {
      const op = h.fsm.openOperation("web");
      expect(op).toBeDefined();
      const succeeded = i % 3 !== 0;
      h.ok(body.outcome(op?.id ?? "", succeeded));
      closed.push(succeeded);
      h.ok(body.scale("web", i % 2 === 0 ? 2 : 1));
    }
    const record = h.fsm.getDeploymentRecord("web");
    expect(record?.recentOutcomes).toHaveLength(fsmLimits.recentOutcomesKeptMax);
    expect(record?.recentOutcomes.map((o) => o.succeeded)).toEqual(closed.slice(-fsmLimits.recentOutcomesKeptMax));
    const times = record?.recentOutcomes.map((o) => o.atMs) ?? [];
    expect([...times].sort((a, b) => a - b)).toEqual(times);

    const restored = new ClusterFsm();
    restored.restore(h.fsm.snapshot());
    expect(restored.getDeploymentRecord("web")?.recentOutcomes).toEqual(record?.recentOutcomes);
  });

  it("burn rate: error ratio over the budget within the window, 0 without outcomes", () => {
    const now = 10_000_000;
    expect(recentBurnRate([], now)).toBe(0);
    const outcomes = [
      { atMs: now - rolloutBurnWindowMs, succeeded: false }, // just outside the window
      { atMs: now - 1_000, succeeded: true },
      { atMs: now - 500, succeeded: true },
      { atMs: now - 100, succeeded: true },
      { atMs: now + 1_000, succeeded: false }, // a later clock's: not counted yet
    ];
    expect(recentBurnRate(outcomes, now)).toBe(0);
    const burning = [...outcomes, { atMs: now, succeeded: false }];
    // 1 failed of 4, over a 0.0001 budget.
    expect(recentBurnRate(burning, now)).toBeCloseTo(0.25 / 0.0001, 6);
  });
});
