import { randomInt } from "node:crypto";
import { EventEmitter } from "node:events";
import { assert } from "../../lib/assert.js";
import { OrchestratorError } from "../../lib/errors.js";
import type { Logger } from "../../lib/logger.js";
import { Prng } from "../../lib/prng.js";
import { raftConfig, type RaftConfig } from "../core/config.js";
import { RawNode, type ProposeResult, type Status } from "../core/raw-node.js";
import type { Ready } from "../core/ready.js";
import type { ConfState, Entry, Message, ReplicaId, Role } from "../core/types.js";
import { NO_REPLICA } from "../core/types.js";
import { GrpcTransport } from "./grpc-transport.js";
import { LevelDbLogStore } from "./leveldb-log-store.js";

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

export interface PeerAddresses {
  readonly raft: string;
  readonly api: string;
}

export interface RaftNodeOptions {
  readonly id: ReplicaId;
  readonly peers: ReadonlyMap<ReplicaId, PeerAddresses>;
  readonly dataDir: string;
  readonly logger: Logger;
  readonly stateMachine: StateMachine;
  readonly tickMs?: number;
  /** Take a snapshot (and compact the log) after this many applied entries. */
  readonly snapshotEveryEntries?: number;
  /** Entries kept behind a snapshot so slightly lagging followers avoid a snapshot transfer. */
  readonly snapshotKeepEntries?: number;
  readonly proposalTimeoutMs?: number;
  readonly readTimeoutMs?: number;
  readonly raft?: Partial<RaftConfig>;
}

interface PendingProposal {
  readonly term: number;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

interface PendingRead {
  index: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

export interface RoleChange {
  readonly role: Role;
  readonly leader: ReplicaId;
  readonly term: number;
}

const nodeDefaults = {
  tickMs: 10,
  snapshotEveryEntries: 20_000,
  snapshotKeepEntries: 2_000,
  proposalTimeoutMs: 5_000,
  readTimeoutMs: 5_000,
  pendingProposalsMax: 100_000,
  stopTransferWaitMs: 2_000,
  /** After stepping down for a transfer, how long to wait for the new leader to show up. */
  stepDownSettleMs: 300,
  /**
   * Longest run of applying or snapshot encoding in one event-loop turn. The election timeout
   * is 300 ms; a leader busy for longer than that would look dead to its followers.
   */
  workSliceMs: 20,
} as const;

/**
 * One replica's Raft driver: ticks from a timer, feeds messages in, and handles each Ready
 * as persist (one synced batch) -> send -> apply -> advance. A leader sends its appends
 * while its own write is in flight (Raft thesis §10.2.1): it never counts itself before
 * the write is done for anything it acknowledges, because applying waits for the write.
 *
 * Events: "role-change" (RoleChange), "applied" (index), "fsync" (seconds),
 * "round-trip" (peer, seconds), "proposal" ("committed" | "failed").
 */
export class RaftNode extends EventEmitter {
  readonly id: ReplicaId;
  private readonly options: RaftNodeOptions;
  private readonly store: LevelDbLogStore;
  private readonly rawNode: RawNode;
  private readonly transport: GrpcTransport;
  private readonly stateMachine: StateMachine;
  private readonly tickMs: number;
  private tickTimer: NodeJS.Timeout | null = null;
  private processing = false;
  private processScheduled = false;
  private stopped = false;
  private readonly proposals = new Map<number, PendingProposal>();
  private readonly reads = new Map<string, PendingRead>();
  private readsConfirmed: PendingRead[] = [];
  private readCounter = 0;
  private role: Role = "follower";
  private leader: ReplicaId = NO_REPLICA;
  private persistedTerm: number;
  private persistedVote: ReplicaId;
  private lastSnapshotIndex: number;
  /** The commit index on disk at start: /readyz waits until it is applied. */
  readonly startCommitIndex: number;
  private fatalError: Error | null = null;
  /** The last snapshot task (settled when none runs); stop() waits for it. */
  private snapshotTask: Promise<void> = Promise.resolve();
  /**
   * The index the state machine has applied. The core's applied index runs ahead of it while
   * committed entries wait in applyQueue: behind a snapshot being encoded, or beyond one
   * turn's work slice. Everything outside the driver sees this one (status(), reads, /readyz).
   */
  private fsmApplied: number;
  /** Committed entries handed over by the core and not applied yet, oldest first from applyHead. */
  private applyQueue: Entry[] = [];
  private applyHead = 0;
  private drainScheduled = false;
  /** The snapshot being encoded in slices; the state machine is frozen meanwhile. */
  private snapshotting: { abandoned: boolean } | null = null;

  private constructor(options: RaftNodeOptions, store: LevelDbLogStore, transport: GrpcTransport | null) {
    super();
    this.id = options.id;
    this.options = options;
    this.store = store;
    this.stateMachine = options.stateMachine;
    this.tickMs = options.tickMs ?? nodeDefaults.tickMs;
    const { hardState } = store.storage.initialState();
    this.persistedTerm = hardState.term;
    this.persistedVote = hardState.vote;
    this.startCommitIndex = hardState.commit;
    const snapshot = store.storage.snapshot();
    this.lastSnapshotIndex = snapshot.meta.index;
    this.fsmApplied = snapshot.meta.index;
    if (snapshot.meta.index > 0) this.stateMachine.restore(snapshot.data);
    const config = raftConfig({
      id: options.id,
      random: new Prng(randomInt(0x7fffffff)),
      lazyCommitBroadcast: true,
      ...options.raft,
    });
    this.rawNode = new RawNode(config, store.storage);
    this.transport = transport ?? this.createTransport();
  }

  static async open(options: RaftNodeOptions): Promise<RaftNode> {
    const voters = [...options.peers.keys()].sort();
    assert(voters.includes(options.id), `replica ${options.id} is not among its peers`);
    const store = await LevelDbLogStore.open(options.dataDir, {
      initialConf: { voters, learners: [] },
    });
    return new RaftNode(options, store, null);
  }

  private createTransport(): GrpcTransport {
    const self = this.options.peers.get(this.id);
    assert(self !== undefined, "own address missing");
    const raftPeers = new Map<ReplicaId, string>();
    for (const [id, addresses] of this.options.peers) if (id !== this.id) raftPeers.set(id, addresses.raft);
    return new GrpcTransport({
      id: this.id,
      listenAddress: self.raft,
      peers: raftPeers,
      logger: this.options.logger,
      handlers: {
        onMessage: (m) => this.receive(m),
        onPeerConnectionLost: (peer) => this.peerConnectionLost(peer),
        onUnreachable: (peer) => {
          this.rawNode.reportUnreachable(peer);
          this.scheduleProcess();
        },
        onSnapshotStatus: (peer, ok) => {
          this.rawNode.reportSnapshot(peer, ok);
          this.scheduleProcess();
        },
        onRoundTrip: (peer, seconds) => this.emit("round-trip", peer, seconds),
      },
    });
  }

  async start(): Promise<void> {
    await this.transport.start();
    this.tickTimer = setInterval(() => {
      this.rawNode.tick();
      this.scheduleProcess();
    }, this.tickMs);
    this.scheduleProcess();
  }

  // ------------------------------------------------------------ client-facing

  /** Proposes a command and resolves with the state machine's result once it is applied here. */
  propose(data: Uint8Array): Promise<unknown> {
    this.throwIfFatal();
    if (this.proposals.size >= nodeDefaults.pendingProposalsMax) {
      return Promise.reject(
        new OrchestratorError("RESOURCE_EXHAUSTED", "too many proposals in flight on this replica; retry shortly"),
      );
    }
    const result = this.rawNode.propose(data);
    if (!result.ok) return Promise.reject(this.proposeError(result));
    this.scheduleProcess();
    return new Promise<unknown>((resolve, reject) => {
      const timeoutMs = this.options.proposalTimeoutMs ?? nodeDefaults.proposalTimeoutMs;
      const timer = setTimeout(() => {
        this.proposals.delete(result.index);
        reject(
          new OrchestratorError(
            "DEADLINE_EXCEEDED",
            `the write was not committed within ${timeoutMs} ms; it may still be applied — retry with the same request id`,
          ),
        );
      }, timeoutMs);
      this.proposals.set(result.index, { term: result.term, resolve, reject, timer });
    });
  }

  /** Resolves once this replica's state reflects every write committed before the call (ReadIndex). */
  linearizableRead(): Promise<void> {
    this.throwIfFatal();
    const context = `${this.id}:${++this.readCounter}`;
    const result = this.rawNode.readIndex(context);
    if (!result.ok) {
      if (result.error === "not-leader") return Promise.reject(this.notLeaderError(result.leader));
      return Promise.reject(new OrchestratorError("RESOURCE_EXHAUSTED", "too many reads in flight; retry shortly"));
    }
    this.scheduleProcess();
    return new Promise<void>((resolve, reject) => {
      const timeoutMs = this.options.readTimeoutMs ?? nodeDefaults.readTimeoutMs;
      const timer = setTimeout(() => {
        this.reads.delete(context);
        this.readsConfirmed = this.readsConfirmed.filter((r) => r.timer !== timer);
        reject(
          new OrchestratorError("UNAVAILABLE", `the leader did not confirm the read within ${timeoutMs} ms; retry`),
        );
      }, timeoutMs);
      this.reads.set(context, { index: -1, resolve, reject, timer });
    });
  }

  /** Hands leadership to `to` (or the most up-to-date follower) and waits for the new leader. */
  async transferLeadership(to?: ReplicaId, timeoutMs = nodeDefaults.stopTransferWaitMs): Promise<ReplicaId> {
    const status = this.rawNode.status();
    if (status.role !== "leader") throw this.notLeaderError(status.leader);
    const target = to ?? this.bestTransferTarget(status);
    if (target === undefined)
      throw new OrchestratorError("FAILED_PRECONDITION", "no other voting replica to hand leadership to");
    if (!status.conf.voters.includes(target) || target === this.id) {
      throw new OrchestratorError(
        "INVALID_ARGUMENT",
        `replica ${target} is not another voting member (voters: ${status.conf.voters.join(", ")})`,
      );
    }
    this.rawNode.transferLeadership(target);
    this.scheduleProcess();
    const deadline = Date.now() + timeoutMs;
    let steppedDownAt: number | null = null;
    while (Date.now() < deadline) {
      await sleep(this.tickMs);
      const now = this.rawNode.status();
      if (now.role === "leader") continue;
      if (now.leader !== NO_REPLICA) return now.leader;
      // We handed over but nobody leads yet (e.g. the whole cluster is stopping): don't wait long.
      steppedDownAt ??= Date.now();
      if (Date.now() - steppedDownAt > nodeDefaults.stepDownSettleMs) {
        throw new OrchestratorError("UNAVAILABLE", `stepped down for ${target}, but no new leader appeared yet`);
      }
    }
    throw new OrchestratorError("DEADLINE_EXCEEDED", `leadership did not move to ${target} within ${timeoutMs} ms`);
  }

  /** The core's status, with `applied` the state machine's (see fsmApplied). */
  status(): Status {
    return { ...this.rawNode.status(), applied: this.fsmApplied };
  }

  leaderId(): ReplicaId {
    return this.leader;
  }

  isLeader(): boolean {
    return this.role === "leader";
  }

  peers(): ReadonlyMap<ReplicaId, PeerAddresses> {
    return this.options.peers;
  }

  /** Ready for traffic: a leader is known and everything committed before the restart is applied. */
  isCaughtUp(): boolean {
    const status = this.rawNode.status();
    return status.leader !== NO_REPLICA && this.fsmApplied >= this.startCommitIndex;
  }

  storeStats(): ReturnType<LevelDbLogStore["stats"]> {
    return this.store.stats();
  }

  async stop(options: { transferLeadership: boolean } = { transferLeadership: false }): Promise<void> {
    if (this.stopped) return;
    if (options.transferLeadership && this.isLeader()) {
      try {
        const to = await this.transferLeadership();
        this.options.logger.info(
          { term: this.rawNode.status().term, role: this.role, to },
          "handed leadership over before stopping",
        );
      } catch (error) {
        this.options.logger.warn(
          { term: this.rawNode.status().term, role: this.role, err: String(error) },
          "leadership transfer before stopping failed",
        );
      }
    }
    this.stopped = true;
    if (this.tickTimer !== null) clearInterval(this.tickTimer);
    while (this.processing) await sleep(1);
    // A snapshot being encoded stops at its next slice; one being saved finishes first.
    if (this.snapshotting !== null) this.snapshotting.abandoned = true;
    await this.snapshotTask;
    await this.transport.stop();
    await this.store.close();
    this.failAllPending(new OrchestratorError("UNAVAILABLE", "replica is shutting down; retry on another replica"));
  }

  // ------------------------------------------------------------ the loop

  private receive(message: Message): void {
    if (this.stopped) return;
    this.rawNode.step(message);
    this.scheduleProcess();
  }

  private peerConnectionLost(peer: ReplicaId): void {
    if (this.stopped) return;
    if (peer !== this.rawNode.status().leader) return;
    this.options.logger.info(
      { term: this.rawNode.status().term, role: this.role, peer },
      "connection to the leader lost; pre-voting soon",
    );
    this.rawNode.reportLeaderConnectionLost();
    this.scheduleProcess();
  }

  /** Coalesces everything that arrives in one event-loop turn into a single Ready (group commit). */
  private scheduleProcess(): void {
    if (this.processScheduled || this.stopped) return;
    this.processScheduled = true;
    setImmediate(() => {
      this.processScheduled = false;
      void this.process();
    });
  }

  private async process(): Promise<void> {
    if (this.processing || this.stopped) return;
    this.processing = true;
    try {
      while (!this.stopped && this.rawNode.hasReady()) {
        await this.handleReady(this.rawNode.ready());
      }
      this.maybeSnapshot();
    } catch (error) {
      // A failed disk write or a broken invariant: stop serving rather than risk bad data.
      this.fatal(asError(error));
    } finally {
      this.processing = false;
    }
  }

  private async handleReady(rd: Ready): Promise<void> {
    const termOrVoteChanged =
      rd.hardState !== null && (rd.hardState.term !== this.persistedTerm || rd.hardState.vote !== this.persistedVote);
    const sendEarly = this.rawNode.status().role === "leader" && !termOrVoteChanged;
    if (sendEarly) this.transport.send(rd.messages);
    const durable = rd.entries.length > 0 || rd.hardState !== null || rd.snapshot !== null;
    // Only the commit index changed: Raft may lose it, so nothing waits for this write (the
    // store still orders it before the next one, so it never overwrites a newer term or vote).
    const commitOnly = durable && rd.entries.length === 0 && rd.snapshot === null && !termOrVoteChanged;
    const started = performance.now();
    const persisted = durable
      ? this.store.persist({ hardState: rd.hardState, entries: rd.entries, snapshot: rd.snapshot })
      : null;
    if (rd.snapshot !== null) {
      await persisted;
      // The leader's snapshot replaces our state: our own in progress and what waited are moot.
      if (this.snapshotting !== null) this.snapshotting.abandoned = true;
      this.snapshotting = null;
      this.applyQueue = [];
      this.applyHead = 0;
      this.stateMachine.restore(rd.snapshot.data);
      this.lastSnapshotIndex = rd.snapshot.meta.index;
      this.fsmApplied = rd.snapshot.meta.index;
    }
    // Committed entries are durable on a quorum already, so they are applied while this
    // Ready's own write is in flight (etcd does the same); the write runs on libuv's pool.
    this.deliverCommitted(rd.committedEntries);
    if (persisted !== null && !commitOnly) {
      await persisted;
      if (rd.mustSync) this.emit("fsync", (performance.now() - started) / 1000);
    } else if (persisted !== null) {
      persisted.catch((error: unknown) => this.fatal(asError(error)));
    }
    if (rd.hardState !== null) {
      this.persistedTerm = rd.hardState.term;
      this.persistedVote = rd.hardState.vote;
    }
    if (!sendEarly) this.transport.send(rd.messages);
    this.rawNode.advance(rd);
    if (rd.softState !== null) this.onSoftState(rd.softState.role, rd.softState.leader);
    for (const rs of rd.readStates) {
      const read = this.reads.get(rs.context);
      if (read === undefined) continue;
      this.reads.delete(rs.context);
      read.index = rs.index;
      this.readsConfirmed.push(read);
    }
    this.releaseReads();
    if (rd.snapshot !== null) this.emit("applied", this.fsmApplied);
  }

  /** Queues committed entries and applies what a turn's work slice allows now (none while a snapshot is encoded). */
  private deliverCommitted(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    for (const entry of entries) this.applyQueue.push(entry);
    if (this.snapshotting === null && this.fatalError === null) this.applySlice();
  }

  private scheduleDrain(): void {
    if (this.drainScheduled || this.stopped || this.snapshotting !== null) return;
    this.drainScheduled = true;
    setImmediate(() => {
      this.drainScheduled = false;
      this.drain();
    });
  }

  private drain(): void {
    if (this.stopped || this.snapshotting !== null || this.fatalError !== null) return;
    this.applySlice();
  }

  /** Applies queued entries for one work slice; the rest wait for a later turn. */
  private applySlice(): void {
    const started = performance.now();
    try {
      while (this.applyHead < this.applyQueue.length && performance.now() - started < nodeDefaults.workSliceMs) {
        this.applyEntry(this.applyQueue[this.applyHead++]);
      }
    } catch (error) {
      this.fatal(asError(error));
      return;
    }
    if (this.applyHead === this.applyQueue.length) {
      this.applyQueue = [];
      this.applyHead = 0;
    }
    this.releaseReads();
    this.emit("applied", this.fsmApplied);
    if (this.applyHead < this.applyQueue.length) this.scheduleDrain();
    else this.maybeSnapshot();
  }

  private applyEntry(entry: Entry): void {
    this.fsmApplied = entry.index;
    let result: unknown = undefined;
    if (entry.type === "normal" && entry.data.byteLength > 0) result = this.stateMachine.apply(entry.index, entry.data);
    const pending = this.proposals.get(entry.index);
    if (pending === undefined) return;
    this.proposals.delete(entry.index);
    clearTimeout(pending.timer);
    if (pending.term === entry.term) {
      this.emit("proposal", "committed");
      pending.resolve(result);
    } else {
      this.emit("proposal", "failed");
      pending.reject(
        new OrchestratorError(
          "UNAVAILABLE",
          "leadership changed before the write committed; it was not applied — retry",
        ),
      );
    }
  }

  private releaseReads(): void {
    if (this.readsConfirmed.length === 0) return;
    const applied = this.fsmApplied;
    const waiting: PendingRead[] = [];
    for (const read of this.readsConfirmed) {
      if (read.index <= applied) {
        clearTimeout(read.timer);
        read.resolve();
      } else {
        waiting.push(read);
      }
    }
    this.readsConfirmed = waiting;
  }

  private onSoftState(role: Role, leader: ReplicaId): void {
    const wasLeader = this.role === "leader";
    this.role = role;
    this.leader = leader;
    const term = this.rawNode.status().term;
    this.options.logger.info(
      { term, role, leader },
      role === "leader" ? "became leader" : `role ${role}, leader ${leader || "unknown"}`,
    );
    this.emit("role-change", { role, leader, term } satisfies RoleChange);
    if (wasLeader && role !== "leader") {
      // Reads waiting for this leader's confirmation will never get it.
      const error = this.notLeaderError(leader);
      for (const read of this.reads.values()) {
        clearTimeout(read.timer);
        read.reject(error);
      }
      this.reads.clear();
    }
  }

  /**
   * Takes a snapshot once `snapshotEveryEntries` were applied since the last: encoded a slice
   * per turn (the Raft loop keeps heartbeating; committed entries wait in the queue), then
   * written and the log compacted. Only when the state machine has caught up with the core, so
   * the core's configuration is the one at the snapshot's index.
   */
  private maybeSnapshot(): void {
    if (this.stopped || this.snapshotting !== null || this.fatalError !== null) return;
    const every = this.options.snapshotEveryEntries ?? nodeDefaults.snapshotEveryEntries;
    if (this.fsmApplied - this.lastSnapshotIndex < every) return;
    const status = this.rawNode.status();
    if (status.applied !== this.fsmApplied || this.applyHead < this.applyQueue.length) return;
    const task = { abandoned: false };
    this.snapshotting = task;
    this.snapshotTask = this.takeSnapshot(task, status.applied, status.conf, status.term, status.role).catch(
      (error: unknown) => {
        this.fatal(asError(error));
      },
    );
  }

  private async takeSnapshot(
    task: { abandoned: boolean },
    index: number,
    conf: ConfState,
    term: number,
    role: Role,
  ): Promise<void> {
    const steps = this.stateMachine.snapshotSteps?.();
    let data: Uint8Array;
    if (steps === undefined) {
      data = this.stateMachine.snapshot();
    } else {
      for (;;) {
        const started = performance.now();
        let step = steps.next();
        while (step.done !== true && performance.now() - started < nodeDefaults.workSliceMs) step = steps.next();
        if (step.done === true) {
          data = step.value;
          break;
        }
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (task.abandoned || this.snapshotting !== task || this.stopped) {
          steps.return(new Uint8Array());
          return;
        }
      }
    }
    // The state is free again: what waited is applied while the file is written.
    if (this.snapshotting === task) this.snapshotting = null;
    this.lastSnapshotIndex = Math.max(this.lastSnapshotIndex, index);
    this.scheduleDrain();
    const keep = this.options.snapshotKeepEntries ?? nodeDefaults.snapshotKeepEntries;
    await this.store.saveSnapshot(index, conf, data, keep);
    this.options.logger.info({ term, role, index, bytes: data.byteLength }, "snapshot taken, log compacted");
  }

  // ------------------------------------------------------------ errors

  private proposeError(result: Extract<ProposeResult, { ok: false }>): OrchestratorError {
    switch (result.error) {
      case "not-leader":
        return this.notLeaderError(result.leader);
      case "transfer-in-progress":
        return new OrchestratorError("UNAVAILABLE", "leadership is being transferred; retry in a moment", {
          leaderId: result.leader,
        });
      case "uncommitted-limit":
        return new OrchestratorError(
          "RESOURCE_EXHAUSTED",
          "too much uncommitted data; the followers are behind — retry shortly",
        );
      case "too-large":
        return new OrchestratorError("INVALID_ARGUMENT", "the command is larger than a Raft message may be");
      case "conf-change-pending":
      case "invalid-conf-change":
        return new OrchestratorError("FAILED_PRECONDITION", `membership change refused: ${result.error}`);
    }
  }

  notLeaderError(leader: ReplicaId): OrchestratorError {
    const details: Record<string, string> = {};
    const address = leader === NO_REPLICA ? undefined : this.options.peers.get(leader)?.api;
    if (address !== undefined) {
      details["leaderId"] = leader;
      details["leaderAddress"] = address;
    }
    const message =
      address === undefined
        ? `replica ${this.id} is not the leader and no leader is known yet (election in progress); retry shortly`
        : `replica ${this.id} is not the leader; the leader is ${leader} at ${address}`;
    return new OrchestratorError("UNAVAILABLE", message, details);
  }

  private bestTransferTarget(status: Status): ReplicaId | undefined {
    let best: ReplicaId | undefined;
    let bestMatch = -1;
    for (const id of status.conf.voters) {
      if (id === this.id) continue;
      const match = status.progress.get(id)?.match ?? 0;
      if (match > bestMatch) {
        best = id;
        bestMatch = match;
      }
    }
    return best;
  }

  private throwIfFatal(): void {
    if (this.fatalError !== null)
      throw new OrchestratorError(
        "UNAVAILABLE",
        `replica ${this.id} stopped after an internal error: ${this.fatalError.message}`,
      );
    if (this.stopped)
      throw new OrchestratorError("UNAVAILABLE", `replica ${this.id} is shutting down; retry on another replica`);
  }

  private fatal(error: Error): void {
    this.fatalError = error;
    this.options.logger.fatal(
      { term: this.rawNode.status().term, role: this.role, err: error.stack ?? error.message },
      "raft loop failed; stopping this replica",
    );
    this.emit("fatal", error);
  }

  private failAllPending(error: Error): void {
    for (const p of this.proposals.values()) {
      clearTimeout(p.timer);
      p.reject(error);
    }
    this.proposals.clear();
    for (const r of [...this.reads.values(), ...this.readsConfirmed]) {
      clearTimeout(r.timer);
      r.reject(error);
    }
    this.reads.clear();
    this.readsConfirmed = [];
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
