import { randomInt } from "node:crypto";
import { assert, assertNever } from "../../lib/assert.js";
import type { Logger } from "../../lib/logger.js";
import { Prng } from "../../lib/prng.js";
import { raftConfig, type RaftConfig } from "../core/config.js";
import { RawNode } from "../core/raw-node.js";
import type { ProposeResult, Status } from "../core/results.js";
import type { ConfChange, ConfState, ReplicaId } from "../core/types.js";
import { foundingClusterId } from "./cluster-id.js";
import { forceNewCluster } from "./force-new-cluster.js";
import { NO_REPLICA } from "../core/types.js";
import { ApplyQueue } from "./apply-queue.js";
import { LevelDbLogStore } from "./leveldb-log-store.js";
import { PendingRequests } from "./pending-requests.js";
import { RaftError, type RaftFailure } from "./raft-error.js";
import { RaftNodeEmitter, type RaftNodeEventName, type RaftNodeEvents } from "./raft-node-events.js";
import { ReadyLoop } from "./ready-loop.js";
import type { RejectReason, TransportSecurity } from "./transport-security.js";
import type { StateMachine } from "./state-machine.js";

export type { StateMachine } from "./state-machine.js";
export type { RoleChange, RaftNodeEvents } from "./raft-node-events.js";

export interface RaftNodeOptions {
  readonly id: ReplicaId;
  /**
   * Every replica's Raft address (host:port), this one's included; its keys are the initial
   * voters, unless `join` is set. Later changes come through setPeers().
   */
  readonly peers: ReadonlyMap<ReplicaId, string>;
  /**
   * A new member: a store created now starts empty (no bootstrap voters) and learns the
   * configuration from the leader's log or snapshot. Ignored when the store exists.
   */
  readonly join?: boolean;
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
  /** A forwarded read unanswered this long is asked again (its message may have been lost). */
  readonly readRetryMs?: number;
  readonly raft?: Partial<RaftConfig>;
  /** Mutual TLS between replicas (certificates name the peers); plaintext when absent. */
  readonly transportSecurity?: TransportSecurity;
  /**
   * The cluster this replica was told it belongs to (a joiner): a new store takes it, an existing
   * store must hold it (ClusterIdMismatchError). Founding replicas leave it out and derive one.
   */
  readonly clusterId?: string;
  /** Mixed into the founding derivation (--cluster-token), so clusters with the same replica ids differ. */
  readonly clusterToken?: string;
  /**
   * Disaster recovery after a majority is lost (--force-new-cluster): before starting, fold every
   * entry this replica holds into a snapshot with itself as the only voter and a fresh cluster id.
   */
  readonly forceNewCluster?: boolean;
}

/** A consistent copy of the state machine for a backup (see RaftNode.captureSnapshot). */
export interface CapturedSnapshot {
  readonly index: number;
  readonly term: number;
  readonly conf: ConfState;
  readonly clusterId: string;
  readonly data: Uint8Array;
}

const nodeDefaults = {
  tickMs: 10,
  snapshotEveryEntries: 20_000,
  snapshotKeepEntries: 2_000,
  proposalTimeoutMs: 5_000,
  readTimeoutMs: 5_000,
  /** Well above a healthy round trip, well below readTimeoutMs: a lost request costs this much. */
  readRetryMs: 500,
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
 * One replica's Raft, as the rest of the process sees it: propose, read, transfer leadership,
 * status and events. Built from etcd's parts: the Ready loop drives the core (ready-loop.ts),
 * committed entries and snapshots go through the apply queue (apply-queue.ts), and proposals and
 * reads wait in a registry until answered (pending-requests.ts). Everything it refuses, it
 * refuses with a RaftError; it knows no client address.
 */
export class RaftNode {
  readonly id: ReplicaId;
  /** The commit index on disk at start: /readyz waits until it is applied. */
  readonly startCommitIndex: number;
  private readonly options: RaftNodeOptions;
  private readonly store: LevelDbLogStore;
  private readonly rawNode: RawNode;
  private readonly events = new RaftNodeEmitter();
  private readonly requests: PendingRequests;
  private readonly applyQueue: ApplyQueue;
  private readonly loop: ReadyLoop;
  private currentPeers: ReadonlyMap<ReplicaId, string>;

  private constructor(options: RaftNodeOptions, store: LevelDbLogStore) {
    this.id = options.id;
    this.options = options;
    this.currentPeers = options.peers;
    this.store = store;
    this.startCommitIndex = store.storage.initialState().hardState.commit;
    const config = raftConfig({
      id: options.id,
      random: new Prng(randomInt(0x7fffffff)),
      lazyCommitBroadcast: true,
      ...options.raft,
    });
    this.requests = new PendingRequests(
      {
        id: options.id,
        readIndex: (context) => {
          const result = this.rawNode.readIndex(context);
          if (result.ok) this.loop.scheduleProcess();
          return result;
        },
        isLeader: () => this.isLeader(),
        proposalOutcome: (outcome) => this.events.emit("proposal", outcome),
      },
      {
        proposalTimeoutMs: options.proposalTimeoutMs ?? nodeDefaults.proposalTimeoutMs,
        readTimeoutMs: options.readTimeoutMs ?? nodeDefaults.readTimeoutMs,
        readRetryMs: options.readRetryMs ?? nodeDefaults.readRetryMs,
        pendingProposalsMax: nodeDefaults.pendingProposalsMax,
      },
    );
    // Restores the state machine from the snapshot before the core replays the entries after it.
    this.applyQueue = new ApplyQueue(
      {
        stateMachine: options.stateMachine,
        logger: options.logger,
        coreStatus: () => this.rawNode.status(),
        saveSnapshot: (index, conf, data, keep) => this.store.saveSnapshot(index, conf, data, keep),
        entryApplied: (entry, result) => this.requests.applied(entry, result),
        appliedThrough: (index) => {
          this.requests.releaseReads(index);
          this.events.emit("applied", index);
        },
        stopped: () => this.loop.isStopped(),
        failed: () => this.loop.failure() !== null,
        fatal: (error) => this.loop.fatal(error),
      },
      {
        snapshotEveryEntries: options.snapshotEveryEntries ?? nodeDefaults.snapshotEveryEntries,
        snapshotKeepEntries: options.snapshotKeepEntries ?? nodeDefaults.snapshotKeepEntries,
        workSliceMs: nodeDefaults.workSliceMs,
      },
      store.storage.snapshot(),
    );
    this.rawNode = new RawNode(config, store.storage);
    this.loop = new ReadyLoop({
      id: options.id,
      peers: options.peers,
      logger: options.logger,
      tickMs: options.tickMs ?? nodeDefaults.tickMs,
      rawNode: this.rawNode,
      store,
      applyQueue: this.applyQueue,
      requests: this.requests,
      events: this.events,
      ...(options.transportSecurity !== undefined ? { transportSecurity: options.transportSecurity } : {}),
    });
  }

  /** Raft streams and messages refused by the transport, by reason. */
  rejectedMessageCounts(): ReadonlyMap<RejectReason, number> {
    return this.loop.transport.rejectedCounts();
  }

  static async open(options: RaftNodeOptions): Promise<RaftNode> {
    assert(options.peers.has(options.id), `replica ${options.id} is not among its peers`);
    const voters = options.join === true ? [] : [...options.peers.keys()].sort();
    const store = await LevelDbLogStore.open(options.dataDir, {
      initialConf: { voters, learners: [] },
      foundingClusterId: foundingClusterId(options.peers.keys(), options.clusterToken),
      ...(options.clusterId !== undefined ? { clusterId: options.clusterId } : {}),
    });
    try {
      if (options.forceNewCluster === true)
        await forceNewCluster(store, options.stateMachine, options.id, options.logger);
    } catch (error) {
      await store.close();
      throw error;
    }
    return new RaftNode(options, store);
  }

  /** The cluster this replica belongs to (cluster-id.ts): a joiner must be created with the leader's. */
  get clusterId(): string {
    return this.store.clusterId;
  }

  /**
   * The state machine as of a committed index, for `orchctl snapshot save`: only the leader
   * serves it, after a ReadIndex barrier, so every write acknowledged before the call is in it.
   */
  async captureSnapshot(): Promise<CapturedSnapshot> {
    if (!this.isLeader()) throw this.notLeaderError();
    await this.linearizableRead();
    const captured = await this.applyQueue.capture(this.options.readTimeoutMs ?? nodeDefaults.readTimeoutMs);
    if (captured === null) {
      this.throwIfUnavailable();
      throw this.error({ kind: "capture-interrupted" });
    }
    const term = this.store.storage.term(captured.index);
    assert(term !== undefined, `the term of applied entry ${captured.index} is unknown`);
    return { ...captured, term, clusterId: this.store.clusterId };
  }

  async start(): Promise<void> {
    await this.loop.start();
  }

  on<K extends RaftNodeEventName>(event: K, listener: (...args: RaftNodeEvents[K]) => void): this {
    this.events.on(event, listener);
    return this;
  }

  off<K extends RaftNodeEventName>(event: K, listener: (...args: RaftNodeEvents[K]) => void): this {
    this.events.off(event, listener);
    return this;
  }

  // ------------------------------------------------------------ requests

  /** Proposes a command and resolves with the state machine's result once it is applied here. */
  propose(data: Uint8Array): Promise<unknown> {
    this.throwIfUnavailable();
    if (this.requests.proposalsFull()) return Promise.reject(this.error({ kind: "overloaded", what: "proposals" }));
    const result = this.rawNode.propose(data);
    if (!result.ok) return Promise.reject(this.error(proposeFailure(result)));
    this.loop.scheduleProcess();
    return this.requests.waitForProposal(result.index, result.term);
  }

  /**
   * Proposes a one-server membership change and resolves once it is applied here (the
   * configuration has changed on this replica). Refusals (another change pending, a learner
   * behind, an unknown replica) reject with a RaftError of kind conf-change-refused.
   */
  async proposeConfChange(change: ConfChange): Promise<void> {
    this.throwIfUnavailable();
    const result = this.rawNode.proposeConfigChange(change);
    if (!result.ok) throw this.error(proposeFailure(result));
    this.loop.scheduleProcess();
    await this.requests.waitForProposal(result.index, result.term);
  }

  /** Resolves once this replica's state reflects every write committed before the call (ReadIndex). */
  linearizableRead(): Promise<void> {
    this.throwIfUnavailable();
    return this.requests.startRead();
  }

  /** Hands leadership to `to` (or the most up-to-date follower) and waits for the new leader. */
  async transferLeadership(to?: ReplicaId, timeoutMs: number = nodeDefaults.stopTransferWaitMs): Promise<ReplicaId> {
    const status = this.rawNode.status();
    if (status.role !== "leader") throw this.notLeaderError(status.leader);
    const target = to ?? this.bestTransferTarget(status);
    if (target === undefined) throw this.error({ kind: "no-transfer-target" });
    if (!status.conf.voters.includes(target) || target === this.id)
      throw this.error({ kind: "not-a-voter", target, voters: status.conf.voters });
    this.rawNode.transferLeadership(target);
    this.loop.scheduleProcess();
    const deadline = Date.now() + timeoutMs;
    let steppedDownAt: number | null = null;
    while (Date.now() < deadline) {
      await sleep(this.options.tickMs ?? nodeDefaults.tickMs);
      const now = this.rawNode.basicStatus();
      if (now.role === "leader") continue;
      if (now.leader !== NO_REPLICA) return now.leader;
      // We handed over but nobody leads yet (e.g. the whole cluster is stopping): don't wait long.
      steppedDownAt ??= Date.now();
      if (Date.now() - steppedDownAt > nodeDefaults.stepDownSettleMs)
        throw this.error({ kind: "transfer-stalled", target });
    }
    throw this.error({ kind: "timed-out", what: "transfer", timeoutMs, target });
  }

  /** The refusal a replica that does not lead gives; `leader` defaults to the one the core knows now. */
  notLeaderError(leader: ReplicaId = this.leaderId()): RaftError {
    return this.error({ kind: "not-leader", leaderId: leader });
  }

  // ------------------------------------------------------------ status

  /** The core's status, with `applied` the state machine's (see ApplyQueue). */
  status(): Status {
    return { ...this.rawNode.status(), applied: this.applyQueue.applied };
  }

  /** The leader the core knows now (NO_REPLICA: none). */
  leaderId(): ReplicaId {
    return this.rawNode.basicStatus().leader;
  }

  /** Whether the core leads now; "role-change" follows once the Ready that says so is handled. */
  isLeader(): boolean {
    return this.rawNode.basicStatus().role === "leader";
  }

  /** Every replica's Raft address, this one's included. */
  peers(): ReadonlyMap<ReplicaId, string> {
    return this.currentPeers;
  }

  /**
   * Replaces the Raft addresses the transport knows (a member added, moved or removed): new
   * peers' streams open, removed ones close, and messages from unknown replicas are refused.
   */
  setPeers(peers: ReadonlyMap<ReplicaId, string>): void {
    this.currentPeers = peers;
    this.loop.transport.setPeers(peers);
  }

  /** The configuration as the core knows it now. */
  confState(): ConfState {
    return this.rawNode.status().conf;
  }

  /** When a message from `peer` last arrived here (Date.now() ms); undefined: none since start. */
  lastHeardFromMs(peer: ReplicaId): number | undefined {
    return this.loop.lastHeardFromMs(peer);
  }

  /** Ready for traffic: a leader is known and everything committed before the restart is applied. */
  isCaughtUp(): boolean {
    return this.leaderId() !== NO_REPLICA && this.applyQueue.applied >= this.startCommitIndex;
  }

  storeStats(): ReturnType<LevelDbLogStore["stats"]> {
    return this.store.stats();
  }

  /** Reads waiting for an answer; for tests and metrics. */
  pendingReads(): { readonly unconfirmed: number; readonly confirmed: number } {
    return this.requests.pendingReads();
  }

  // ------------------------------------------------------------ shutdown

  async stop(options: { transferLeadership: boolean } = { transferLeadership: false }): Promise<void> {
    if (this.loop.isStopped()) return;
    if (options.transferLeadership && this.isLeader()) {
      try {
        const to = await this.transferLeadership();
        this.options.logger.info({ ...this.loop.logContext(), to }, "handed leadership over before stopping");
      } catch (error) {
        this.options.logger.warn(
          { ...this.loop.logContext(), err: String(error) },
          "leadership transfer before stopping failed",
        );
      }
    }
    await this.loop.halt();
    await this.applyQueue.stop();
    await this.loop.transport.stop();
    await this.store.close();
    this.requests.failAll({ kind: "stopped" });
  }

  // ------------------------------------------------------------ internals

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

  private throwIfUnavailable(): void {
    const failure = this.loop.failure();
    if (failure !== null) throw this.error({ kind: "fatal", message: failure.message });
    if (this.loop.isStopped()) throw this.error({ kind: "stopped" });
  }

  private error(failure: RaftFailure): RaftError {
    return new RaftError(this.id, failure);
  }
}

function proposeFailure(result: Extract<ProposeResult, { ok: false }>): RaftFailure {
  switch (result.error) {
    case "not-leader":
      return { kind: "not-leader", leaderId: result.leader };
    case "transfer-in-progress":
      return { kind: "transferring", leaderId: result.leader };
    case "uncommitted-limit":
      return { kind: "overloaded", what: "uncommitted-bytes" };
    case "too-large":
      return { kind: "too-large" };
    case "conf-change-pending":
    case "invalid-conf-change":
      return { kind: "conf-change-refused", detail: result.error };
    default:
      return assertNever(result.error);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
