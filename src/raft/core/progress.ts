import { assert, assertNever } from "../../lib/assert.js";
import { Inflights } from "./inflights.js";

export type ProgressState = "probe" | "replicate" | "snapshot";

/**
 * The leader's view of one replica's log. In `probe` it sends one append at a time and waits;
 * in `replicate` it pipelines within the inflight window; in `snapshot` it waits for an
 * InstallSnapshot to land. Invariant: match < next.
 */
export class Progress {
  /** Highest index known to be in the replica's log. */
  match: number;
  /** Next index to send. */
  next: number;
  state: ProgressState = "probe";
  /** In probe: an append is outstanding, wait for its answer (or the next heartbeat answer). */
  probeSent = false;
  /** In snapshot: the index of the snapshot being sent. */
  pendingSnapshot = 0;
  /** The highest commit index sent to the replica, so a stale one can be refreshed. */
  sentCommit = 0;
  /** The newest leader tick echoed by a heartbeat answer (see Raft.holdsLease). */
  leaseAckTicks = 0;
  /** Heard from since the last check-quorum round. */
  recentActive = false;
  readonly inflights: Inflights;

  constructor(
    match: number,
    next: number,
    inflightMessagesMax: number,
    public isLearner: boolean,
  ) {
    this.match = match;
    this.next = next;
    this.inflights = new Inflights(inflightMessagesMax);
  }

  private transitionTo(state: ProgressState): void {
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    // After a snapshot, continue right behind it; otherwise retry right after what is known.
    if (this.state === "snapshot") {
      const pending = this.pendingSnapshot;
      this.transitionTo("probe");
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.transitionTo("probe");
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.transitionTo("replicate");
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.transitionTo("snapshot");
    this.pendingSnapshot = snapshotIndex;
  }

  /** An acknowledgement up to `index`; returns whether it told us something new. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (this.match < index) {
      this.match = index;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, index + 1);
    return updated;
  }

  /** We sent entries up to `lastIndex`. */
  sentEntries(lastIndex: number): void {
    switch (this.state) {
      case "replicate":
        this.inflights.add(lastIndex);
        this.next = lastIndex + 1;
        return;
      case "probe":
        this.probeSent = true;
        return;
      case "snapshot":
        assert(false, "sent entries while waiting for a snapshot");
        return;
      default:
        assertNever(this.state, "progress state");
    }
  }

  /**
   * A rejection of the append at `rejected`; `hint` is where the follower suggests to probe.
   * Returns false when the rejection is stale (a reordered or duplicated answer).
   */
  maybeDecreaseTo(rejected: number, hint: number): boolean {
    if (this.state === "replicate") {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    // In probe only the answer to the latest probe counts.
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, hint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  isPaused(): boolean {
    switch (this.state) {
      case "probe":
        return this.probeSent;
      case "replicate":
        return this.inflights.full();
      case "snapshot":
        return true;
      default:
        return assertNever(this.state, "progress state");
    }
  }
}
