import type { Logger } from "../../lib/logger.js";
import type { Status } from "../core/results.js";
import type { ConfState, Entry, Role, Snapshot } from "../core/types.js";
import { asError } from "./as-error.js";
import type { StateMachine } from "./state-machine.js";

/** The state machine's encoding at `index`, with the configuration at that index. */
export interface CapturedState {
  readonly index: number;
  readonly conf: ConfState;
  readonly data: Uint8Array;
}

/** How the queue reaches the store, the core and the pending requests. */
export interface ApplyQueueEnv {
  readonly stateMachine: StateMachine;
  readonly logger: Logger;
  /** The core's status: a snapshot is taken only where the core's applied index is the state machine's. */
  coreStatus(): Status;
  /** Writes a snapshot and compacts the log behind it, keeping `keepEntries`. */
  saveSnapshot(index: number, conf: ConfState, data: Uint8Array, keepEntries: number): Promise<unknown>;
  /** An entry was applied; `result` is what the state machine answered (proposals settle here). */
  entryApplied(entry: Entry, result: unknown): void;
  /** A slice was applied: the state machine holds everything up to `index`. */
  appliedThrough(index: number): void;
  /** The node is stopping: start no more work (entries of a Ready being handled still apply). */
  stopped(): boolean;
  /** The Raft loop failed: apply nothing more. */
  failed(): boolean;
  fatal(error: Error): void;
}

export interface ApplyQueueLimits {
  /** Take a snapshot (and compact the log) after this many applied entries. */
  readonly snapshotEveryEntries: number;
  /** Entries kept behind a snapshot so slightly lagging followers avoid a snapshot transfer. */
  readonly snapshotKeepEntries: number;
  /** Longest run of applying or snapshot encoding in one event-loop turn. */
  readonly workSliceMs: number;
}

/**
 * Committed entries on their way into the state machine, and the snapshots taken of it. Both
 * work in slices of `workSliceMs`, so a large backlog or state never stalls the Raft loop (a
 * leader busy longer than an election timeout would look dead to its followers).
 */
export class ApplyQueue {
  /**
   * The index the state machine has applied. The core's applied index runs ahead of it while
   * committed entries wait here: behind a snapshot being encoded, or beyond one turn's work
   * slice. Everything outside the driver sees this one (status(), reads, /readyz).
   */
  private fsmApplied: number;
  private lastSnapshotIndex: number;
  /** Committed entries handed over by the core and not applied yet, oldest first from `head`. */
  private entries: Entry[] = [];
  private head = 0;
  private drainScheduled = false;
  /** The snapshot being encoded in slices; the state machine is frozen meanwhile. */
  private snapshotting: { abandoned: boolean } | null = null;
  /** The last snapshot task (settled when none runs); stop() waits for it. */
  private snapshotTask: Promise<void> = Promise.resolve();

  constructor(
    private readonly env: ApplyQueueEnv,
    private readonly limits: ApplyQueueLimits,
    startSnapshot: Snapshot,
  ) {
    this.lastSnapshotIndex = startSnapshot.meta.index;
    this.fsmApplied = startSnapshot.meta.index;
    if (startSnapshot.meta.index > 0) env.stateMachine.restore(startSnapshot.data);
  }

  /** The index the state machine has applied (see fsmApplied). */
  get applied(): number {
    return this.fsmApplied;
  }

  /** Queues committed entries and applies what a turn's work slice allows now (none while a snapshot is encoded). */
  deliver(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    for (const entry of entries) this.entries.push(entry);
    if (this.snapshotting === null && !this.env.failed()) this.applySlice();
  }

  /** The leader's snapshot replaces our state: our own snapshot in progress and what waited are moot. */
  restore(snapshot: Snapshot): void {
    if (this.snapshotting !== null) this.snapshotting.abandoned = true;
    this.snapshotting = null;
    this.entries = [];
    this.head = 0;
    this.env.stateMachine.restore(snapshot.data);
    this.lastSnapshotIndex = snapshot.meta.index;
    this.fsmApplied = snapshot.meta.index;
  }

  /**
   * Takes a snapshot once `snapshotEveryEntries` were applied since the last: encoded a slice
   * per turn (the Raft loop keeps heartbeating; committed entries wait in the queue), then
   * written and the log compacted. Only when the state machine has caught up with the core, so
   * the core's configuration is the one at the snapshot's index.
   */
  maybeSnapshot(): void {
    if (this.halted() || this.snapshotting !== null) return;
    if (this.fsmApplied - this.lastSnapshotIndex < this.limits.snapshotEveryEntries) return;
    const status = this.env.coreStatus();
    if (status.applied !== this.fsmApplied || this.head < this.entries.length) return;
    const task = { abandoned: false };
    this.snapshotting = task;
    this.snapshotTask = this.takeSnapshot(task, status.applied, status.conf, status.term, status.role).catch(
      (error: unknown) => this.env.fatal(asError(error)),
    );
  }

  /**
   * The state machine encoded as of its applied index, for a backup (nothing is written here).
   * Waits until nothing is queued and the core's applied index is the state machine's (so
   * `conf` is the configuration at `index`), then encodes a slice per turn like a Raft snapshot:
   * writes keep being proposed and committed meanwhile, and are applied once it is done. Null
   * when that state does not come within `waitMsMax`, or the state is replaced or the node stops.
   */
  async capture(waitMsMax: number): Promise<CapturedState | null> {
    const deadline = performance.now() + waitMsMax;
    for (;;) {
      if (this.halted() || performance.now() > deadline) return null;
      if (this.snapshotting === null && this.head === this.entries.length) {
        const status = this.env.coreStatus();
        if (status.applied === this.fsmApplied) {
          const task = { abandoned: false };
          this.snapshotting = task;
          const index = this.fsmApplied;
          const data = await this.encodeSnapshot(task);
          if (this.snapshotting === task) this.snapshotting = null;
          this.scheduleDrain();
          return data === null ? null : { index, conf: status.conf, data };
        }
      }
      await new Promise<void>((resolve) => setTimeout(resolve, 1));
    }
  }

  /** A snapshot being encoded stops at its next slice; one being saved finishes first. */
  async stop(): Promise<void> {
    if (this.snapshotting !== null) this.snapshotting.abandoned = true;
    await this.snapshotTask;
  }

  private halted(): boolean {
    return this.env.stopped() || this.env.failed();
  }

  private scheduleDrain(): void {
    if (this.drainScheduled || this.env.stopped() || this.snapshotting !== null) return;
    this.drainScheduled = true;
    setImmediate(() => {
      this.drainScheduled = false;
      if (this.halted() || this.snapshotting !== null) return;
      this.applySlice();
    });
  }

  /** Applies queued entries for one work slice; the rest wait for a later turn. */
  private applySlice(): void {
    const started = performance.now();
    try {
      while (this.head < this.entries.length && performance.now() - started < this.limits.workSliceMs) {
        this.applyEntry(this.entries[this.head++]);
      }
    } catch (error) {
      this.env.fatal(asError(error));
      return;
    }
    if (this.head === this.entries.length) {
      this.entries = [];
      this.head = 0;
    }
    this.env.appliedThrough(this.fsmApplied);
    if (this.head < this.entries.length) this.scheduleDrain();
    else this.maybeSnapshot();
  }

  private applyEntry(entry: Entry): void {
    this.fsmApplied = entry.index;
    let result: unknown = undefined;
    if (entry.type === "normal" && entry.data.byteLength > 0)
      result = this.env.stateMachine.apply(entry.index, entry.data);
    this.env.entryApplied(entry, result);
  }

  private async takeSnapshot(
    task: { abandoned: boolean },
    index: number,
    conf: ConfState,
    term: number,
    role: Role,
  ): Promise<void> {
    const data = await this.encodeSnapshot(task);
    if (data === null) return;
    // The state is free again: what waited is applied while the file is written.
    if (this.snapshotting === task) this.snapshotting = null;
    this.lastSnapshotIndex = Math.max(this.lastSnapshotIndex, index);
    this.scheduleDrain();
    await this.env.saveSnapshot(index, conf, data, this.limits.snapshotKeepEntries);
    this.env.logger.info({ term, role, index, bytes: data.byteLength }, "snapshot taken, log compacted");
  }

  /** The state machine's snapshot, a work slice per turn; null when abandoned meanwhile. */
  private async encodeSnapshot(task: { abandoned: boolean }): Promise<Uint8Array | null> {
    const steps = this.env.stateMachine.snapshotSteps?.();
    if (steps === undefined) return this.env.stateMachine.snapshot();
    for (;;) {
      const started = performance.now();
      let step = steps.next();
      while (step.done !== true && performance.now() - started < this.limits.workSliceMs) step = steps.next();
      if (step.done === true) return step.value;
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (task.abandoned || this.snapshotting !== task || this.env.stopped()) {
        steps.return(new Uint8Array());
        return null;
      }
    }
  }
}
