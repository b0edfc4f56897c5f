import { assert } from "../lib/assert.js";
import type { ApplyResult } from "./apply-result.js";

/**
 * The dedup table of the Raft thesis (§6.3): for each client, the sequence number of its last
 * applied command and the result it got. A retry (after a timeout or a failover) of that command
 * gets the stored result instead of a second application. Clients number their requests 1, 2, ...
 * and have one outstanding at a time, so one entry per client suffices.
 *
 * The table is bounded; beyond `capacity` sessions the least recently active one (by the leader
 * time of its last command, then by client id) is forgotten, deterministically on every replica.
 * A forgotten client's retry would be applied again, so the bound must far exceed the number of
 * clients active within a retry window.
 */
export interface ClientSession {
  readonly clientId: string;
  lastSeq: number;
  lastActiveAtMs: number;
  result: ApplyResult;
}

export type SessionCheck =
  | { readonly kind: "new" }
  | { readonly kind: "duplicate"; readonly result: ApplyResult }
  | { readonly kind: "stale"; readonly lastSeq: number };

export class ClientSessions {
  private readonly sessions = new Map<string, ClientSession>();

  constructor(readonly capacity: number) {
    assert(Number.isInteger(capacity) && capacity > 0, "client session capacity must be a positive integer");
  }

  get size(): number {
    return this.sessions.size;
  }

  get(clientId: string): Readonly<ClientSession> | undefined {
    return this.sessions.get(clientId);
  }

  check(clientId: string, seq: number): SessionCheck {
    assert(clientId !== "", "internal commands skip the dedup table");
    const session = this.sessions.get(clientId);
    if (session === undefined || seq > session.lastSeq) return { kind: "new" };
    if (seq === session.lastSeq) return { kind: "duplicate", result: session.result };
    return { kind: "stale", lastSeq: session.lastSeq };
  }

  /** A retry counts as activity: the client is alive and may retry again. */
  touch(clientId: string, atMs: number): void {
    const session = this.sessions.get(clientId);
    assert(session !== undefined, "touching an unknown session");
    session.lastActiveAtMs = Math.max(session.lastActiveAtMs, atMs);
  }

  /** Records a newly applied command; returns the client id evicted to make room, if any. */
  record(clientId: string, seq: number, atMs: number, result: ApplyResult): string | null {
    const session = this.sessions.get(clientId);
    if (session !== undefined) {
      assert(seq > session.lastSeq, "recording a sequence number that is not new");
      session.lastSeq = seq;
      session.lastActiveAtMs = Math.max(session.lastActiveAtMs, atMs);
      session.result = result;
      return null;
    }
    const evicted = this.sessions.size >= this.capacity ? this.evictLeastRecentlyActive() : null;
    this.sessions.set(clientId, { clientId, lastSeq: seq, lastActiveAtMs: atMs, result });
    assert(this.sessions.size <= this.capacity, "client sessions over their bound");
    return evicted;
  }

  private evictLeastRecentlyActive(): string {
    let victim: ClientSession | undefined;
    for (const session of this.sessions.values()) {
      if (
        victim === undefined ||
        session.lastActiveAtMs < victim.lastActiveAtMs ||
        (session.lastActiveAtMs === victim.lastActiveAtMs && session.clientId < victim.clientId)
      ) {
        victim = session;
      }
    }
    assert(victim !== undefined, "evicting from an empty session table");
    this.sessions.delete(victim.clientId);
    return victim.clientId;
  }

  /** In insertion order, which the snapshot preserves. */
  values(): IterableIterator<Readonly<ClientSession>> {
    return this.sessions.values();
  }

  restore(sessions: readonly ClientSession[]): void {
    assert(sessions.length <= this.capacity, "snapshot holds more client sessions than the table");
    this.sessions.clear();
    for (const session of sessions) {
      assert(!this.sessions.has(session.clientId), "snapshot repeats a client session");
      this.sessions.set(session.clientId, { ...session });
    }
  }
}
