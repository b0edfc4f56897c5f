/**
 * The replicated cluster state (docs/architecture.md, "Cluster state"): what the API layer, the scheduler,
 * the health controllers and the Raft driver use of src/fsm.
 */
export {
  ClusterFsm,
  type ChangeListener,
  type FsmStateDump,
  type MembersListener,
  type RestoreListener,
} from "./fsm.js";
export type {
  ClusterReadView,
  ControllerPorts,
  LeadershipChange,
  LeadershipSignal,
  MembershipPort,
  MembershipView,
  MemberStatus,
  ProposeOutcome,
  Proposer,
} from "./controller-ports.js";
export { LeaderBarrier } from "./leader-barrier.js";
export { LeaderLoop, type LeaderLoopHooks } from "./leader-loop.js";
export { decodeSnapshot, encodeSnapshot } from "./snapshot.js";
export { proposeOutcome } from "./propose-outcome.js";
export type { ChangeAction, ChangeKind, MemberAddressRecord, StateChange } from "./cluster-state.js";
export { memberAddressProblem } from "./apply-member.js";
export {
  decodeCommand,
  encodeCommand,
  leaderCommandActor,
  type CommandBody,
  type CommandKind,
  type DecodedCommand,
  type FsmCommand,
} from "./commands.js";
export type {
  ApplyResult,
  ApplyValue,
  DeployResult,
  DrainValue,
  PlacementRejection,
  RejectionCount,
} from "./apply-result.js";
export type { ClientSession } from "./client-sessions.js";
export { failure, success, type FsmFailure, type FsmResult } from "./result.js";
export {
  commandFormatVersion,
  deploymentDefaults,
  fsmLimits,
  isKnownRegion,
  knownRegions,
  snapshotFormatVersion,
  type Region,
} from "./limits.js";
export {
  containerId,
  containerStates,
  containerTransitionAllowed,
  fitsOn,
  holdsCapacity,
  isTerminal,
  restartableStates,
  type ContainerRecord,
  type ContainerState,
  type DeploymentRecord,
  type DeploymentSpec,
  type DesiredState,
  type EventKind,
  type FsmEvent,
  type Health,
  type HealthCheckSpec,
  type DrainMigration,
  type NodeDrainRecord,
  type NodeDrainState,
  type NodeRecord,
  type NodeStatus,
  type OperationKind,
  type OperationOutcome,
  type OperationRecord,
  type OutcomeBucket,
  type RecentOutcome,
  type Resources,
  type RestartPolicySpec,
  type Strategy,
  isRolloutActive,
  type RolloutPauser,
  type RolloutRecord,
  type RolloutState,
  type TokenRecord,
  type UpdatePolicySpec,
  type VersionOutcome,
  type VersionRecord,
} from "./state.js";
export { rollbackSpec, stableVersion, versionEntry } from "./version-history.js";
export { stalePlanReasonPrefix } from "./apply-plan.js";
export { leaderActor } from "./apply-rollout.js";
export { validateTokenFields, validateTokenName } from "./apply-acl.js";
export { isTokenRole, personRoles, roleAllows, tokenRoles, type PersonRole, type TokenRole } from "./token-roles.js";
export { isConverged } from "./apply-drain.js";
export { errorBudgetAt, type ErrorBudget } from "./error-budget.js";
export { withCurrentPolicy } from "./apply-deployment.js";
export { deployResultOf, type ApplyFileOutcome } from "./apply-file.js";
export { specFieldChanges, type FieldChange } from "./spec-diff.js";
export {
  plainEqual,
  specDifferences,
  validateClientRequest,
  validateDeploymentName,
  validateDeploymentSpec,
  validateNodeId,
  validateNodeRegistration,
  validateRegion,
  validateReplicas,
  validateScale,
  validateText,
  normalizeUpdatePolicy,
  sameTemplate,
  type NodeRegistration,
} from "./validation.js";
export type {
  ContainerFilter,
  ContainerPage,
  DeploymentStatusSummary,
  DeploymentView,
  EventFilter,
} from "./read-model.js";
export {
  containerStateFromProto,
  containerStateToProto,
  containerToProto,
  deploymentToProto,
  desiredStateFromProto,
  desiredStateToProto,
  eventToProto,
  healthFromProto,
  healthToProto,
  nodeDrainToProto,
  nodeStatusFromProto,
  nodeStatusToProto,
  nodeToProto,
  openOperationToProto,
  operationKindFromProto,
  operationKindToProto,
  outcomeToProto,
  specToProto,
  statusToProto,
  strategyFromProto,
  strategyToProto,
} from "./proto-convert.js";
export {
  addressesFromProto,
  addressesToProto,
  portEnvName,
  validateAddresses,
  validateImageReference,
  validateWorkload,
  workloadFromProto,
  workloadToProto,
  type ContainerAddress,
  type EnvVar,
  type PortSpec,
  type Workload,
} from "./workload.js";
export { workloadLimits } from "./limits.js";
