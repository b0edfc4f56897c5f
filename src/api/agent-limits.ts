import { assert } from "../lib/assert.js";
import { fsmLimits } from "../fsm/index.js";

/** Bounds of the AgentService (server side). Units go last in names. */
export const agentServiceLimits = {
  /** Nodes one agent may register, heartbeat for or watch in one call. */
  nodesPerAgentMax: 256,
  /** Container reports in one ReportStatus call. */
  reportsPerRequestMax: 1_000,
  /** Agent ids are for logs; this keeps them short. */
  agentIdLengthMax: 128,
  /** Open WatchAssignments streams on one replica. */
  watchStreamsMax: 1_000,
  /** Assignment snapshots of one stream are sent at most this often (changes in between coalesce). */
  snapshotIntervalMsMin: 50,
  /** A snapshot is resent at least this often even without changes: level-triggered, and a liveness signal. */
  resyncIntervalMs: 5_000,
} as const;

assert(
  agentServiceLimits.snapshotIntervalMsMin < agentServiceLimits.resyncIntervalMs,
  "changes are sent sooner than the periodic resend",
);
assert(agentServiceLimits.nodesPerAgentMax <= fsmLimits.nodesMax, "an agent's nodes fit the cluster");
assert(agentServiceLimits.reportsPerRequestMax >= 1, "a report batch holds at least one report");
