/**
 * The plain TypeScript shape of the cluster state. The FSM owns these records and mutates them
 * only inside apply(); everything handed out by the read API is to be treated as read-only.
 * Protobuf types exist only at the edges (commands, snapshots, the API converters).
 */
import type { Region } from "./limits.js";
import type { TokenRole } from "./token-roles.js";
import type { ContainerAddress, Workload } from "./workload.js";

export type NodeStatus = "ready" | "down" | "draining";
export type Strategy = "binpack" | "spread" | "latency";
export type DesiredState = "running" | "stopped";
export type Health = "healthy" | "unhealthy" | "unknown";

/**
 * pending -> scheduled -> starting -> running -> (unhealthy -> restarting -> starting) ...
 * -> stopped | failed | lost. The last three have ended (no process runs). stopped and lost are
 * final; failed (a crash) is final too unless the leader restarts the container in place.
 */
export type ContainerState =
  "pending" | "scheduled" | "starting" | "running" | "unhealthy" | "restarting" | "stopped" | "failed" | "lost";

export const containerStates: readonly ContainerState[] = [
  "pending",
  "scheduled",
  "starting",
  "running",
  "unhealthy",
  "restarting",
  "stopped",
  "failed",
  "lost",
];

export interface Resources {
  cpuMillicores: number;
  memoryMib: number;
}

export interface NodeRecord {
  readonly id: string;
  /** Fixed for the node's life: a container's region is its node's. */
  readonly region: Region;
  capacity: Resources;
  /**
   * Invariant: equals the sum of the requests of the containers that hold capacity on this node
   * (see holdsCapacity), and never exceeds capacity.
   */
  allocated: Resources;
  status: NodeStatus;
  agentAddress: string;
  lastStatusChangeAtMs: number;
  statusReason: string;
  /** False while cordoned: the scheduler places nothing new here. Invariant: false while a drain runs. */
  eligible: boolean;
  /** The current or last drain; null if the node was never drained. */
  drain: NodeDrainRecord | null;
  /**
   * Why the node's agent cannot run containers now (its engine is down or slow); '' when it can.
   * A condition beside the status: the scheduler places nothing on such a node.
   */
  notReadyReason: string;
  /** Leader wall time since when notReadyReason holds. Invariant: 0 when notReadyReason is ''. */
  notReadySinceMs: number;
}

export type NodeDrainState = "draining" | "complete";

/** A node's drain (apply-drain.ts): its containers move elsewhere, each replacement healthy before the old stops. */
export interface NodeDrainRecord {
  state: NodeDrainState;
  readonly startedAtMs: number;
  /** Leader time at which what is left is stopped. */
  deadlineAtMs: number;
  /** Replicas of single-replica deployments stay on the node: never migrated, never stopped. */
  ignoreSingletons: boolean;
  /** Steps applied so far: the next NodeDrainStep must carry this number. */
  stepSeq: number;
  readonly actor: string;
  /** Replicas stopped once their replacement counted healthy. */
  migrated: number;
  /** Replicas stopped at the deadline, with or without a replacement. */
  stoppedAtDeadline: number;
  /** 0 while draining. */
  finishedAtMs: number;
  reason: string;
}

/**
 * A replica on a draining node and the replacement started for it. Open while both are wanted
 * running: the deployment then runs `replicas + open migrations` replicas.
 */
export interface DrainMigration {
  readonly from: string;
  readonly to: string;
}

export interface HealthCheckSpec {
  path: string;
  periodMs: number;
  timeoutMs: number;
  failureThreshold: number;
  successThreshold: number;
  initialDelayMs: number;
  /** The named port probed directly at the container's address ('' probes through the agent). */
  port: string;
}

export interface RestartPolicySpec {
  initialDelayMs: number;
  factor: number;
  maxDelayMs: number;
  resetAfterMs: number;
}

/** How a new version replaces the old one (DESIGN.md, round 2); validation.ts fills the defaults. */
export interface UpdatePolicySpec {
  /** Replacements in flight at once; also how far below `replicas` healthy may dip. Invariant: >= 1. */
  maxParallel: number;
  /** Replicas allowed beyond `replicas` while rolling out. */
  maxSurge: number;
  /** A new replica counts once it has been healthy this long. */
  minHealthyTimeMs: number;
  /** A new replica must count within this long of its placement. Invariant: > minHealthyTimeMs. */
  healthyDeadlineMs: number;
  /** A rollout fails after this long without progress. Invariant: >= healthyDeadlineMs. */
  progressDeadlineMs: number;
  /** New replicas started beside the old ones before the rollout awaits promotion. Invariant: <= replicas. */
  canary: number;
  autoRevert: boolean;
}

/** A validated spec with every default filled in (validation.ts builds these). */
export interface DeploymentSpec extends Workload {
  name: string;
  image: string;
  replicas: number;
  cpuMillicores: number;
  memoryMib: number;
  strategy: Strategy;
  /** Only place replicas in these regions (empty: every region). */
  regions: Region[];
  clientRegions: Region[];
  onePerNode: boolean;
  healthCheck: HealthCheckSpec;
  restartPolicy: RestartPolicySpec;
  /**
   * Operations (deploy, scale, replacement) succeed when all replicas are healthy within this
   * long of their start: an absolute deadline, so a crash loop cannot postpone its failure. A
   * rollout's deadline is update.progressDeadlineMs, counted from its last progress instead,
   * so a long rollout of many small steps is not a failure: two clocks, two fields.
   */
  progressDeadlineMs: number;
  update: UpdatePolicySpec;
  /**
   * The disruption budget: a drain never leaves fewer than replicas - maxUnavailable replicas
   * healthy (a deadline does, on purpose). Like the update policy it is not part of the template.
   */
  maxUnavailable: number;
}

/** Whether a version rolled out: pending until then (or while its rollout runs). */
export type VersionOutcome = "pending" | "succeeded" | "failed" | "superseded";

/** One version of a deployment in its history. */
export interface VersionRecord {
  readonly version: number;
  /** The spec as deployed (its replicas then; scaling changes the deployment, not its versions). */
  readonly spec: DeploymentSpec;
  /** Who made it: the client id until security work names people. */
  readonly actor: string;
  readonly atMs: number;
  readonly revision: number;
  /** "deploy", "undo to v3", "auto-revert after: <reason>". */
  readonly reason: string;
  outcome: VersionOutcome;
}

export type RolloutState = "running" | "paused" | "awaiting-promotion" | "succeeded" | "failed" | "reverted";
export type RolloutPauser = "operator" | "burn-rate";

export function isRolloutActive(state: RolloutState): boolean {
  return state === "running" || state === "paused" || state === "awaiting-promotion";
}

/**
 * A deployment's rollout to a version: running -> (awaiting-promotion -> running)* ->
 * (paused -> running)* -> succeeded | failed; a revert rollout that succeeds ends reverted.
 */
export interface RolloutRecord {
  /** The version in force when it started. */
  readonly fromVersion: number;
  /** Invariant: the deployment's version while the rollout is active. */
  readonly toVersion: number;
  state: RolloutState;
  /** A rollback to the last version that rolled out successfully: no canary phase. */
  readonly isRevert: boolean;
  /** Who paused it; null unless paused. */
  pausedBy: RolloutPauser | null;
  readonly startedAtMs: number;
  /** Start, each applied step, promotion and resumption: the progress deadline counts from here. */
  lastProgressAtMs: number;
  /** 0 while active. */
  finishedAtMs: number;
  /** Why it started, paused, failed or ended. */
  reason: string;
  /** Steps applied so far: the next RolloutStep must carry this number. */
  stepSeq: number;
  /** The canary phase is over (true from the start without canaries, and for reverts). */
  promoted: boolean;
  /** Its operation in the ledger ("<deployment>-<revision>"). */
  readonly operationId: string;
}

export interface DeploymentRecord {
  /** Invariant: spec.replicas equals the number of this deployment's containers wanted running. */
  spec: DeploymentSpec;
  /** Counts spec changes; 1 at creation. Scaling changes replicas, not the version. */
  version: number;
  createdRevision: number;
  updatedRevision: number;
  /** The revision at which spec or replicas last changed (apply's check index); health never moves it. */
  specRevision: number;
  /** Invariant: above the ordinal of every container of this name. */
  nextContainerOrdinal: number;
  /** Why containers are still pending, as the scheduler last explained it; '' when none are. */
  pendingReason: string;
  /** The outcome of its last closed operation (null: none closed yet). */
  lastOutcome: OperationOutcome | null;
  /**
   * Its latest closed operations' outcomes, oldest first, at most fsmLimits.recentOutcomesKeptMax:
   * the deployment's own burn rate, which gates its rollouts, is computed from them.
   */
  recentOutcomes: RecentOutcome[];
  /**
   * Oldest first; the last entry is `version`. Bounded by fsmLimits.versionHistoryMax, except
   * that the newest version that rolled out successfully is kept (a revert needs its spec).
   */
  history: VersionRecord[];
  /** The current or last rollout; null before the first version change. */
  rollout: RolloutRecord | null;
  /** Replicas moving off draining nodes (see DrainMigration); stale ones are pruned by the next drain step. */
  migrations: DrainMigration[];
}

export interface ContainerRecord {
  /** Invariant: `${deployment}-${ordinal}`. */
  readonly id: string;
  readonly deployment: string;
  readonly ordinal: number;
  /**
   * The deployment version whose spec it runs. A new version whose spec matches (all but
   * replicas, update policy and progress deadline) takes over the containers it already has.
   */
  version: number;
  /** Its request, kept here so capacity is released exactly even after its deployment is gone. */
  readonly cpuMillicores: number;
  readonly memoryMib: number;
  /** '' while pending; afterwards the node it was placed on (kept after it ends, for history). */
  node: string;
  /** Its node's region, '' while pending. */
  region: Region | "";
  desired: DesiredState;
  state: ContainerState;
  restartCount: number;
  /**
   * Leader wall-clock time before which the restart in progress must not start a fresh
   * instance. Invariant: 0 unless the container is restarting (0 there too: at once).
   */
  nextRestartAtMs: number;
  /**
   * The restart backoff step the leader's last restart of this container used, so that a new
   * leader continues the same backoff; 0 after a reset (stable past the policy's reset-after).
   */
  backoffStep: number;
  health: Health;
  /** Leader time since which it is healthy; 0 unless health is healthy. */
  healthySinceMs: number;
  /** Leader time of its placement; 0 while pending. */
  placedAtMs: number;
  updatedRevision: number;
  /** Where its named ports are reached, as its agent last reported ([] in the simulator). */
  addresses: ContainerAddress[];
}

export type EventKind =
  | "deployed"
  | "scaled"
  | "deleted"
  | "scheduled"
  | "node-registered"
  | "node-ready"
  | "node-down"
  | "node-draining"
  | "node-eligibility"
  | "node-drain-started"
  | "node-drain-progress"
  | "node-drain-complete"
  | "node-not-ready"
  | "container-unhealthy"
  | "container-restarting"
  | "container-exited"
  | "container-failed"
  | "container-lost"
  | "container-removed"
  | "container-healthy"
  | "container-health-unknown"
  | "restarted"
  | "rescheduled"
  | "operation-succeeded"
  | "operation-failed"
  | "configured"
  | "rollout-started"
  | "rollout-step"
  | "rollout-awaiting-promotion"
  | "rollout-promoted"
  | "rollout-paused"
  | "rollout-resumed"
  | "rollout-succeeded"
  | "rollout-failed"
  | "rollout-reverting"
  | "acl-bootstrapped"
  | "token-created"
  | "token-revoked";

/**
 * Deployment operations, the units of the success rate (docs/architecture.md, "Success rate"). The FSM
 * opens one when a deployment is deployed, scaled, or gets replacements (after its node went
 * down or a restart); the leader's health controller closes it with an outcome.
 */
export type OperationKind = "deploy" | "scale" | "replacement" | "rollout";

export interface OperationRecord {
  /** Invariant: `${deployment}-${startedRevision}`. */
  readonly id: string;
  readonly deployment: string;
  readonly kind: OperationKind;
  readonly startedAtMs: number;
  /** startedAtMs + the deployment's progress deadline: all desired replicas healthy by then. */
  readonly deadlineAtMs: number;
  readonly startedRevision: number;
}

export interface OperationOutcome {
  readonly operationId: string;
  readonly kind: OperationKind;
  readonly succeeded: boolean;
  readonly reason: string;
  readonly startedAtMs: number;
  readonly deadlineAtMs: number;
  readonly finishedAtMs: number;
}

/** One closed operation of a deployment, for its own burn rate. */
export interface RecentOutcome {
  /** Leader time of the close. */
  readonly atMs: number;
  readonly succeeded: boolean;
}

/** Outcomes closed within one minute of leader time: minute = floor(atMs / 60000). */
export interface OutcomeBucket {
  readonly minute: number;
  readonly succeeded: number;
  readonly failed: number;
}

export interface FsmEvent {
  /** 1 for the first event ever appended, then consecutive. */
  readonly seq: number;
  readonly revision: number;
  readonly atMs: number;
  readonly kind: EventKind;
  readonly deployment: string;
  readonly container: string;
  readonly node: string;
  readonly message: string;
  /** Who caused it: the actor of the command that made it (empty for events of older entries). */
  readonly actor: string;
}

/** An access token as the FSM keeps it: never its secret, only the secret's hash. */
export interface TokenRecord {
  readonly name: string;
  readonly role: TokenRole;
  /** Lowercase hex SHA-256 of the secret. */
  readonly secretSha256: string;
  readonly createdAtMs: number;
  /** Leader time it stops working; 0: never. */
  readonly expiresAtMs: number;
  /** The actor of the command that created it. */
  readonly createdBy: string;
  /** Agent tokens: the region whose nodes the agent may register and report; otherwise empty. */
  readonly region: string;
}

export function containerId(deployment: string, ordinal: number): string {
  return `${deployment}-${ordinal}`;
}

/** The container has ended: no process of it runs (see holdsCapacity for failed ones). */
export function isTerminal(state: ContainerState): boolean {
  return state === "stopped" || state === "failed" || state === "lost";
}

/**
 * A container holds its request on its node from placement until it is known to have ended,
 * with one exception: a container that crashed (failed) while wanted running keeps its room,
 * because the leader restarts it in place there (RestartContainer: failed -> restarting). It
 * gives the room back when it is lost with its node (NodeDown), or removed by a scale-down or
 * a delete. A failed container wanted stopped is removed at once, so failed-and-not-holding
 * never lasts past the command that made it.
 */
/** Running and found healthy by the probes: what rollouts, drains and budgets count. */
export function isHealthy(container: Pick<ContainerRecord, "state" | "health">): boolean {
  return container.state === "running" && container.health === "healthy";
}

export function holdsCapacity(container: Pick<ContainerRecord, "node" | "state" | "desired">): boolean {
  if (container.node === "") return false;
  if (container.state === "failed") return container.desired === "running";
  return !isTerminal(container.state);
}

/** States the leader may restart a container from (RestartContainer). */
export const restartableStates: readonly ContainerState[] = ["starting", "running", "unhealthy", "failed"];

/**
 * The lifecycle's legal moves. Agents may skip a step they did not observe (a container that
 * started between two reports goes scheduled -> running), never go back to pending or scheduled,
 * and nothing leaves stopped or lost. failed is left only by the leader's decisions: a restart
 * in place (-> restarting) or the loss of its node (-> lost); agent reports never revive it.
 */
const nextStates: Readonly<Record<ContainerState, readonly ContainerState[]>> = {
  pending: ["scheduled"],
  scheduled: ["starting", "running", "unhealthy", "restarting", "stopped", "failed", "lost"],
  starting: ["running", "unhealthy", "restarting", "stopped", "failed", "lost"],
  running: ["unhealthy", "restarting", "stopped", "failed", "lost"],
  unhealthy: ["running", "restarting", "stopped", "failed", "lost"],
  restarting: ["starting", "running", "unhealthy", "stopped", "failed", "lost"],
  stopped: [],
  failed: ["restarting", "lost"],
  lost: [],
};

export function containerTransitionAllowed(from: ContainerState, to: ContainerState): boolean {
  return nextStates[from].includes(to);
}

export function fitsOn(node: Pick<NodeRecord, "capacity" | "allocated">, request: Resources): boolean {
  return (
    node.allocated.cpuMillicores + request.cpuMillicores <= node.capacity.cpuMillicores &&
    node.allocated.memoryMib + request.memoryMib <= node.capacity.memoryMib
  );
}
