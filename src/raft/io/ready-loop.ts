import { assert } from "../../lib/assert.js";
import type { Logger } from "../../lib/logger.js";
import type { RawNode } from "../core/raw-node.js";
import type { Ready } from "../core/ready.js";
import type { Message, ReplicaId, SoftState } from "../core/types.js";
import { NO_REPLICA } from "../core/types.js";
import type { ApplyQueue } from "./apply-queue.js";
import { asError } from "./as-error.js";
import { GrpcTransport } from "./grpc-transport.js";
import type { TransportSecurity } from "./transport-security.js";
import type { LevelDbLogStore } from "./leveldb-log-store.js";
import type { PendingRequests } from "./pending-requests.js";
import type { RaftNodeEmitter } from "./raft-node-events.js";

export interface ReadyLoopOptions {
  readonly id: ReplicaId;
  /** This replica's Raft address (host:port) and every replica's, this one included. */
  readonly peers: ReadonlyMap<ReplicaId, string>;
  readonly logger: Logger;
  readonly tickMs: number;
  readonly rawNode: RawNode;
  readonly store: LevelDbLogStore;
  readonly applyQueue: ApplyQueue;
  readonly requests: PendingRequests;
  readonly events: RaftNodeEmitter;
  readonly transportSecurity?: TransportSecurity;
}

/**
 * The driver of one replica's core: ticks from a timer, feeds the transport's messages in, and
 * handles each Ready as persist (one synced batch) -> send -> apply -> advance. A leader sends
 * its appends while its own write is in flight (Raft thesis §10.2.1): it never counts itself
 * before the write is done for anything it acknowledges, because applying waits for the write.
 */
export class ReadyLoop {
  readonly transport: GrpcTransport;
  private readonly options: ReadyLoopOptions;
  private readonly rawNode: RawNode;
  private tickTimer: NodeJS.Timeout | null = null;
  private processing = false;
  private processScheduled = false;
  private stopped = false;
  private fatalError: Error | null = null;
  private persistedTerm: number;
  private persistedVote: ReplicaId;
  /** When (Date.now()) a message from each peer last arrived: the leader's "last contact". */
  private readonly lastHeardMs = new Map<ReplicaId, number>();
  /** The soft state last reported as a role change; the next one is compared with it. */
  private reported: SoftState = { role: "follower", leader: NO_REPLICA };

  constructor(options: ReadyLoopOptions) {
    this.options = options;
    this.rawNode = options.rawNode;
    const { hardState } = options.store.storage.initialState();
    this.persistedTerm = hardState.term;
    this.persistedVote = hardState.vote;
    this.transport = this.createTransport();
  }

  private createTransport(): GrpcTransport {
    const { id, peers } = this.options;
    const self = peers.get(id);
    assert(self !== undefined, `replica ${id} has no Raft address among its peers`);
    return new GrpcTransport({
      id,
      listenAddress: self,
      peers,
      logger: this.options.logger,
      clusterId: this.options.store.clusterId,
      ...(this.options.transportSecurity !== undefined ? { security: this.options.transportSecurity } : {}),
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
        onRoundTrip: (peer, seconds) => this.options.events.emit("round-trip", peer, seconds),
      },
    });
  }

  async start(): Promise<void> {
    await this.transport.start();
    this.tickTimer = setInterval(() => {
      this.rawNode.tick();
      this.scheduleProcess();
    }, this.options.tickMs);
    this.scheduleProcess();
  }

  /** Stops ticking and handling Readys; resolves once the Ready in hand is done. */
  async halt(): Promise<void> {
    this.stopped = true;
    if (this.tickTimer !== null) clearInterval(this.tickTimer);
    while (this.processing) await new Promise((resolve) => setTimeout(resolve, 1));
  }

  isStopped(): boolean {
    return this.stopped;
  }

  /** The error that stopped the loop, if one did. */
  failure(): Error | null {
    return this.fatalError;
  }

  /** Term and role for log lines, read from the core now: a Ready may not have reported them yet. */
  logContext(): { term: number; role: string } {
    const { term, role } = this.rawNode.basicStatus();
    return { term, role };
  }

  /** A disk write or an invariant failed: stop serving rather than risk bad data. */
  fatal(error: Error): void {
    this.fatalError = error;
    this.options.logger.fatal(
      { ...this.logContext(), err: error.stack ?? error.message },
      "raft loop failed; stopping this replica",
    );
    this.options.events.emit("fatal", error);
  }

  /** Coalesces everything that arrives in one event-loop turn into a single Ready (group commit). */
  scheduleProcess(): void {
    if (this.processScheduled || this.stopped) return;
    this.processScheduled = true;
    setImmediate(() => {
      this.processScheduled = false;
      void this.process();
    });
  }

  /** When a message from `peer` last arrived (Date.now() ms), or undefined if none did since start. */
  lastHeardFromMs(peer: ReplicaId): number | undefined {
    return this.lastHeardMs.get(peer);
  }

  private receive(message: Message): void {
    if (this.stopped) return;
    this.lastHeardMs.set(message.from, Date.now());
    this.rawNode.step(message);
    this.scheduleProcess();
  }

  private peerConnectionLost(peer: ReplicaId): void {
    if (this.stopped) return;
    if (peer !== this.rawNode.basicStatus().leader) return;
    this.options.logger.info({ ...this.logContext(), peer }, "connection to the leader lost; pre-voting soon");
    this.rawNode.reportLeaderConnectionLost();
    this.scheduleProcess();
  }

  private async process(): Promise<void> {
    if (this.processing || this.stopped) return;
    this.processing = true;
    try {
      while (!this.stopped && this.rawNode.hasReady()) {
        await this.handleReady(this.rawNode.ready());
      }
      this.options.applyQueue.maybeSnapshot();
    } catch (error) {
      this.fatal(asError(error));
    } finally {
      this.processing = false;
    }
  }

  private async handleReady(rd: Ready): Promise<void> {
    const { store, applyQueue, requests, events } = this.options;
    const transport = this.transport;
    // The core's term as of this Ready: while its write is awaited, messages may move the core on,
    // and a role logged with a later term would be a state the replica was never in.
    const { term: readyTerm, role: readyRole } = this.rawNode.basicStatus();
    const termOrVoteChanged =
      rd.hardState !== null && (rd.hardState.term !== this.persistedTerm || rd.hardState.vote !== this.persistedVote);
    const sendEarly = readyRole === "leader" && !termOrVoteChanged;
    if (sendEarly) transport.send(rd.messages);
    const durable = rd.entries.length > 0 || rd.hardState !== null || rd.snapshot !== null;
    // Only the commit index changed: Raft may lose it, so nothing waits for this write (the
    // store still orders it before the next one, so it never overwrites a newer term or vote).
    const commitOnly = durable && rd.entries.length === 0 && rd.snapshot === null && !termOrVoteChanged;
    const started = performance.now();
    const persisted = durable
      ? store.persist({ hardState: rd.hardState, entries: rd.entries, snapshot: rd.snapshot })
      : null;
    if (rd.snapshot !== null) {
      await persisted;
      applyQueue.restore(rd.snapshot);
    }
    // Committed entries are durable on a quorum already, so they are applied while this
    // Ready's own write is in flight (etcd does the same); the write runs on libuv's pool.
    applyQueue.deliver(rd.committedEntries);
    if (persisted !== null && !commitOnly) {
      await persisted;
      if (rd.mustSync) events.emit("fsync", (performance.now() - started) / 1000);
    } else if (persisted !== null) {
      persisted.catch((error: unknown) => this.fatal(asError(error)));
    }
    if (rd.hardState !== null) {
      this.persistedTerm = rd.hardState.term;
      this.persistedVote = rd.hardState.vote;
    }
    if (!sendEarly) transport.send(rd.messages);
    this.rawNode.advance(rd);
    // The core applies conf changes in advance(): tell the process (its members directory) after it.
    if (rd.snapshot !== null || rd.committedEntries.some((entry) => entry.type === "conf-change"))
      events.emit("membership", this.rawNode.status().conf);
    if (rd.softState !== null) this.reportSoftState(rd.softState, readyTerm);
    requests.confirm(rd.readStates);
    requests.releaseReads(applyQueue.applied);
    if (rd.snapshot !== null) events.emit("applied", applyQueue.applied);
  }

  private reportSoftState(next: SoftState, term: number): void {
    const previous = this.reported;
    this.reported = next;
    const { role, leader } = next;
    this.options.logger.info(
      { term, role, leader },
      role === "leader" ? "became leader" : `role ${role}, leader ${leader || "unknown"}`,
    );
    this.options.events.emit("role-change", { role, leader, term });
    this.options.requests.softStateChanged(previous, next);
  }
}
