import type { ClusterFsm, StateChange } from "../fsm/index.js";

/** Changes remembered for watchers that resume from a recent revision. */
const historyChangesMax = 50_000;

export type WatchListener = (change: StateChange | "restored") => void;

/**
 * Fans the FSM's change feed out to Watch streams and keeps a bounded history so a client
 * that lost its stream can resume from the last revision it saw.
 */
export class WatchHub {
  /** Remembered changes are history[head..]; the dropped prefix is cut off in bulk (amortized O(1) per change). */
  private history: StateChange[] = [];
  private head = 0;
  private readonly listeners = new Set<WatchListener>();
  /** Changes after this revision are all in `history`. */
  private historyFloor: number;

  constructor(fsm: ClusterFsm) {
    this.historyFloor = fsm.revision;
    fsm.onChange((change) => {
      this.history.push(change);
      if (this.history.length - this.head > historyChangesMax) {
        // Forget the oldest change. Removing it from the front of the array at once would move
        // every remembered change on each new one (O(historyChangesMax) per change, which a
        // million-container scale-up turns into minutes of CPU on every replica).
        this.historyFloor = this.history[this.head].revision;
        this.head += 1;
        if (this.head >= historyChangesMax) {
          this.history = this.history.slice(this.head);
          this.head = 0;
        }
      }
      for (const listener of this.listeners) listener(change);
    });
    fsm.onRestore((revision) => {
      // A snapshot replaced the state wholesale: history no longer describes how we got here.
      this.history = [];
      this.head = 0;
      this.historyFloor = revision;
      for (const listener of this.listeners) listener("restored");
    });
  }

  /** Changes after `revision`, or undefined when they are no longer remembered. */
  changesSince(revision: number): StateChange[] | undefined {
    if (revision < this.historyFloor) return undefined;
    const out: StateChange[] = [];
    for (let i = this.head; i < this.history.length; i++)
      if (this.history[i].revision > revision) out.push(this.history[i]);
    return out;
  }

  subscribe(listener: WatchListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
