/**
 * Restart back-off: the ceilings double to the cap, the jitter stays in its documented bounds,
 * a seed replays the same delays, and a stable run resets the back-off.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BugIndicatingError } from "../../src/lib/assert.js";
import { Prng } from "../../src/lib/prng.js";
import { deploymentDefaults } from "../../src/fsm/limits.js";
import { healthLimits } from "../../src/health/core/limits.js";
import {
  nextRestart,
  restartCeilingMs,
  restartDefaults,
  restartJitterRatio,
  shouldReset,
  type RestartPolicy,
} from "../../src/health/core/restart-backoff.js";

const demo: RestartPolicy = { initialDelayMs: 1_000, factor: 2, maxDelayMs: 30_000, resetAfterMs: 60_000 };

/** Follows the back-off through `n` failures, each at the previous not-before time. */
function sequence(policy: RestartPolicy, seed: number, n: number, jitterRatio = restartJitterRatio): number[] {
  const prng = new Prng(seed);
  const delays: number[] = [];
  let step = 0;
  let now = 0;
  for (let i = 0; i < n; i++) {
    const d = nextRestart(step, now, policy, prng, jitterRatio);
    delays.push(d.delayMs);
    step = d.nextStep;
    now = d.notBeforeMs;
  }
  return delays;
}

describe("restart defaults", () => {
  it("match the FSM's deployment defaults, which fill unset restart-policy fields", () => {
    expect(restartDefaults).toEqual(deploymentDefaults.restartPolicy);
  });

  it("are equal jitter", () => {
    expect(restartJitterRatio).toBe(0.5);
  });
});

describe("restart back-off", () => {
  it("doubles the ceiling from the initial delay up to the cap: 1, 2, 4, 8, 16, 30, 30 s", () => {
    expect(sequence(demo, 1, 8, 0)).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]);
    expect([0, 1, 2, 3, 4, 5, 6].map((s) => restartCeilingMs(s, demo))).toEqual([
      1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000,
    ]);
  });

  it("stops growing the step once the cap is reached", () => {
    const prng = new Prng(7);
    expect(nextRestart(4, 0, demo, prng).nextStep).toBe(5);
    expect(nextRestart(5, 0, demo, prng).nextStep).toBe(5);
  });

  it("keeps the step within its limit when the factor never reaches the cap", () => {
    const flat = { ...demo, factor: 1 };
    const last = nextRestart(healthLimits.restartStepMax, 0, flat, new Prng(1));
    expect(last.nextStep).toBe(healthLimits.restartStepMax);
    expect(last.ceilingMs).toBe(1_000);
    expect(() => nextRestart(healthLimits.restartStepMax + 1, 0, flat, new Prng(1))).toThrow(BugIndicatingError);
  });

  it("jitters within (ceiling * (1 - j), ceiling], never 0, and not before now + delay", () => {
    const policyArb = fc
      .record({
        initialDelayMs: fc.integer({ min: 10, max: 10_000 }),
        factor: fc.double({ min: 1, max: 10, noNaN: true }),
        extraMs: fc.integer({ min: 0, max: 100_000 }),
      })
      .map(({ initialDelayMs, factor, extraMs }): RestartPolicy => ({
        initialDelayMs,
        factor,
        maxDelayMs: initialDelayMs + extraMs,
        resetAfterMs: 60_000,
      }));
    fc.assert(
      fc.property(
        policyArb,
        fc.integer({ min: 0, max: healthLimits.restartStepMax }),
        fc.integer({ min: 0, max: 2 ** 31 }),
        fc.integer({ min: 0, max: 2 ** 40 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (policy, step, seed, nowMs, jitterRatio) => {
          const d = nextRestart(step, nowMs, policy, new Prng(seed), jitterRatio);
          const x = Math.min(policy.maxDelayMs, Math.round(policy.initialDelayMs * policy.factor ** step));
          expect(d.ceilingMs).toBe(x);
          expect(d.delayMs).toBeLessThanOrEqual(x);
          expect(d.delayMs).toBeGreaterThanOrEqual(x * (1 - jitterRatio));
          expect(d.delayMs).toBeGreaterThan(0);
          expect(Number.isInteger(d.delayMs)).toBe(true);
          expect(d.notBeforeMs).toBe(nowMs + d.delayMs);
          expect(d.nextStep === step || d.nextStep === step + 1).toBe(true);
        },
      ),
    );
  });

  it("with equal jitter, each delay lies in [ceiling / 2, ceiling]", () => {
    for (let seed = 0; seed < 50; seed++) {
      sequence(demo, seed, 10).forEach((delay, i) => {
        const ceiling = Math.min(30_000, 1_000 * 2 ** i);
        expect(delay).toBeGreaterThanOrEqual(ceiling / 2);
        expect(delay).toBeLessThanOrEqual(ceiling);
      });
    }
  });

  it("replays the same delays for the same seed, and spreads them across seeds", () => {
    expect(sequence(demo, 42, 12)).toEqual(sequence(demo, 42, 12));
    const firsts = new Set(Array.from({ length: 20 }, (_, seed) => sequence(demo, seed, 1)[0]));
    expect(firsts.size).toBeGreaterThan(10);
  });

  it("asserts on an impossible policy", () => {
    expect(() => nextRestart(0, 0, { ...demo, maxDelayMs: 500 }, new Prng(1))).toThrow(BugIndicatingError);
    expect(() => nextRestart(0, 0, { ...demo, factor: 0.5 }, new Prng(1))).toThrow(BugIndicatingError);
    expect(() => nextRestart(0, 0, demo, new Prng(1), 1.5)).toThrow(BugIndicatingError);
  });
});

describe("back-off reset", () => {
  it("resets after running fine for resetAfterMs, not a millisecond before", () => {
    expect(shouldReset(10_000, 69_999, 60_000)).toBe(false);
    expect(shouldReset(10_000, 70_000, 60_000)).toBe(true);
  });

  it("does not reset when the start time lies ahead of now (another leader's clock)", () => {
    expect(shouldReset(10_000, 9_000, 0)).toBe(false);
    expect(shouldReset(10_000, 10_000, 0)).toBe(true);
  });

  it("makes the next failure start from the initial delay again", () => {
    const prng = new Prng(3);
    let step = 0;
    for (let i = 0; i < 6; i++) step = nextRestart(step, 0, demo, prng).nextStep;
    expect(restartCeilingMs(step, demo)).toBe(30_000);
    if (shouldReset(0, 60_000, demo.resetAfterMs)) step = 0;
    expect(nextRestart(step, 60_000, demo, prng, 0).delayMs).toBe(1_000);
  });
});
