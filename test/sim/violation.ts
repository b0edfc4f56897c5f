/** What a checker found wrong. Each kind names the rule that was broken. */
export type ViolationKind =
  /** Two leaders in one term (Raft's Election Safety). */
  | "election-safety"
  /** Two logs hold the same index and term but differ there or before (Log Matching). */
  | "log-matching"
  /** A new leader lacks an entry committed in an earlier term (Leader Completeness). */
  | "leader-completeness"
  /** Two replicas applied different entries at one index (State Machine Safety). */
  | "state-machine-safety"
  /** Committed entries handed to the application out of order or with gaps. */
  | "apply-order"
  /** The core's view of the configuration differs from the applied conf-change entries. */
  | "conf-state"
  /** A leader that is no longer a voter kept leading. */
  | "removed-leader"
  /** An acknowledged write is missing from a caught-up replica. */
  | "lost-write"
  /** The client history has no linearization. */
  | "linearizability"
  /** No leader or no commit in bounded time once every fault healed, or a member never caught up. */
  | "liveness"
  /** The core's own invariant check or an assertion threw. */
  | "core-assert";

export interface Violation {
  readonly kind: ViolationKind;
  readonly tick: number;
  readonly message: string;
}

export function formatViolation(v: Violation): string {
  return `VIOLATION ${v.kind} at t=${v.tick}: ${v.message}`;
}
