/**
 * SLO accounting: known figures, burn-rate arithmetic, window edges, and a bounded bucket ring
 * that is plain, deterministic data.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BugIndicatingError } from "../../src/lib/assert.js";
import { fsmLimits } from "../../src/fsm/limits.js";
import {
  addOutcome,
  checkOutcomeRing,
  computeSlo,
  dropBefore,
  emptyOutcomeRing,
  errorBudgetFraction,
  isFastBurn,
  minuteOf,
  sloObjective,
  sloWindows,
  type OutcomeBucket,
} from "../../src/fsm/slo.js";

const minuteMs = 60_000;
const now = 1_000_000 * minuteMs + 30_000;
const nowMinute = 1_000_000;

function bucket(minute: number, succeeded: number, failed: number): OutcomeBucket {
  return { minute, succeeded, failed };
}

describe("SLO figures", () => {
  it("targets 99.99% over 5 minutes, 1 hour and 30 days", () => {
    expect(sloObjective).toBe(0.9999);
    expect(sloWindows.map((w) => [w.name, w.minutes])).toEqual([
      ["5m", 5],
      ["1h", 60],
      ["30d", 43_200],
    ]);
    expect(errorBudgetFraction(sloObjective)).toBe(0.0001);
  });

  it("1 failure in 10,000: ratio 0.9999, budget spent exactly, burn rate 1", () => {
    const report = computeSlo([bucket(nowMinute, 9_999, 1)], now);
    for (const w of ["5m", "1h", "30d"] as const) {
      expect(report.windows[w].total).toBe(10_000);
      expect(report.windows[w].successRatio).toBe(0.9999);
      expect(report.windows[w].burnRate).toBeCloseTo(1, 12);
    }
    expect(report.errorBudget.allowedFailures).toBeCloseTo(1, 12);
    expect(report.errorBudget.consumedRatio).toBeCloseTo(1, 12);
    expect(report.errorBudget.remainingRatio).toBe(0);
  });

  it("no operations: ratio 1, budget whole, no burn", () => {
    const report = computeSlo([], now);
    for (const w of ["5m", "1h", "30d"] as const) {
      expect(report.windows[w]).toMatchObject({ total: 0, successRatio: 1, errorRatio: 0, burnRate: 0 });
    }
    expect(report.errorBudget).toEqual({ allowedFailures: 0, failed: 0, consumedRatio: 0, remainingRatio: 1 });
  });

  it("half the budget spent leaves half; overspending clamps the remainder at 0", () => {
    const half = computeSlo([bucket(nowMinute - 100, 19_999, 1)], now);
    expect(half.errorBudget.remainingRatio).toBeCloseTo(0.5, 12);
    const over = computeSlo([bucket(nowMinute - 100, 9_997, 3)], now);
    expect(over.errorBudget.consumedRatio).toBeCloseTo(3, 12);
    expect(over.errorBudget.remainingRatio).toBe(0);
    const clean = computeSlo([bucket(nowMinute - 100, 5, 0)], now);
    expect(clean.errorBudget.remainingRatio).toBe(1);
  });

  it("computes burn rate as error ratio over error budget", () => {
    const report = computeSlo([bucket(nowMinute, 9, 1), bucket(nowMinute - 30, 990, 0)], now);
    expect(report.windows["5m"].errorRatio).toBe(0.1);
    expect(report.windows["5m"].burnRate).toBeCloseTo(1_000, 9);
    expect(report.windows["1h"].errorRatio).toBe(0.001);
    expect(report.windows["1h"].burnRate).toBeCloseTo(10, 9);
    expect(isFastBurn(report)).toBe(false);
    const burning = computeSlo([bucket(nowMinute, 99, 1), bucket(nowMinute - 30, 0, 1)], now);
    expect(burning.windows["1h"].burnRate).toBeGreaterThan(14.4);
    expect(isFastBurn(burning)).toBe(true);
  });

  it("cuts windows at their edges: the current minute and the w - 1 before it, nothing from the future", () => {
    const edges = [0, 4, 5, 59, 60, 43_199, 43_200].map((age, i) => bucket(nowMinute - age, 0, 2 ** i));
    const report = computeSlo([...edges, bucket(nowMinute + 1, 0, 1_000_000)], now);
    expect(report.windows["5m"].failed).toBe(1 + 2);
    expect(report.windows["1h"].failed).toBe(1 + 2 + 4 + 8);
    expect(report.windows["30d"].failed).toBe(1 + 2 + 4 + 8 + 16 + 32);
    expect(minuteOf(now)).toBe(nowMinute);
    expect(minuteOf(nowMinute * minuteMs - 1)).toBe(nowMinute - 1);
  });
});

describe("outcome ring", () => {
  it("merges outcomes of the same minute and keeps minutes in order whatever the arrival order", () => {
    const ring = emptyOutcomeRing();
    addOutcome(ring, 10, "succeeded");
    addOutcome(ring, 12, "failed");
    addOutcome(ring, 11, "succeeded", 3);
    addOutcome(ring, 10, "failed");
    expect(ring.buckets).toEqual([bucket(10, 1, 1), bucket(11, 3, 0), bucket(12, 0, 1)]);
    checkOutcomeRing(ring);
  });

  it("stays within 43,200 buckets, dropping the oldest minutes and outcomes too old to keep", () => {
    expect(fsmLimits.outcomeBucketsMax).toBe(43_200);
    const ring = emptyOutcomeRing();
    for (let minute = 0; minute < 50_000; minute++) addOutcome(ring, minute, minute % 7 === 0 ? "failed" : "succeeded");
    expect(ring.buckets).toHaveLength(43_200);
    expect(ring.buckets[0].minute).toBe(50_000 - 43_200);
    expect(addOutcome(ring, 50_000 - 43_201, "failed")).toBe(false);
    expect(addOutcome(ring, 50_000 - 43_200, "failed")).toBe(true);
    expect(ring.buckets).toHaveLength(43_200);
    // A jump far ahead empties the ring but the new bucket.
    addOutcome(ring, 1_000_000, "succeeded");
    expect(ring.buckets).toEqual([bucket(1_000_000, 1, 0)]);
    checkOutcomeRing(ring);
  });

  it("drops buckets before a minute on request", () => {
    const ring = emptyOutcomeRing();
    for (const m of [1, 2, 3, 4]) addOutcome(ring, m, "succeeded");
    dropBefore(ring, 3);
    expect(ring.buckets.map((b) => b.minute)).toEqual([3, 4]);
  });

  it("agrees with a plain per-minute tally and survives a JSON round trip unchanged (snapshots)", () => {
    const addArb = fc.record({
      minute: fc.integer({ min: 0, max: 120_000 }),
      failed: fc.boolean(),
      count: fc.integer({ min: 1, max: 5 }),
    });
    fc.assert(
      fc.property(fc.array(addArb, { maxLength: 150 }), (adds) => {
        const ring = emptyOutcomeRing();
        const tally = new Map<number, { succeeded: number; failed: number }>();
        let newest = -Infinity;
        for (const a of adds) {
          newest = Math.max(newest, a.minute);
          const kept = addOutcome(ring, a.minute, a.failed ? "failed" : "succeeded", a.count);
          expect(kept).toBe(a.minute > newest - fsmLimits.outcomeBucketsMax);
          if (kept) {
            const t = tally.get(a.minute) ?? { succeeded: 0, failed: 0 };
            if (a.failed) t.failed += a.count;
            else t.succeeded += a.count;
            tally.set(a.minute, t);
          }
        }
        checkOutcomeRing(ring);
        const expected = [...tally.entries()]
          .filter(([minute]) => minute > newest - fsmLimits.outcomeBucketsMax)
          .sort((x, y) => x[0] - y[0])
          .map(([minute, t]) => bucket(minute, t.succeeded, t.failed));
        expect(ring.buckets).toEqual(expected);
        const restored = JSON.parse(JSON.stringify(ring));
        checkOutcomeRing(restored);
        expect(restored).toEqual(ring);
        const at = (newest === -Infinity ? 0 : newest) * minuteMs;
        expect(computeSlo(restored.buckets, at)).toEqual(computeSlo(ring.buckets, at));
      }),
    );
  });

  it("asserts on malformed input and a malformed snapshot", () => {
    expect(() => addOutcome(emptyOutcomeRing(), -1, "failed")).toThrow(BugIndicatingError);
    expect(() => addOutcome(emptyOutcomeRing(), 1.5, "failed")).toThrow(BugIndicatingError);
    expect(() => addOutcome(emptyOutcomeRing(), 1, "failed", 0)).toThrow(BugIndicatingError);
    expect(() => checkOutcomeRing({ buckets: [bucket(2, 1, 0), bucket(1, 1, 0)] })).toThrow(BugIndicatingError);
    expect(() => checkOutcomeRing({ buckets: [bucket(0, 1, 0), bucket(43_200, 1, 0)] })).toThrow(BugIndicatingError);
    expect(() => errorBudgetFraction(1)).toThrow(BugIndicatingError);
  });
});
