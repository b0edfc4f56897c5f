/** Autopilot's defaults (orchestrator --autopilot-dead-after, and what no flag sets). */
export const autopilotDefaults = {
  /** A voter silent this long is reported unreachable (orchestrator_raft_member_unreachable). */
  deadAfterMs: 30_000,
  /** Dead-voter removal never leaves fewer voters than this (a quorum survives one more failure). */
  minVoters: 3,
  /** A learner is promoted only if the leader heard from it this recently. */
  promoteHeardWithinMs: 2_000,
} as const;
