import { assert } from "../../src/lib/assert.js";
import type { Prng } from "../../src/lib/prng.js";
import type { RaftConfig } from "../../src/raft/core/config.js";
import type { Ready } from "../../src/raft/core/ready.js";
import type { ProposeResult, ReadIndexResult, Status } from "../../src/raft/core/results.js";
import { RawNode } from "../../src/raft/core/raw-node.js";
import type { ConfChange, Entry, Message, ReadState, ReplicaId, Snapshot } from "../../src/raft/core/types.js";
import type { ApplyOutcome } from "./kv-state-machine.js";
import { KvStateMachine, decodeConfChangeData, formatConf, sameConf } from "./kv-state-machine.js";
import { SimDisk, readyHasWrites } from "./sim-disk.js";
import { simLimits } from "./sim-limits.js";
import type { ViolationKind } from "./violation.js";

/** How a replica tells the rest of the simulation what it did; the simulation fans it out. */
export interface ReplicaHooks {
  /** A Ready's writes are durable; `term` is the replica's term when it took the Ready. */
  persisted(replica: SimReplica, ready: Ready, term: number): void;
  send(replica: SimReplica, messages: readonly Message[]): void;
  /** Just before the state machine applies `entry`. */
  applying(replica: SimReplica, entry: Entry): void;
  /** Just after; proposals and reads waiting on this replica learn their fate here. */
  applied(replica: SimReplica, entry: Entry, outcome: ApplyOutcome, change: ConfChange | null): void;
  snapshotRestored(replica: SimReplica, snapshot: Snapshot): void;
  /** A confirmed read's index is applied: reading the state machine now is linearizable. */
  readReady(replica: SimReplica, context: string): void;
  violation(kind: ViolationKind, message: string): void;
}

export interface ReplicaSettings {
  readonly snapshotEveryEntries: number;
  readonly snapshotKeepEntries: number;
  /** A fresh core configuration per incarnation (each gets its own random stream). */
  readonly raftConfig: (id: ReplicaId) => RaftConfig;
}

export type ReplicaState = "not-started" | "up" | "down";

interface ReadyInFlight {
  readonly ready: Ready;
  readonly term: number;
  readonly doneAtTick: number;
}

/**
 * One simulated server: its disk (which survives crashes) and, while up, a RawNode, the state
 * machine and the one Ready being handled. A crash loses everything but the disk, including a
 * Ready whose write had not completed.
 */
export class SimReplica {
  readonly disk: SimDisk;
  private node: RawNode | null = null;
  private stateNow: ReplicaState = "not-started";
  readonly sm = new KvStateMachine();
  /** How far this replica's clock runs fast (> 0) or slow (< 0), as a fraction of ticks. */
  clockDrift = 0;
  /** Bumped at every start: reports and replies meant for an earlier life are discarded. */
  incarnation = 0;
  private inFlight: ReadyInFlight | null = null;
  private confirmedReads: ReadState[] = [];
  /** The term as of the latest Ready taken; the node's hard state carries it. */
  private readyTerm = 0;
  /** A snapshot or conf change was applied; compare configurations once the core is quiet. */
  private confCheckDue = false;
  /** One report per life is enough for entries handed out twice. */
  private replayOverlapReported = false;

  constructor(
    readonly id: ReplicaId,
    bootstrapVoters: readonly ReplicaId[] | null,
    private readonly settings: ReplicaSettings,
    private readonly hooks: ReplicaHooks,
    private readonly prng: Prng,
  ) {
    this.disk = new SimDisk(bootstrapVoters);
  }

  get state(): ReplicaState {
    return this.stateNow;
  }

  get isUp(): boolean {
    return this.stateNow === "up";
  }

  /** (Re)starts from the disk alone: the state machine is the snapshot, then the core replays the rest. */
  start(): void {
    assert(this.stateNow !== "up", `${this.id} is already up`);
    this.node = new RawNode(this.settings.raftConfig(this.id), this.disk.storage);
    this.sm.restore(this.disk.storage.snapshot());
    this.readyTerm = this.disk.storage.persistedHardState().term;
    this.stateNow = "up";
    this.incarnation++;
    this.replayOverlapReported = false;
    this.node.checkInvariants();
  }

  crash(): void {
    assert(this.stateNow === "up", `${this.id} is not up`);
    this.node = null;
    this.inFlight = null;
    this.confirmedReads = [];
    this.confCheckDue = false;
    this.stateNow = "down";
  }

  private get raw(): RawNode {
    assert(this.node !== null, `${this.id} is not up`);
    return this.node;
  }

  status(): Status | null {
    return this.node === null ? null : this.node.status();
  }

  checkInvariants(): void {
    this.raw.checkInvariants();
  }

  tick(): void {
    this.raw.tick();
    this.raw.checkInvariants();
  }

  step(message: Message): void {
    this.raw.step(message);
    this.raw.checkInvariants();
  }

  propose(data: Uint8Array): ProposeResult {
    const result = this.raw.propose(data);
    this.raw.checkInvariants();
    return result;
  }

  proposeConfigChange(change: ConfChange): ProposeResult {
    const result = this.raw.proposeConfigChange(change);
    this.raw.checkInvariants();
    return result;
  }

  readIndex(context: string): ReadIndexResult {
    const result = this.raw.readIndex(context);
    this.raw.checkInvariants();
    return result;
  }

  transferLeadership(to: ReplicaId): void {
    this.raw.transferLeadership(to);
    this.raw.checkInvariants();
  }

  reportLeaderConnectionLost(): void {
    this.raw.reportLeaderConnectionLost();
    this.raw.checkInvariants();
  }

  reportUnreachable(peer: ReplicaId): void {
    this.raw.reportUnreachable(peer);
    this.raw.checkInvariants();
  }

  reportSnapshot(peer: ReplicaId, ok: boolean): void {
    this.raw.reportSnapshot(peer, ok);
    this.raw.checkInvariants();
  }

  /** Takes and handles Readies until none is left, one whose write is still under way, or the per-tick bound. */
  handleReadies(now: number): void {
    for (let handled = 0; handled < simLimits.readiesPerTickMax; handled++) {
      if (this.node === null) return;
      if (this.inFlight !== null) {
        if (now < this.inFlight.doneAtTick) return;
        const { ready, term } = this.inFlight;
        this.inFlight = null;
        this.complete(ready, term);
        continue;
      }
      if (!this.node.hasReady()) {
        if (this.confCheckDue) this.crossCheckConf(this.node);
        return;
      }
      const ready = this.node.ready();
      if (ready.hardState !== null) this.readyTerm = ready.hardState.term;
      const delayTicks = readyHasWrites(ready) ? this.prng.nextInt(this.disk.persistDelayTicksMax + 1) : 0;
      if (delayTicks === 0) this.complete(ready, this.readyTerm);
      else this.inFlight = { ready, term: this.readyTerm, doneAtTick: now + delayTicks };
    }
  }

  get isPersisting(): boolean {
    return this.inFlight !== null;
  }

  /** Persist, send, apply, answer reads, advance: the order ready.ts prescribes. */
  private complete(ready: Ready, term: number): void {
    const node = this.raw;
    this.disk.write(ready);
    this.hooks.persisted(this, ready, term);
    if (ready.messages.length > 0) this.hooks.send(this, ready.messages);
    if (ready.snapshot !== null) {
      this.sm.restore(ready.snapshot);
      this.hooks.snapshotRestored(this, ready.snapshot);
    }
    this.applyEntries(ready.committedEntries);
    for (const read of ready.readStates) {
      assert(this.confirmedReads.length < simLimits.pendingReadsPerReplicaMax, "confirmed reads over their bound");
      this.confirmedReads.push(read);
    }
    this.answerReads();
    node.advance(ready);
    node.checkInvariants();
    if (ready.snapshot !== null || ready.committedEntries.some((e) => e.type === "conf-change"))
      this.confCheckDue = true;
    this.maybeSnapshot();
  }

  private applyEntries(entries: readonly Entry[]): void {
    for (const entry of entries) {
      if (entry.index <= this.sm.applied) {
        // Handed again what the state machine already holds: still checked against what was applied there.
        this.hooks.applying(this, entry);
        if (!this.replayOverlapReported) {
          this.replayOverlapReported = true;
          this.hooks.violation(
            "apply-order",
            `${this.id} (applied ${this.sm.applied}) was handed entry ${entry.index} again; restarts must replay only what follows the snapshot`,
          );
        }
        continue;
      }
      if (entry.index !== this.sm.applied + 1) {
        this.hooks.violation(
          "apply-order",
          `${this.id} was handed entry ${entry.index} to apply after ${this.sm.applied}: a gap`,
        );
        return;
      }
      const change = entry.type === "conf-change" ? decodeConfChangeData(entry.data) : null;
      this.hooks.applying(this, entry);
      const outcome = this.sm.apply(entry, change);
      this.hooks.applied(this, entry, outcome, change);
    }
  }

  private answerReads(): void {
    if (this.confirmedReads.length === 0) return;
    const ready = this.confirmedReads.filter((read) => read.index <= this.sm.applied);
    this.confirmedReads = this.confirmedReads.filter((read) => read.index > this.sm.applied);
    for (const read of ready) this.hooks.readReady(this, read.context);
  }

  /**
   * The core applies a conf change when the Ready holding it is advanced, but a snapshot's
   * configuration as soon as the snapshot arrives (as etcd does), so the two views are compared
   * only when the core has nothing more to hand out.
   */
  private crossCheckConf(node: RawNode): void {
    this.confCheckDue = false;
    const coreConf = node.status().conf;
    if (sameConf(coreConf, this.sm.conf)) return;
    this.hooks.violation(
      "conf-state",
      `${this.id} at applied ${this.sm.applied}: core has ${formatConf(coreConf)}, applied conf changes give ${formatConf(this.sm.conf)}`,
    );
  }

  /** Snapshots every so many entries and compacts, leaving a few, so laggards need InstallSnapshot. */
  private maybeSnapshot(): void {
    const storage = this.disk.storage;
    const applied = this.sm.applied;
    if (applied - storage.snapshot().meta.index < this.settings.snapshotEveryEntries) return;
    storage.createSnapshot(applied, this.sm.conf, this.sm.serialize());
    const compactTo = applied - this.settings.snapshotKeepEntries;
    if (compactTo >= storage.firstIndex()) storage.compact(compactTo);
  }
}
