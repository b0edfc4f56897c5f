import { assert } from "../../lib/assert.js";

export interface KnownLeader {
  readonly id: string;
  readonly address: string;
}

/**
 * Which replica the agent talks to next: the known leader (learned from a follower's
 * x-leader-address trailer, or from a call that succeeded), else the configured endpoints in
 * turn, moving on when one fails. A "round" ends when as many attempts have failed as there are
 * endpoints: the agent retries at once within a round (a dead endpoint costs nothing) and backs
 * off between rounds.
 */
export class LeaderTargets {
  private leader: KnownLeader | undefined;
  private cursor = 0;
  private failuresInRound = 0;

  constructor(readonly endpoints: readonly string[]) {
    assert(endpoints.length > 0, "an agent needs at least one control-plane endpoint");
  }

  current(): string {
    return this.leader?.address ?? this.endpoints[this.cursor];
  }

  knownLeader(): KnownLeader | undefined {
    return this.leader;
  }

  leaderIs(leader: KnownLeader): void {
    this.leader = leader;
  }

  /** An attempt at `address` failed: forget it as the leader and move past it as an endpoint. */
  failed(address: string): void {
    this.failuresInRound += 1;
    if (this.leader?.address === address) this.leader = undefined;
    if (this.endpoints[this.cursor] === address) this.cursor = (this.cursor + 1) % this.endpoints.length;
  }

  /** True once per round of failures: back off before the next attempt. */
  takeRoundEnd(): boolean {
    if (this.failuresInRound < this.endpoints.length) return false;
    this.failuresInRound = 0;
    return true;
  }

  succeeded(): void {
    this.failuresInRound = 0;
  }
}
