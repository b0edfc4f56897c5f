import { assert } from "../../lib/assert.js";
import { raftLimits } from "../../lib/limits.js";
import type { ReplicaId } from "./types.js";

/**
 * Deliberate bugs, switched on only by tests, to prove that the simulator's checkers catch
 * what they claim to. Never set in production.
 */
export interface DeliberateBugs {
  /** The leader counts an entry committed as soon as it has appended it, without a quorum. */
  readonly commitWithoutQuorum?: boolean;
  /** Entries from earlier terms are committed by counting replicas (Raft paper Figure 8). */
  readonly commitPreviousTermByCounting?: boolean;
  /** A replica grants a vote to a second candidate in the same term. */
  readonly voteTwicePerTerm?: boolean;
}

/** A source of randomness for timeouts; the simulator passes a seeded one. */
export interface RandomSource {
  /** An integer in [lo, hi). */
  nextIntBetween(lo: number, hi: number): number;
}

export interface RaftConfig {
  readonly id: ReplicaId;
  readonly electionTimeoutTicks: number;
  readonly heartbeatIntervalTicks: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  /** "safe": ReadIndex confirms leadership with a heartbeat round; "lease": trusts the check-quorum lease. */
  readonly readOnly: "safe" | "lease";
  readonly leaderLostDelayTicksMin: number;
  readonly leaderLostDelayTicksMax: number;
  readonly messageBytesMax: number;
  readonly inflightMessagesMax: number;
  readonly uncommittedBytesMax: number;
  readonly committedBytesPerReadyMax: number;
  readonly pendingReadsMax: number;
  /**
   * When the commit index moves, leave telling the followers to the next append or heartbeat
   * instead of sending each an empty append at once. Clients hear from the leader, so only
   * followers' own applying waits (at most a heartbeat interval when idle), and each write
   * saves a message and its answer per follower.
   */
  readonly lazyCommitBroadcast: boolean;
  readonly random: RandomSource;
  readonly bugs: DeliberateBugs;
}

export function raftConfig(fields: Pick<RaftConfig, "id" | "random"> & Partial<RaftConfig>): RaftConfig {
  const config: RaftConfig = {
    electionTimeoutTicks: raftLimits.electionTimeoutTicks,
    heartbeatIntervalTicks: raftLimits.heartbeatIntervalTicks,
    preVote: true,
    checkQuorum: true,
    readOnly: "safe",
    leaderLostDelayTicksMin: raftLimits.leaderLostDelayTicksMin,
    leaderLostDelayTicksMax: raftLimits.leaderLostDelayTicksMax,
    messageBytesMax: raftLimits.messageBytesMax,
    inflightMessagesMax: raftLimits.inflightMessagesMax,
    uncommittedBytesMax: raftLimits.uncommittedBytesMax,
    committedBytesPerReadyMax: raftLimits.committedBytesPerReadyMax,
    pendingReadsMax: raftLimits.pendingReadsMax,
    lazyCommitBroadcast: false,
    bugs: {},
    ...fields,
  };
  validateRaftConfig(config);
  return config;
}

export function validateRaftConfig(c: RaftConfig): void {
  assert(c.id !== "", "replica id must not be empty");
  assert(c.heartbeatIntervalTicks >= 1, "heartbeat interval must be at least one tick");
  assert(c.electionTimeoutTicks > c.heartbeatIntervalTicks, "election timeout must exceed the heartbeat interval");
  assert(c.leaderLostDelayTicksMin >= 1, "lost-leader delay must be at least one tick");
  assert(c.leaderLostDelayTicksMax > c.leaderLostDelayTicksMin, "lost-leader delay range must not be empty");
  assert(c.inflightMessagesMax >= 1, "inflight window must hold at least one message");
  assert(c.messageBytesMax >= 1, "message size limit must be positive");
  assert(c.uncommittedBytesMax >= c.messageBytesMax, "uncommitted budget must hold at least one message");
  if (c.readOnly === "lease") assert(c.checkQuorum, "lease reads are only safe with check-quorum");
}
