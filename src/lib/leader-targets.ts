import { assert } from "./assert.js";

/**
 * Which replica a client (orchctl, a node agent) talks to next. The known leader first (learned from a follower's
 * x-leader-address trailer, kept for the rest of the process); without one, the configured
 * endpoints in order, moving on when one fails.
 *
 * It also counts failures per "round": a round ends when as many attempts have failed as
 * there are endpoints. The client retries at once within a round (a dead first endpoint costs
 * nothing) and backs off only between rounds.
 */
export interface KnownLeader {
  readonly id: string;
  readonly address: string;
}

export class LeaderTargets {
  private leader: KnownLeader | undefined;
  /** Index into endpoints of the next endpoint to try when no leader is known. */
  private cursor = 0;
  private failuresInRound = 0;

  constructor(readonly endpoints: readonly string[]) {
    assert(endpoints.length > 0, "a control-plane client needs at least one endpoint");
  }

  /** The address the next attempt goes to. */
  current(): string {
    return this.leader?.address ?? this.endpoints[this.cursor];
  }

  knownLeader(): KnownLeader | undefined {
    return this.leader;
  }

  leaderIs(leader: KnownLeader): void {
    this.leader = leader;
  }

  /**
   * An attempt at `address` failed in a way another replica might not: forget the leader if it
   * was the leader, and move past the endpoint if it was the current one. Returns the leader
   * that was forgotten, if any, for the progress message.
   */
  failed(address: string): KnownLeader | undefined {
    this.failuresInRound += 1;
    let forgotten: KnownLeader | undefined;
    if (this.leader?.address === address) {
      forgotten = this.leader;
      this.leader = undefined;
    }
    if (this.endpoints[this.cursor] === address) this.cursor = (this.cursor + 1) % this.endpoints.length;
    return forgotten;
  }

  /** True once per round of failures: the next retry should back off. Resets the round. */
  takeRoundEnd(): boolean {
    if (this.failuresInRound < this.endpoints.length) return false;
    this.failuresInRound = 0;
    return true;
  }

  /** A call succeeded: the next failure starts a fresh round. */
  succeeded(): void {
    this.failuresInRound = 0;
  }
}
