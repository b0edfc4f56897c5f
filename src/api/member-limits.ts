/** Bounds of the member operations (src/api/member-operations.ts). */
export const memberLimits = {
  /** A member heard from within this long counts as reachable in `member list` and the quorum check. */
  reachableWithinMs: 2_000,
  /** How long removing the leader waits for leadership to move before giving up. */
  leaderTransferTimeoutMs: 5_000,
} as const;
