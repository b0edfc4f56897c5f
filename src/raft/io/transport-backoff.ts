import { assert } from "../../lib/assert.js";

/**
 * Reconnect delays: exponential from `initialMs`, capped at `maxMs`, with "equal jitter" (a
 * delay lies in [base / 2, base)) so replicas that lost the same peer do not retry in lockstep
 * yet none waits much longer than the schedule says. Reset once a connection is established.
 */
export class ReconnectBackoff {
  private attempt = 0;

  constructor(
    private readonly initialMs: number,
    private readonly maxMs: number,
    /** Uniform in [0, 1); injectable so tests can pin the jitter. */
    private readonly random: () => number = Math.random,
  ) {
    assert(initialMs > 0, "the first reconnect delay must be positive");
    assert(initialMs <= maxMs, "the first reconnect delay cannot exceed the cap");
  }

  /** The delay before the next attempt; each call doubles the base up to the cap. */
  nextDelayMs(): number {
    // 2^30 is far past any sensible cap; bounding the exponent keeps the arithmetic finite.
    const baseMs = Math.min(this.maxMs, this.initialMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    const delayMs = baseMs / 2 + (this.random() * baseMs) / 2;
    assert(delayMs >= 0 && delayMs <= this.maxMs, "reconnect delay out of range");
    return delayMs;
  }

  reset(): void {
    this.attempt = 0;
  }
}
