import type { Entry, HardState, Message, ReadState, Snapshot, SoftState } from "./types.js";

/**
 * Everything the application must do after the core changed. Handle it in this order:
 * 1. persist `hardState`, `entries` and `snapshot` (one synced write when `mustSync`);
 * 2. send `messages`;
 * 3. apply `snapshot` then `committedEntries` to the state machine, answer `readStates`;
 * 4. call `advance(ready)`.
 */
export interface Ready {
  /** Set when the leader or role changed since the last Ready. */
  readonly softState: SoftState | null;
  /** Set when term, vote or commit changed: persist it. */
  readonly hardState: HardState | null;
  /** Entries to append to stable storage; they may overwrite a conflicting suffix. */
  readonly entries: readonly Entry[];
  /** A snapshot received from the leader: persist it and restore the state machine from it. */
  readonly snapshot: Snapshot | null;
  /** Committed entries to apply, in order. Always already durable locally. */
  readonly committedEntries: readonly Entry[];
  /** Messages to send once the above is durable. */
  readonly messages: readonly Message[];
  /** Linearizable reads confirmed by the leader. */
  readonly readStates: readonly ReadState[];
  /** Whether the write must be synced (term, vote or entries changed). */
  readonly mustSync: boolean;
}
