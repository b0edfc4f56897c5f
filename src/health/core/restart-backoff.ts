import { assert } from "../../lib/assert.js";
import type { Prng } from "../../lib/prng.js";
import { healthLimits } from "./limits.js";

/**
 * When to restart a container that failed: exponential back-off with jitter, as Kubernetes'
 * CrashLoopBackOff (10 s doubling to 300 s, reset after 10 minutes of running fine) and Nomad's
 * restart stanza, scaled for the demo.
 *
 * The ceiling of step n is x(n) = min(maxDelayMs, round(initialDelayMs * factor^n)). The delay
 * drawn is uniform in (x(n) * (1 - jitterRatio), x(n)], integer milliseconds: with the default
 * jitterRatio 0.5 that is "equal jitter" (AWS architecture blog's name) - never longer than the
 * schedule, never shorter than half of it, so a crash loop slows down as promised while the
 * containers of a dead node do not all come back in the same millisecond. jitterRatio 1 is
 * "full jitter" (but never 0 ms), 0 no jitter.
 *
 * The leader draws the delay with a Prng seeded per decision and writes the delay and its
 * not-before time to the log, so a new leader continues the same back-off.
 */

/** The same fields as the FSM's RestartPolicySpec, already validated there. */
export interface RestartPolicy {
  /** The ceiling of the first delay (step 0). */
  readonly initialDelayMs: number;
  /** Each step multiplies the ceiling by this (FSM bounds: 1..10, not necessarily an integer). */
  readonly factor: number;
  /** The ceiling never exceeds this. */
  readonly maxDelayMs: number;
  /** Running this long without failing resets the back-off to step 0. */
  readonly resetAfterMs: number;
}

/**
 * Equal to the FSM's deploymentDefaults.restartPolicy (a test checks it), which fills unset
 * spec fields: half a second, doubling, capped at 30 s, reset after a minute of running fine.
 */
export const restartDefaults: RestartPolicy = Object.freeze({
  initialDelayMs: 500,
  factor: 2,
  maxDelayMs: 30_000,
  resetAfterMs: 60_000,
});

/** Equal jitter: a delay lies in (ceiling / 2, ceiling]. */
export const restartJitterRatio = 0.5;

export interface RestartDecision {
  /** How long to wait before the restart. Invariant: ceilingMs * (1 - jitterRatio) <= delayMs <= ceilingMs. */
  readonly delayMs: number;
  /** The ceiling of this step, before jitter. */
  readonly ceilingMs: number;
  /** Do not restart before this: nowMs + delayMs. */
  readonly notBeforeMs: number;
  /** The step to use for the next failure (it stops growing once the cap is reached). */
  readonly nextStep: number;
  /** A sentence for the log and the event ring. */
  readonly reason: string;
}

export function assertRestartPolicy(policy: RestartPolicy): void {
  assert(
    Number.isInteger(policy.initialDelayMs) && policy.initialDelayMs > 0,
    "restart initial delay must be a positive integer of ms",
  );
  assert(Number.isFinite(policy.factor) && policy.factor >= 1, "restart factor must be at least 1");
  assert(
    Number.isInteger(policy.maxDelayMs) && policy.maxDelayMs >= policy.initialDelayMs,
    "restart cap at least the initial delay",
  );
  assert(
    Number.isInteger(policy.resetAfterMs) && policy.resetAfterMs >= 0,
    "reset-after must be a non-negative integer of ms",
  );
}

/** The ceiling of a step, before jitter. */
export function restartCeilingMs(step: number, policy: RestartPolicy): number {
  assert(Number.isInteger(step) && step >= 0 && step <= healthLimits.restartStepMax, "restart step within its limit");
  return Math.min(policy.maxDelayMs, Math.round(policy.initialDelayMs * policy.factor ** step));
}

/** The restart decision for a container that failed at nowMs, at back-off step `step`. */
export function nextRestart(
  step: number,
  nowMs: number,
  policy: RestartPolicy,
  prng: Prng,
  jitterRatio = restartJitterRatio,
): RestartDecision {
  assertRestartPolicy(policy);
  assert(Number.isFinite(nowMs), "restart time must be finite");
  assert(jitterRatio >= 0 && jitterRatio <= 1, "jitter ratio in [0, 1]");
  const ceilingMs = restartCeilingMs(step, policy);
  // r in [0, 1) and the floor keep the delay in (ceiling * (1 - j), ceiling], and above 0 ms.
  const delayMs = ceilingMs - Math.floor(jitterRatio * ceilingMs * prng.nextFloat());
  assert(
    delayMs >= ceilingMs * (1 - jitterRatio) && delayMs <= ceilingMs && delayMs > 0,
    "restart delay within its jitter bounds",
  );
  const nextStep = ceilingMs >= policy.maxDelayMs ? step : Math.min(step + 1, healthLimits.restartStepMax);
  return {
    delayMs,
    ceilingMs,
    notBeforeMs: nowMs + delayMs,
    nextStep,
    reason: `restart ${step + 1} of the current back-off in ${delayMs} ms (ceiling ${ceilingMs} ms, cap ${policy.maxDelayMs} ms)`,
  };
}

/**
 * Has the container run fine long enough to start the back-off over? runningSinceMs may come
 * from a previous leader's clock through the log; if it lies ahead of nowMs (clock skew), the
 * container has not yet run for resetAfterMs, so the answer is no.
 */
export function shouldReset(runningSinceMs: number, nowMs: number, resetAfterMs: number): boolean {
  assert(Number.isFinite(runningSinceMs) && Number.isFinite(nowMs), "times must be finite");
  assert(resetAfterMs >= 0, "reset-after must not be negative");
  return nowMs - runningSinceMs >= resetAfterMs;
}
