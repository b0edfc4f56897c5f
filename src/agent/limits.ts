import { fsmLimits } from "../fsm/index.js";
import { assert } from "../lib/assert.js";

/**
 * Every bound and period of the node agent, in one place (CONVENTIONS.md, rule 3). Units go
 * last in names; the relations between them are checked when the module loads.
 */
export const agentLimits = {
  /** Simulated nodes one agent runs (the server accepts as many per call). */
  nodesMax: 256,
  /** One node's capacity, as the cluster accepts it. */
  nodeCpuMillicoresMax: 1_024_000,
  nodeMemoryMibMax: 4 * 1024 * 1024,
  startDelayMsMax: 600_000,
  /**
   * The longest a restarted container waits for its not-before time (the leader's clock): the
   * longest restart delay the cluster accepts (src/fsm/limits.ts restartDelayMsMax). A not-before
   * further off means the clocks disagree; the agent then starts it after this long.
   */
  restartWaitMsMax: 86_400_000,

  heartbeatIntervalMsDefault: 500,
  /** A heartbeat that takes longer than this is abandoned (the next one is due soon anyway). */
  heartbeatTimeoutMs: 1_000,
  /** Register and ReportStatus attempts: each may wait for a Raft commit. */
  callTimeoutMs: 5_000,
  /** Leader redirects followed within one attempt before counting it as failed. */
  leaderRedirectsPerAttemptMax: 3,

  /** Back-off between rounds of failed attempts over all endpoints: initial, factor, cap. */
  retryDelayMsInitial: 50,
  retryDelayFactor: 2,
  retryDelayMsMax: 1_000,

  /**
   * A stream silent for this long is presumed dead and reopened: the leader resends a snapshot
   * every 5 s (src/api/agent-limits.ts resyncIntervalMs), so three missed resends mean trouble.
   */
  watchIdleMsMax: 15_000,

  /** A registration the leader refused (say, a node id taken in another region) is retried this much later. */
  registerRetryAfterRefusalMs: 5_000,

  /** Container reports sent in one ReportStatus call (the server accepts up to 1000). */
  reportsPerBatchMax: 500,
  /** Containers the agent tracks at once, across its nodes. */
  containersMax: 100_000,
  /** Health requests held open by the "hang" fault; the oldest is dropped beyond this. */
  hungRequestsMax: 1_000,
  /** Images with a fault set at once (`orchctl fault image`); the oldest is forgotten beyond this. */
  imageFaultsMax: 256,
  /** Longest start a slow-start image fault may ask for. */
  slowStartMsMax: 3_600_000,
} as const;

assert(
  agentLimits.restartWaitMsMax >= fsmLimits.restartDelayMsMax,
  "a restart waits out any delay the cluster accepts",
);
assert(agentLimits.restartWaitMsMax <= 0x7fff_ffff, "a restart's wait fits one timer");
assert(
  agentLimits.heartbeatTimeoutMs >= agentLimits.heartbeatIntervalMsDefault,
  "a heartbeat may take its whole period",
);
assert(agentLimits.retryDelayMsInitial <= agentLimits.retryDelayMsMax, "back-off starts below its cap");
assert(agentLimits.retryDelayFactor > 1, "back-off grows");
assert(agentLimits.reportsPerBatchMax <= 1_000, "a report batch fits what the server accepts");
assert(agentLimits.nodesMax <= 256, "an agent's nodes fit what the server accepts per call");
assert(agentLimits.watchIdleMsMax > 5_000, "the idle limit outlasts the leader's resend period");

/** The Docker driver's bounds and periods (docker-runtime.ts). */
export const dockerLimits = {
  /** How often the engine is pinged, and how long a ping may take before the engine counts as down. */
  pingIntervalMs: 2_000,
  pingTimeoutMs: 3_000,
  /** One Engine API call (create, start, inspect, remove) before it counts as failed. */
  callTimeoutMs: 30_000,
  /** Seconds Docker gives a stopped container between SIGTERM and SIGKILL. */
  stopGraceSeconds: 2,
  /** Pull progress is logged at most this often per image. */
  pullProgressLogMs: 2_000,
  /** Host ports handed to named ports by default. */
  hostPortFirst: 20_000,
  hostPortLast: 29_999,
  /** Lines `orchctl logs` may ask for with --tail. */
  logTailLinesMax: 100_000,
} as const;

assert(dockerLimits.pingTimeoutMs < dockerLimits.callTimeoutMs, "a ping gives up before an ordinary call");
