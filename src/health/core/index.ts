/**
 * The health core: pure policies the leader's health controller (src/health/io) drives. Files
 * follow the path of a failure: a probe's verdict (probe-state), a node's breaker
 * (breaker-policy), a restart's back-off (restart-backoff), a silent node (node-liveness), and
 * the bookkeeping of the objective (operation-tracker, slo). Pure: time and randomness are arguments.
 */
export { healthLimits } from "./limits.js";
export {
  assertProbeConfig,
  checkProbeInvariants,
  inFlightSeq,
  nextProbeAtMs,
  probeDefaults,
  probeDue,
  startProbing,
  stepProbe,
  type ProbeConfig,
  type ProbeEvent,
  type ProbePhase,
  type ProbeResult,
  type ProbeState,
  type ProbeStep,
  type ProbeVerdict,
  type VerdictTransition,
} from "./probe-state.js";
export {
  BreakerPolicy,
  assertBreakerConfig,
  breakerDefaults,
  type BreakerConfig,
  type BreakerState,
  type BreakerTransition,
} from "./breaker-policy.js";
export {
  assertRestartPolicy,
  nextRestart,
  restartCeilingMs,
  restartDefaults,
  restartJitterRatio,
  shouldReset,
  type RestartDecision,
  type RestartPolicy,
} from "./restart-backoff.js";
export {
  assertLivenessConfig,
  downDeadlineMs,
  evaluateLiveness,
  livenessDefaults,
  type DownDecision,
  type LivenessConfig,
  type LivenessStatus,
  type LivenessVerdicts,
  type NodeLivenessView,
} from "./node-liveness.js";
export {
  evaluateOperation,
  operationDeadlineMs,
  type Operation,
  type OperationKind,
  type OperationOutcome,
  type ReplicaCounts,
} from "./operation-tracker.js";
