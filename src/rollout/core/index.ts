/**
 * The pure rollout core (issue 12): from a deployment's policy, rollout record and containers,
 * the next decision of the leader's rollout controller. No IO, no clock: `nowMs` is an argument.
 * Pipeline: rollout-view (the input) -> count-replicas -> decide-rollout (failures, success,
 * canary) -> plan-rollout-step (the health-gated step).
 */
export { burnRateGate, type BurnRateGate } from "./burn-rate-gate.js";
export { countReplicas, isHealthy, isReady, type ReplicaCounts } from "./count-replicas.js";
export { decideRollout } from "./decide-rollout.js";
export { nextReadyAtMs } from "./next-ready-at.js";
export { planRolloutStep } from "./plan-rollout-step.js";
export type {
  RolloutDecision,
  RolloutDecisionKind,
  RolloutProgress,
  RolloutState,
  UpdatePolicy,
} from "./rollout-policy.js";
export type { ReplicaState, ReplicaView, RolloutView } from "./rollout-view.js";
