import type { ClusterFsm, StateChange } from "../fsm/index.js";

/** Changes remembered for watchers that resume from a recent revision. */
const historyChangesMax = 50_000;

export type WatchListener = (change: StateChange | "restored") => void;

/**
 * Fans the FSM's change feed out to Watch streams and keeps a bounded history so a client
 * that lost its stream can resume from the last revision it saw.
 */
export class WatchHub {
  private history: StateChange[] = [];
  private readonly listeners = new Set<WatchListener>();
  /** Changes after this revision are all in `history`. */
  private historyFloor: number;

  constructor(fsm: ClusterFsm) {
    this.historyFloor = fsm.revision;
    fsm.onChange((change) => {
      this.history.push(change);
      if (this.history.length > historyChangesMax) {
        const dropped = this.history.splice(0, this.history.length - historyChangesMax);
        this.historyFloor = dropped[dropped.length - 1].revision;
      }
      for (const listener of this.listeners) listener(change);
    });
    fsm.onRestore((revision) => {
      // A snapshot replaced the state wholesale: history no longer describes how we got here.
      this.history = [];
      this.historyFloor = revision;
      for (const listener of this.listeners) listener("restored");
    });
  }

  /** Changes after `revision`, or undefined when they are no longer remembered. */
  changesSince(revision: number): StateChange[] | undefined {
    if (revision < this.historyFloor) return undefined;
    return this.history.filter((c) => c.revision > revision);
  }

  subscribe(listener: WatchListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
