/**
 * The rollout core's own shapes (it may not import the FSM): the update policy and the rollout
 * as the leader's rollout controller reads them from the FSM, and the decisions it returns.
 */

/** The deployment's update policy (src/fsm UpdatePolicySpec, with its defaults filled in). */
export interface UpdatePolicy {
  /** Replacements in flight at once; healthy replicas never drop below replicas - maxParallel. */
  readonly maxParallel: number;
  /** Replicas started beyond `replicas` while old ones still run. */
  readonly maxSurge: number;
  /** A new replica counts once healthy this long. */
  readonly minHealthyTimeMs: number;
  /** A new replica must count within this long of its placement. */
  readonly healthyDeadlineMs: number;
  /** The rollout fails after this long without progress. */
  readonly progressDeadlineMs: number;
  readonly canary: number;
  readonly autoRevert: boolean;
}

export type RolloutState = "running" | "paused" | "awaiting-promotion" | "succeeded" | "failed" | "reverted";

/** The rollout record's fields the decision needs. */
export interface RolloutProgress {
  readonly toVersion: number;
  readonly state: RolloutState;
  readonly isRevert: boolean;
  /** The canary phase is over. */
  readonly promoted: boolean;
  /** The number the next step must carry. */
  readonly stepSeq: number;
  readonly lastProgressAtMs: number;
  /** Who paused it, '' unless paused. */
  readonly pausedBy: string;
}

/** Where the rollout goes next. The controller proposes the matching FSM command. */
export type RolloutDecision =
  /** Nothing to do now (replicas are starting, counting their healthy time, or it is paused). */
  | { readonly kind: "wait"; readonly reason: string }
  /** RolloutStep: start `startCount` new replicas, stop the old ones listed. */
  | {
      readonly kind: "step";
      readonly toVersion: number;
      readonly stepSeq: number;
      readonly startCount: number;
      readonly stopIds: readonly string[];
      readonly reason: string;
    }
  /** The canaries run; an operator promotes (nothing to propose). */
  | { readonly kind: "await-promotion"; readonly canariesReady: number; readonly canary: number }
  /** RolloutFinish succeeded. */
  | { readonly kind: "succeed"; readonly toVersion: number; readonly reason: string }
  /** RolloutFinish failed. */
  | { readonly kind: "fail"; readonly toVersion: number; readonly reason: string }
  /** RolloutRevert: back to `revertTo`, the last version that rolled out. */
  | { readonly kind: "revert"; readonly toVersion: number; readonly revertTo: number; readonly reason: string };

export type RolloutDecisionKind = RolloutDecision["kind"];
