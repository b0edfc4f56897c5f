/** The application state replicated by the log. apply() must be deterministic. */
export interface StateMachine {
  /** Applies a committed command; the return value goes to the proposer. */
  apply(index: number, data: Uint8Array): unknown;
  snapshot(): Uint8Array;
  /**
   * The snapshot a slice per next() (the last returns the bytes), so a large state does not
   * stall the event loop. The driver applies nothing until it is done; restore abandons it.
   */
  snapshotSteps?(): Generator<void, Uint8Array, void>;
  restore(data: Uint8Array): void;
}
