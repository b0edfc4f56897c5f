import type { RaftConfig } from "./config.js";
import type { LogStorage } from "./log-storage.js";
import { Raft } from "./raft.js";
import type { Ready } from "./ready.js";
import type { BasicStatus, ProposeResult, ReadIndexResult, Status } from "./results.js";
import type { ConfChange, Message, ReplicaId } from "./types.js";

/**
 * The application's handle on the pure Raft core. Inputs: tick, step, propose, readIndex,
 * transferLeadership, proposeConfigChange and the transport's reports. Output: a Ready,
 * which the application handles (persist, send, apply) before calling advance().
 * Nothing here reads a clock, does IO or draws randomness except from config.random.
 */
export class RawNode {
  private readonly raft: Raft;

  /**
   * Starts (or restarts) a replica from `storage`: its hard state, snapshot and persisted
   * entries. Entries after the snapshot are handed out again as committed entries, so the
   * application rebuilds its state as snapshot + replay.
   */
  constructor(config: RaftConfig, storage: LogStorage) {
    this.raft = new Raft(config, storage);
  }

  /** Advances logical time by one tick (docs/architecture.md: 10 ms). */
  tick(): void {
    this.raft.tick();
  }

  /** Feeds a message received from a peer. Messages for another replica or malformed ones are dropped. */
  step(message: Message): void {
    this.raft.step(message);
  }

  /** Proposes a command; it is committed when an entry with this index and term is applied. */
  propose(data: Uint8Array): ProposeResult {
    return this.raft.propose(data);
  }

  /** Proposes a one-server membership change. */
  proposeConfigChange(change: ConfChange): ProposeResult {
    return this.raft.proposeConfigChange(change);
  }

  /** Asks for a linearizable read; a ReadState with this context appears in a later Ready. */
  readIndex(context: string): ReadIndexResult {
    return this.raft.readIndex(context);
  }

  /** Hands leadership to `to` once it has caught up (TimeoutNow). Ignored on a follower without a leader. */
  transferLeadership(to: ReplicaId): void {
    this.raft.transferLeadership(to);
  }

  /**
   * The transport saw the connection to the leader die. A follower forgets the leader and
   * pre-votes after a short random delay. Only a hint: a false report costs an election at most.
   */
  reportLeaderConnectionLost(): void {
    this.raft.reportLeaderConnectionLost();
  }

  /** The transport could not deliver to `peer`: the leader stops pipelining to it. */
  reportUnreachable(peer: ReplicaId): void {
    this.raft.reportUnreachable(peer);
  }

  /** The transport finished (or failed) sending a snapshot to `peer`. */
  reportSnapshot(peer: ReplicaId, ok: boolean): void {
    this.raft.reportSnapshot(peer, ok);
  }

  hasReady(): boolean {
    return this.raft.hasReady();
  }

  /** What to persist, send and apply now. Call advance() once handled. */
  ready(): Ready {
    return this.raft.ready();
  }

  /** Acknowledges that `ready` was fully handled: its entries are durable and committed entries applied. */
  advance(ready: Ready): void {
    this.raft.advance(ready);
  }

  status(): Status {
    return this.raft.status();
  }

  /** Term, role and leader as the core knows them now (a Ready may not have reported them yet). */
  basicStatus(): BasicStatus {
    return this.raft.basicStatus();
  }

  /** Checks the core's invariants; throws a BugIndicatingError when one is broken. For tests and the simulator. */
  checkInvariants(): void {
    this.raft.checkInvariants();
  }
}
