import { assert } from "../lib/assert.js";

/** The regions this product knows. Nodes live in one; deployments may be constrained to some. */
export const knownRegions = ["us-east-1", "eu-west-1", "ap-southeast-1"] as const;
export type Region = (typeof knownRegions)[number];

export function isKnownRegion(value: string): value is Region {
  return (knownRegions as readonly string[]).includes(value);
}

/**
 * The command format this code writes and the newest it understands. A replica meeting a newer
 * format stops (it would otherwise apply the entry differently from its peers): upgrade it.
 * 3: OperationOutcomes (several verdicts in one entry).
 * 4: versions and rollouts (a deploy of a changed spec starts a rollout instead of being refused).
 * 5: ApplyFile; a deploy without an update policy keeps the deployment's current one.
 * 6: access tokens (AclBootstrap, TokenCreate, TokenRevoke) and the envelope's actor, which
 *    apply writes into every event (an older replica would drop both and diverge);
 *    node eligibility and drains (NodeEligibility, NodeDrainStart/Step/Finish); the disruption budget.; NodeReadiness (a node whose agent cannot run containers, with the reason).
 */
export const commandFormatVersion = 6;
/** From this command format on, a deploy without an update policy keeps the current one (before: the defaults). */
export const keepPolicyFormatVersion = 5;
/**
 * The snapshot format this code writes and reads. 2: crashed containers wanted running hold
 * their node's capacity, and operations, outcome buckets and backoff steps are stored.
 * 3: version histories, rollouts, update policies, healthy-since and placed-at times.
 * 4: access tokens and the ACL bootstrap revision; events carry their actor. Format 3 is still
 *    read (no tokens, events without actors); a replica that reads only 3 refuses a 4.
 *    Also node eligibility and drains, drain migrations, the disruption budget (max_unavailable).
 */
export const snapshotFormatVersion = 4;
/** The oldest snapshot format this code still reads. */
export const snapshotFormatVersionMin = 3;
/** Records per step of a sliced snapshot encoding (about 10 ms of work). */
export const snapshotRecordsPerStep = 10_000;

/** Every bound of the cluster state. Units go last in names. */
export const fsmLimits = {
  /** Replicas of one deployment. */
  replicasMax: 10_000,
  /** Containers in the whole cluster, stopping ones included. */
  containersMax: 1_000_000,
  deploymentsMax: 10_000,
  nodesMax: 10_000,
  /** Control-plane members with recorded addresses (voters, learners, and ones being added). */
  membersMax: 16,
  /** The event ring: older events are overwritten. */
  eventsMax: 10_000,
  /** Events returned with a deployment's status. */
  recentEventsMax: 10,
  /** Client sessions of the dedup table; the least recently active is evicted beyond this. */
  clientSessionsMax: 10_000,
  /** Placements in one plan. */
  placementsPerPlanMax: 10_000,
  /** Verdicts in one OperationOutcomes command. */
  outcomesPerCommandMax: 1_000,
  /** listContainers without a limit returns at most this many. */
  containersListDefault: 1_000,
  containersListMax: 100_000,

  /** DNS-1123 label, as Kubernetes names. */
  nameLengthMax: 63,
  /** "<deployment>-<ordinal>": a name, a dash and a uint32. */
  containerIdLengthMax: 63 + 1 + 10,
  /** DNS-1123 subdomain, for node ids. */
  nodeIdLengthMax: 253,
  imageLengthMax: 512,
  agentAddressLengthMax: 255,
  clientIdLengthMax: 128,
  reasonLengthMax: 1_024,
  messageLengthMax: 1_024,
  planIdLengthMax: 128,
  /** "<deployment>-<revision>": a name, a dash and a uint64. */
  operationIdLengthMax: 63 + 1 + 20,
  healthPathLengthMax: 1_024,

  /** One container's request when no node is registered yet to compare it with. */
  containerCpuMillicoresMax: 64_000,
  containerMemoryMibMax: 256 * 1024,
  /** One node's capacity. */
  nodeCpuMillicoresMax: 1_024_000,
  nodeMemoryMibMax: 4 * 1024 * 1024,

  healthPeriodMsMin: 100,
  healthPeriodMsMax: 3_600_000,
  healthTimeoutMsMin: 10,
  healthThresholdMax: 100,
  healthInitialDelayMsMax: 3_600_000,
  restartDelayMsMin: 10,
  restartDelayMsMax: 86_400_000,
  restartFactorMin: 1,
  restartFactorMax: 10,
  restartResetAfterMsMax: 86_400_000,
  progressDeadlineMsMin: 1_000,
  progressDeadlineMsMax: 86_400_000,
  /**
   * A restart's backoff step. Generous: past the step where the delay reaches its cap the step
   * changes nothing, so the leader may saturate it there; a crash loop at the smallest cap
   * would still take months to reach this.
   */
  restartBackoffStepMax: 1_000_000,

  /** Outcome buckets are per minute of leader time. */
  outcomeBucketMs: 60_000,
  /** Outcome buckets kept: one per minute over 30 days, the longest window the SLO reports. */
  outcomeBucketsMax: 43_200,
  /** Containers lost with their node and replaced, kept per deployment as recent history. */
  lostContainersKeptPerDeploymentMax: 10,
  /**
   * Operation outcomes kept per deployment for its burn rate. A deployment closing more than this
   * many operations within the burn-rate window is judged on its latest ones only.
   */
  recentOutcomesKeptMax: 32,
  /** Versions kept per deployment (plus the last one that rolled out, when older). */
  versionHistoryMax: 10,
  /** Containers one rollout step may start or stop. */
  rolloutStepContainersMax: 10_000,
  minHealthyTimeMsMax: 3_600_000,
  healthyDeadlineMsMax: 86_400_000,
  rolloutProgressDeadlineMsMax: 7 * 86_400_000,
  actorLengthMax: 128,
  /** Access tokens in the cluster (revoked ones are gone; expired ones stay until revoked). */
  tokensMax: 1_000,
  /** DNS-1123 label, as deployment names. */
  tokenNameLengthMax: 63,
  /** Deployments in one apply (one log entry); a file of 10,000 is refused, not applied. */
  applySpecsMax: 1_000,
  /** Containers one drain step migrates or stops. */
  drainStepContainersMax: 10_000,
  /** The longest drain deadline (Nomad's default is an hour; a week covers slow migrations). */
  drainDeadlineMsMax: 7 * 86_400_000,
} as const;

/**
 * Values that take the place of unset (zero) fields of a deployment spec, Kubernetes-like but
 * scaled for the demo. The FSM stores specs with these filled in, so `orchctl get` shows what
 * is in force and an identical re-deploy compares equal whether or not it spelled them out.
 */
export const deploymentDefaults = {
  strategy: "binpack",
  healthCheck: {
    path: "/healthz",
    periodMs: 2_000,
    timeoutMs: 1_000,
    failureThreshold: 3,
    successThreshold: 1,
    initialDelayMs: 0,
  },
  restartPolicy: {
    initialDelayMs: 500,
    factor: 2,
    maxDelayMs: 30_000,
    resetAfterMs: 60_000,
  },
  progressDeadlineMs: 120_000,
  /** Disruption budget: at most one replica unavailable because of a drain. */
  maxUnavailable: 1,
  update: {
    maxParallel: 1,
    maxSurge: 1,
    minHealthyTimeMs: 5_000,
    healthyDeadlineMs: 60_000,
    progressDeadlineMs: 600_000,
    canary: 0,
    autoRevert: true,
  },
} as const;

assert(fsmLimits.replicasMax <= fsmLimits.containersMax, "one deployment's replicas must fit in the cluster");
assert(
  fsmLimits.containerIdLengthMax === fsmLimits.nameLengthMax + 1 + String(0xffff_ffff).length,
  "container ids fit their bound",
);
assert(fsmLimits.placementsPerPlanMax >= 1, "a plan must be able to place something");
assert(fsmLimits.recentEventsMax <= fsmLimits.eventsMax, "recent events come from the ring");
assert(fsmLimits.containersListDefault <= fsmLimits.containersListMax, "the default page fits the maximum");
assert(fsmLimits.containerCpuMillicoresMax <= fsmLimits.nodeCpuMillicoresMax, "a container must fit some node");
assert(fsmLimits.containerMemoryMibMax <= fsmLimits.nodeMemoryMibMax, "a container must fit some node");
// Allocations are sums of uint32 requests bounded by a uint32 capacity.
assert(fsmLimits.nodeCpuMillicoresMax <= 0xffff_ffff, "node cpu fits uint32");
assert(fsmLimits.nodeMemoryMibMax <= 0xffff_ffff, "node memory fits uint32");
assert(
  fsmLimits.operationIdLengthMax === fsmLimits.nameLengthMax + 1 + String(2n ** 64n - 1n).length,
  "operation ids fit their bound",
);
assert(
  fsmLimits.outcomeBucketsMax * fsmLimits.outcomeBucketMs === 30 * 86_400_000,
  "outcome buckets cover exactly 30 days",
);
assert(
  fsmLimits.lostContainersKeptPerDeploymentMax >= 1,
  "a replaced container is kept at least until the next replacement",
);
assert(fsmLimits.restartBackoffStepMax <= 0xffff_ffff, "backoff steps fit uint32");
assert(
  deploymentDefaults.healthCheck.timeoutMs <= deploymentDefaults.healthCheck.periodMs,
  "default probe timeout within its period",
);
assert(
  deploymentDefaults.restartPolicy.initialDelayMs <= deploymentDefaults.restartPolicy.maxDelayMs,
  "default restart delay within its cap",
);
assert(
  deploymentDefaults.progressDeadlineMs >= fsmLimits.progressDeadlineMsMin &&
    deploymentDefaults.progressDeadlineMs <= fsmLimits.progressDeadlineMsMax,
  "default progress deadline within bounds",
);
assert(fsmLimits.versionHistoryMax >= 2, "the history keeps at least the current and the previous version");
assert(
  deploymentDefaults.update.healthyDeadlineMs > deploymentDefaults.update.minHealthyTimeMs &&
    deploymentDefaults.update.progressDeadlineMs >= deploymentDefaults.update.healthyDeadlineMs,
  "default update policy is consistent",
);
assert(fsmLimits.rolloutStepContainersMax >= fsmLimits.replicasMax, "one step may replace a whole deployment");

/** Bounds of a deployment's workload (what a real runtime runs): command, args, env, ports. */
export const workloadLimits = {
  commandLengthMax: 4_096,
  argsMax: 256,
  argLengthMax: 4_096,
  envMax: 256,
  envNameLengthMax: 256,
  envValueLengthMax: 16_384,
  portsMax: 32,
  /** As IANA service names (and Kubernetes port names). */
  portNameLengthMax: 15,
  /** All of a workload's text together, so a spec stays a small log entry. */
  workloadBytesMax: 256 * 1024,
  addressLengthMax: 255,
} as const;

assert(
  workloadLimits.commandLengthMax + workloadLimits.argLengthMax <= workloadLimits.workloadBytesMax,
  "a command and one argument fit a workload",
);
