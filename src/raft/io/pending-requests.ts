import { assert, assertNever } from "../../lib/assert.js";
import type { ReadIndexResult } from "../core/results.js";
import type { Entry, ReadState, ReplicaId, SoftState } from "../core/types.js";
import { NO_REPLICA } from "../core/types.js";
import { RaftError, type RaftFailure } from "./raft-error.js";

/** How the registry reaches the core and reports outcomes. */
export interface PendingRequestsEnv {
  readonly id: ReplicaId;
  /** Asks the core for a read under `context` and schedules a Ready to carry the request. */
  readIndex(context: string): ReadIndexResult;
  /** Whether the core leads now (a read issued then is confirmed here, not forwarded). */
  isLeader(): boolean;
  /** A proposal made here was applied ("committed") or lost to a leadership change ("failed"). */
  proposalOutcome(outcome: "committed" | "failed"): void;
}

export interface PendingRequestsLimits {
  readonly proposalTimeoutMs: number;
  readonly readTimeoutMs: number;
  readonly pendingProposalsMax: number;
  /** A read forwarded to the leader and unanswered this long is asked again (the first may be lost). */
  readonly readRetryMs: number;
}

interface PendingProposal {
  readonly term: number;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

interface PendingRead {
  /** The context of the latest ReadIndex request for this read; answers to earlier ones are ignored. */
  context: string;
  /** The read index once confirmed; -1 before. */
  index: number;
  /** The latest request went to a leader elsewhere, so it can be lost on the way. */
  forwarded: boolean;
  /** When the latest request went out (performance.now()). */
  sentAtMs: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * The proposals and linearizable reads made on this replica, until each is answered or its
 * deadline passes (etcd keeps the same in its wait registry and read loop).
 *
 * A proposal waits for the entry at its index: applied with its term, it succeeded; with another
 * term, leadership changed and the entry was replaced. A read waits unconfirmed for its
 * ReadState (keyed by context), then confirmed until the state machine applied its index.
 *
 * A read a follower forwards travels as one ReadIndex message, which a broken connection can
 * lose without anyone noticing. So an unanswered forwarded read is asked again, under a fresh
 * context, when a (new) leader becomes known and every `readRetryMs`; the old context is
 * forgotten, so a late answer to it finds nothing and no read is answered twice. Asking again is
 * safe: the leader confirms an index at least as new as the one the first request would have got.
 */
export class PendingRequests {
  private readonly proposals = new Map<number, PendingProposal>();
  /** Reads waiting for their ReadState, by the context of their latest request. */
  private readonly unconfirmed = new Map<string, PendingRead>();
  /** Reads whose index is known, waiting for the state machine to apply it. */
  private confirmed: PendingRead[] = [];
  private readCounter = 0;
  private retryTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly env: PendingRequestsEnv,
    private readonly limits: PendingRequestsLimits,
  ) {
    assert(limits.readRetryMs > 0, "readRetryMs must be positive");
    assert(limits.pendingProposalsMax > 0, "pendingProposalsMax must be positive");
  }

  // ------------------------------------------------------------ proposals

  /** Whether another proposal would exceed pendingProposalsMax. */
  proposalsFull(): boolean {
    return this.proposals.size >= this.limits.pendingProposalsMax;
  }

  /** Resolves with the state machine's result once the entry proposed at (index, term) is applied. */
  waitForProposal(index: number, term: number): Promise<unknown> {
    return new Promise<unknown>((resolve, reject) => {
      const timeoutMs = this.limits.proposalTimeoutMs;
      const timer = setTimeout(() => {
        this.proposals.delete(index);
        reject(this.error({ kind: "timed-out", what: "proposal", timeoutMs }));
      }, timeoutMs);
      this.proposals.set(index, { term, resolve, reject, timer });
    });
  }

  /** The state machine applied `entry`, answering `result`. */
  applied(entry: Entry, result: unknown): void {
    const pending = this.proposals.get(entry.index);
    if (pending === undefined) return;
    this.proposals.delete(entry.index);
    clearTimeout(pending.timer);
    if (pending.term === entry.term) {
      this.env.proposalOutcome("committed");
      pending.resolve(result);
    } else {
      this.env.proposalOutcome("failed");
      pending.reject(this.error({ kind: "dropped" }));
    }
  }

  // ------------------------------------------------------------ reads

  /** Starts a linearizable read; it resolves once `releaseReads` sees its index applied. */
  startRead(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timeoutMs = this.limits.readTimeoutMs;
      const read: PendingRead = {
        context: "",
        index: -1,
        forwarded: false,
        sentAtMs: 0,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.forget(read);
          reject(this.error({ kind: "timed-out", what: "read", timeoutMs }));
        }, timeoutMs),
      };
      this.issue(read);
    });
  }

  /** ReadStates from a Ready: each confirmed read waits for its index to be applied. */
  confirm(readStates: readonly ReadState[]): void {
    for (const rs of readStates) {
      const read = this.unconfirmed.get(rs.context);
      if (read === undefined) continue;
      this.unconfirmed.delete(rs.context);
      read.index = rs.index;
      this.confirmed.push(read);
    }
    this.stopRetriesIfIdle();
  }

  /** Answers the confirmed reads whose index the state machine has applied. */
  releaseReads(applied: number): void {
    if (this.confirmed.length === 0) return;
    const waiting: PendingRead[] = [];
    for (const read of this.confirmed) {
      if (read.index <= applied) {
        clearTimeout(read.timer);
        read.resolve();
      } else {
        waiting.push(read);
      }
    }
    this.confirmed = waiting;
  }

  /**
   * The core's role or leader changed. A leader that steps down will never confirm its reads;
   * a follower that lost its leader has nobody to answer its forwarded reads; a follower that
   * learned a leader asks it again (the old one's answers would carry an older term and be dropped).
   */
  softStateChanged(previous: SoftState, next: SoftState): void {
    if (this.unconfirmed.size === 0) return;
    if (previous.role === "leader" && next.role !== "leader") {
      this.failUnconfirmed({ kind: "not-leader", leaderId: next.leader });
    } else if (next.leader === NO_REPLICA) {
      this.failUnconfirmed({ kind: "lost-leader" });
    } else if (next.leader !== previous.leader) {
      for (const read of [...this.unconfirmed.values()]) this.issue(read);
    }
  }

  /** Fails everything pending (stop, fatal error). */
  failAll(failure: RaftFailure): void {
    const error = this.error(failure);
    for (const p of this.proposals.values()) {
      clearTimeout(p.timer);
      p.reject(error);
    }
    this.proposals.clear();
    for (const read of [...this.unconfirmed.values(), ...this.confirmed]) {
      clearTimeout(read.timer);
      read.reject(error);
    }
    this.unconfirmed.clear();
    this.confirmed = [];
    this.stopRetriesIfIdle();
  }

  /** Unanswered reads; for tests and metrics. */
  pendingReads(): { readonly unconfirmed: number; readonly confirmed: number } {
    return { unconfirmed: this.unconfirmed.size, confirmed: this.confirmed.length };
  }

  // ------------------------------------------------------------ internals

  /** Sends (or sends again) a read's ReadIndex request under a fresh context. */
  private issue(read: PendingRead): void {
    if (read.context !== "") this.unconfirmed.delete(read.context);
    const context = `${this.env.id}:${++this.readCounter}`;
    const result = this.env.readIndex(context);
    if (!result.ok) {
      clearTimeout(read.timer);
      this.stopRetriesIfIdle();
      read.reject(this.error(this.readRefusal(result, read.context !== "")));
      return;
    }
    read.context = context;
    read.forwarded = !this.env.isLeader();
    read.sentAtMs = performance.now();
    this.unconfirmed.set(context, read);
    if (read.forwarded) this.startRetries();
  }

  private readRefusal(result: Extract<ReadIndexResult, { ok: false }>, reissued: boolean): RaftFailure {
    switch (result.error) {
      case "not-leader":
        // A read already under way that finds no leader to ask lost it on the way.
        return reissued && result.leader === NO_REPLICA
          ? { kind: "lost-leader" }
          : { kind: "not-leader", leaderId: result.leader };
      case "too-many-reads":
        return { kind: "overloaded", what: "reads" };
      default:
        return assertNever(result.error);
    }
  }

  private startRetries(): void {
    if (this.retryTimer !== null) return;
    this.retryTimer = setInterval(() => this.retryForwarded(), this.limits.readRetryMs);
  }

  private retryForwarded(): void {
    const staleBeforeMs = performance.now() - this.limits.readRetryMs;
    for (const read of [...this.unconfirmed.values()]) {
      if (read.forwarded && read.sentAtMs <= staleBeforeMs) this.issue(read);
    }
    this.stopRetriesIfIdle();
  }

  private stopRetriesIfIdle(): void {
    if (this.retryTimer === null) return;
    for (const read of this.unconfirmed.values()) if (read.forwarded) return;
    clearInterval(this.retryTimer);
    this.retryTimer = null;
  }

  private failUnconfirmed(failure: RaftFailure): void {
    const error = this.error(failure);
    for (const read of this.unconfirmed.values()) {
      clearTimeout(read.timer);
      read.reject(error);
    }
    this.unconfirmed.clear();
    this.stopRetriesIfIdle();
  }

  private forget(read: PendingRead): void {
    if (this.unconfirmed.get(read.context) === read) this.unconfirmed.delete(read.context);
    this.confirmed = this.confirmed.filter((r) => r !== read);
    this.stopRetriesIfIdle();
  }

  private error(failure: RaftFailure): RaftError {
    return new RaftError(this.env.id, failure);
  }
}
