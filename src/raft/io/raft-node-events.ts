import { EventEmitter } from "node:events";
import type { ConfState, ReplicaId, Role } from "../core/types.js";

export interface RoleChange {
  readonly role: Role;
  readonly leader: ReplicaId;
  readonly term: number;
}

/** What a RaftNode reports, each event with its listener's arguments. */
export interface RaftNodeEvents {
  /** The core's role or known leader changed (its soft state). */
  "role-change": [change: RoleChange];
  /** The state machine applied up to this index. */
  applied: [index: number];
  /** A synced write of a Ready took this long. */
  fsync: [seconds: number];
  /** A message round trip to a peer took this long (the transport's probe). */
  "round-trip": [peer: ReplicaId, seconds: number];
  /** A proposal made here was applied ("committed") or lost to a leadership change ("failed"). */
  proposal: [outcome: "committed" | "failed"];
  /** The configuration changed: a conf-change entry was applied or a snapshot installed. */
  membership: [conf: ConfState];
  /** The Raft loop failed; the replica serves nothing more and should restart from disk. */
  fatal: [error: Error];
}

export type RaftNodeEventName = keyof RaftNodeEvents;

/**
 * The node's events with their argument types checked at both ends: listeners subscribe through
 * `on`/`off`, and only the driver's parts hold `emit`.
 */
export class RaftNodeEmitter {
  private readonly emitter = new EventEmitter();

  on<K extends RaftNodeEventName>(event: K, listener: (...args: RaftNodeEvents[K]) => void): void {
    this.emitter.on(event, listener);
  }

  off<K extends RaftNodeEventName>(event: K, listener: (...args: RaftNodeEvents[K]) => void): void {
    this.emitter.off(event, listener);
  }

  emit<K extends RaftNodeEventName>(event: K, ...args: RaftNodeEvents[K]): void {
    this.emitter.emit(event, ...args);
  }
}
