import { assert, assertNever } from "../../lib/assert.js";
import { countReplicas, type ReplicaCounts } from "./count-replicas.js";
import { planRolloutStep } from "./plan-rollout-step.js";
import type { RolloutDecision } from "./rollout-policy.js";
import type { RolloutView } from "./rollout-view.js";

/**
 * The rollout controller's decision for one deployment at `nowMs` (leader time). Pure: the same
 * view and time give the same decision, so a new leader reading the same state continues the
 * same rollout, and the step counter in the decision makes the FSM apply each step once.
 *
 * In order: a rollout that is not running waits (paused: the operator's or the burn-rate gate's
 * call). One whose replicas are all of the new version and count succeeds, even past a deadline:
 * it is done. A failure (a new replica past its healthy deadline, or no progress within the
 * progress deadline) fails it, or reverts it with auto_revert when a version rolled out before
 * and this is not itself a revert (a revert is never reverted: that could loop). Awaiting
 * promotion with canaries that count waits for an operator, with no deadline. Otherwise the
 * canary phase starts the canaries, and the main phase steps (plan-rollout-step.ts).
 */
export function decideRollout(view: RolloutView, nowMs: number): RolloutDecision {
  const { rollout, policy } = view;
  assert(Number.isFinite(nowMs), "time must be finite");
  switch (rollout.state) {
    case "succeeded":
    case "failed":
    case "reverted":
      return { kind: "wait", reason: `the rollout ${rollout.state}` };
    case "paused":
      return { kind: "wait", reason: `paused by ${rollout.pausedBy || "an operator"}` };
    case "running":
    case "awaiting-promotion":
      break;
    default:
      return assertNever(rollout.state, "rollout state");
  }
  const counts = countReplicas(view, nowMs);
  const canary = Math.min(policy.canary, view.replicas);
  const canariesReady = rollout.state === "awaiting-promotion" && counts.ready >= canary;
  if (counts.old.length === 0 && counts.current === view.replicas && counts.ready === view.replicas)
    return {
      kind: "succeed",
      toVersion: rollout.toVersion,
      reason: `all ${view.replicas} replicas of v${rollout.toVersion} healthy`,
    };
  const failure = failureOf(view, counts, nowMs, canariesReady);
  if (failure !== null) {
    const revertTo = view.stableVersion;
    if (policy.autoRevert && !rollout.isRevert && revertTo !== 0 && revertTo !== rollout.toVersion)
      return { kind: "revert", toVersion: rollout.toVersion, revertTo, reason: failure };
    return { kind: "fail", toVersion: rollout.toVersion, reason: failure };
  }
  if (rollout.state === "awaiting-promotion") return { kind: "await-promotion", canariesReady: counts.ready, canary };
  if (!rollout.promoted) {
    // The step that starts the last canaries moves the rollout to awaiting promotion.
    return {
      kind: "step",
      toVersion: rollout.toVersion,
      stepSeq: rollout.stepSeq,
      startCount: Math.max(0, canary - counts.current),
      stopIds: [],
      reason: `canary: ${canary} of v${rollout.toVersion} beside the old replicas`,
    };
  }
  return planRolloutStep(view, counts) ?? { kind: "wait", reason: waitReason(view, counts) };
}

function failureOf(view: RolloutView, counts: ReplicaCounts, nowMs: number, canariesReady: boolean): string | null {
  const { policy, rollout } = view;
  if (counts.late !== null) {
    const late = counts.late;
    return `replica ${late.id} of v${rollout.toVersion} not healthy for ${policy.minHealthyTimeMs} ms within ${policy.healthyDeadlineMs} ms of its placement (${late.state}, ${late.health})`;
  }
  // Waiting for an operator to promote healthy canaries is not a lack of progress.
  if (canariesReady) return null;
  if (nowMs >= rollout.lastProgressAtMs + policy.progressDeadlineMs) {
    const unplaced = counts.unplaced > 0 ? `, ${counts.unplaced} not placed` : "";
    return `no progress for ${policy.progressDeadlineMs} ms: ${counts.ready}/${view.replicas} of v${rollout.toVersion} ready, ${counts.old.length} old${unplaced}`;
  }
  return null;
}

function waitReason(view: RolloutView, counts: ReplicaCounts): string {
  if (counts.inFlight > 0) return `${counts.inFlight} new replicas of v${view.rollout.toVersion} not counted yet`;
  return `waiting: ${counts.ready}/${view.replicas} ready, ${counts.old.length} old`;
}
