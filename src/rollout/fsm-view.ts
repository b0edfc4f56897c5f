/**
 * The rollout core's edges on the FSM: the view of one deployment it decides on, and the FSM
 * command that records a decision. The leader's rollout controller is then a thin loop: read
 * rolloutViewOf, decideRollout, propose rolloutCommandOf.
 */
import { RolloutOutcome } from "../gen/orchestrator/v1/fsm.js";
import type { ClusterReadView, CommandBody } from "../fsm/index.js";
import { stableVersion, stalePlanReasonPrefix } from "../fsm/index.js";
import { assertNever } from "../lib/assert.js";
import type { RolloutDecision, RolloutView } from "./core/index.js";

/** The deployment's rollout as the core reads it; undefined without a deployment or a rollout. */
export function rolloutViewOf(fsm: ClusterReadView, name: string): RolloutView | undefined {
  const deployment = fsm.getDeploymentRecord(name);
  if (deployment === undefined || deployment.rollout === null) return undefined;
  const rollout = deployment.rollout;
  const containers = fsm.listContainers({ deployment: name, limit: Number.MAX_SAFE_INTEGER }).containers;
  return {
    deployment: name,
    replicas: deployment.spec.replicas,
    policy: deployment.spec.update,
    rollout: {
      toVersion: rollout.toVersion,
      state: rollout.state,
      isRevert: rollout.isRevert,
      promoted: rollout.promoted,
      stepSeq: rollout.stepSeq,
      lastProgressAtMs: rollout.lastProgressAtMs,
      pausedBy: rollout.pausedBy ?? "",
    },
    stableVersion: stableVersion(deployment, rollout.toVersion)?.version ?? 0,
    // Only the scheduler's "no node fits" counts: a stale plan refused at apply time is retried at
    // once, and must not lower the healthy floor (it once stopped healthy old replicas mid-rollout).
    placementBlocked:
      deployment.pendingReason !== "" &&
      !deployment.pendingReason.startsWith(stalePlanReasonPrefix) &&
      fsm.pendingCount(name) > 0,
    containers: containers.map((c) => ({
      id: c.id,
      ordinal: c.ordinal,
      version: c.version,
      desired: c.desired,
      state: c.state,
      health: c.health,
      healthySinceMs: c.healthySinceMs,
      placedAtMs: c.placedAtMs,
    })),
  };
}

/** The command recording `decision` for `deployment`; null for decisions that propose nothing. */
export function rolloutCommandOf(deployment: string, decision: RolloutDecision): CommandBody | null {
  switch (decision.kind) {
    case "wait":
    case "await-promotion":
      return null;
    case "step":
      return {
        kind: "rollout-step",
        rolloutStep: {
          deployment,
          toVersion: decision.toVersion,
          stepSeq: decision.stepSeq,
          startCount: decision.startCount,
          stopContainerIds: [...decision.stopIds],
          reason: decision.reason,
        },
      };
    case "succeed":
    case "fail":
      return {
        kind: "rollout-finish",
        rolloutFinish: {
          deployment,
          toVersion: decision.toVersion,
          outcome:
            decision.kind === "succeed"
              ? RolloutOutcome.ROLLOUT_OUTCOME_SUCCEEDED
              : RolloutOutcome.ROLLOUT_OUTCOME_FAILED,
          reason: decision.reason,
        },
      };
    case "revert":
      return {
        kind: "rollout-revert",
        rolloutRevert: { deployment, toVersion: decision.toVersion, reason: decision.reason },
      };
    default:
      return assertNever(decision, "rollout decision");
  }
}
