import type { RolloutProgress } from "./rollout-policy.js";

/** What the error-budget gate does to a rollout now; null: nothing. */
export type BurnRateGate =
  { readonly kind: "pause"; readonly reason: string } | { readonly kind: "resume"; readonly reason: string } | null;

/**
 * The leader's half of the error-budget gate (issue 12, point 5): a running rollout pauses while
 * its deployment's own burn rate is above `thresholdBurnRate`, and a rollout the gate paused
 * resumes once the rate is back at or below it. A revert is never held back (it undoes the change
 * that burnt the budget, and the failed rollout it follows is itself a failure in the window).
 * An operator's pause is left alone: only the operator lifts it (the FSM enforces it too).
 */
export function burnRateGate(rollout: RolloutProgress, burnRate: number, thresholdBurnRate: number): BurnRateGate {
  const rate = burnRate.toFixed(1);
  if (rollout.state === "running" && !rollout.isRevert && burnRate > thresholdBurnRate)
    return { kind: "pause", reason: `burn rate ${rate} over the last 5 minutes is above ${thresholdBurnRate}` };
  if (
    rollout.state === "paused" &&
    rollout.pausedBy === "burn-rate" &&
    (burnRate <= thresholdBurnRate || rollout.isRevert)
  )
    return {
      kind: "resume",
      reason: `burn rate ${rate} over the last 5 minutes is back at or below ${thresholdBurnRate}`,
    };
  return null;
}
