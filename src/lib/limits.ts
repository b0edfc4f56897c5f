import { assert } from "./assert.js";

/**
 * Every queue, batch, window and retry has a named maximum here, and the relations between
 * them are checked when the module loads. Units go last in names.
 */
export const raftLimits = {
  /** Milliseconds per logical tick of the Raft core. */
  tickMs: 10,
  heartbeatIntervalTicks: 5,
  /** Base election timeout; each replica randomizes it into [base, 2 * base). */
  electionTimeoutTicks: 30,
  /**
   * After a "leader connection lost" report, a survivor of rank r (by id) waits
   * r * max + a random delay in [min, max) ticks before pre-voting.
   */
  leaderLostDelayTicksMin: 1,
  leaderLostDelayTicksMax: 3,
  /** Largest append message payload; a single larger entry still goes alone. */
  messageBytesMax: 1024 * 1024,
  /** Append messages in flight to one follower in the replicate state. */
  inflightMessagesMax: 256,
  /** Bytes of proposed but uncommitted entries a leader accepts before refusing proposals. */
  uncommittedBytesMax: 64 * 1024 * 1024,
  /** Bytes of committed entries handed to the application in one Ready. */
  committedBytesPerReadyMax: 16 * 1024 * 1024,
  /** Pending ReadIndex requests on one leader. */
  pendingReadsMax: 100_000,
  /** A single proposal's payload. */
  proposalBytesMax: 4 * 1024 * 1024,
} as const;

assert(
  raftLimits.electionTimeoutTicks > raftLimits.heartbeatIntervalTicks,
  "election timeout must exceed the heartbeat interval",
);
assert(
  raftLimits.leaderLostDelayTicksMax * 7 < raftLimits.electionTimeoutTicks,
  "every survivor of a 7-replica cluster must pre-vote before the election timeout",
);
assert(raftLimits.leaderLostDelayTicksMin >= 1, "lost-leader delay needs at least one tick");
assert(
  raftLimits.proposalBytesMax <= raftLimits.uncommittedBytesMax,
  "one proposal must fit in the uncommitted budget",
);
assert(raftLimits.messageBytesMax <= raftLimits.committedBytesPerReadyMax, "a message's entries must fit in one Ready");

/** What a TLS listener (the API's, the Raft transport's) grants one connection before it proves itself. */
export const tlsListenerLimits = {
  /**
   * A connection must finish its TLS handshake within this (Node's default is 120 s): a
   * connection that sends nothing or half a ClientHello is closed then, not kept for minutes.
   */
  handshakeTimeoutMs: 10_000,
  /** Open connections per listener, proven or not; more are closed at accept (the fd budget is 20,000). */
  connectionsMax: 4_096,
  /** A refused peer is logged at most once per this interval (then with a count of what was held back). */
  refusalLogIntervalMs: 60_000,
  /** Peers whose refusals are remembered for that; past it the least recent one is forgotten. */
  refusalLogKeysMax: 4_096,
} as const;

assert(tlsListenerLimits.handshakeTimeoutMs >= 1_000, "a handshake on a loaded machine needs a second at least");
