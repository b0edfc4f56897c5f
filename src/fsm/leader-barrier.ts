import { assertNever } from "../lib/assert.js";
import type { LeadershipChange, LeadershipSignal } from "./controller-ports.js";

type BarrierState =
  | { readonly kind: "following" }
  /** Elected, and the FSM has not applied `catchUpIndex` (this leader's first entry) yet. */
  | { readonly kind: "catching-up"; readonly catchUpIndex: number }
  | { readonly kind: "leading" };

/**
 * The leadership signal with Nomad's barrier on establishing leadership: a replica elected for
 * a term says "leading" only once its FSM applied the entry it appended on election (its last
 * index then). Until then the FSM may lag entries an earlier leader committed, its last plans
 * and decisions among them, and a controller acting on it would place containers already
 * placed or restart containers already restarting.
 *
 * The driver feeds it: elected() when Raft makes this replica leader, applied() after every
 * batch the FSM applied (or a snapshot it restored), deposed() when Raft takes leadership away.
 */
export class LeaderBarrier implements LeadershipSignal {
  private state: BarrierState = { kind: "following" };
  private currentTerm = 0;
  private readonly listeners = new Set<(change: LeadershipChange) => void>();

  isLeader(): boolean {
    return this.state.kind === "leading";
  }

  term(): number {
    return this.currentTerm;
  }

  /** The index the barrier waits for; null unless elected and not caught up. */
  get catchUpIndex(): number | null {
    return this.state.kind === "catching-up" ? this.state.catchUpIndex : null;
  }

  onChange(listener: (change: LeadershipChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Raft made this replica leader of `term`; its log ends at `lastIndex`, its FSM applied `appliedIndex`. */
  elected(term: number, lastIndex: number, appliedIndex: number): void {
    if (this.state.kind !== "following") {
      if (term === this.currentTerm) return;
      // A new term without a step-down seen in between: the old leadership ended all the same.
      this.deposed(term);
    }
    this.currentTerm = term;
    if (appliedIndex >= lastIndex) this.establish();
    else this.state = { kind: "catching-up", catchUpIndex: lastIndex };
  }

  /** The FSM applied everything up to `index`. */
  applied(index: number): void {
    if (this.state.kind === "catching-up" && index >= this.state.catchUpIndex) this.establish();
  }

  /** Raft took leadership away (a follower or candidate now, in `term`). */
  deposed(term: number): void {
    this.currentTerm = Math.max(this.currentTerm, term);
    switch (this.state.kind) {
      case "following":
        return;
      case "catching-up":
      case "leading":
        this.state = { kind: "following" };
        this.emit({ kind: "stopped", term: this.currentTerm });
        return;
      default:
        assertNever(this.state, "barrier state");
    }
  }

  private establish(): void {
    this.state = { kind: "leading" };
    this.emit({ kind: "leading", term: this.currentTerm });
  }

  private emit(change: LeadershipChange): void {
    for (const listener of [...this.listeners]) listener(change);
  }
}
