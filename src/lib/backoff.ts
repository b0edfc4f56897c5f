import { assert } from "./assert.js";

export interface BackoffPolicy {
  readonly initialMs: number;
  readonly factor: number;
  readonly maxMs: number;
  /**
   * How a delay d (initialMs * factor^n, capped at maxMs) is spread: "equal" picks uniformly in
   * [d/2, d] (the default); "upward" picks in [d, 2d), then caps at maxMs (orchctl's spread).
   */
  readonly jitter?: "equal" | "upward";
}

/**
 * Exponential back-off, jittered so that clients retrying together spread out: by default
 * "equal jitter", each delay uniform in [d/2, d] where d grows from initialMs up to maxMs. Randomness is injected (a value in [0, 1)), so tests replay it.
 */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly policy: BackoffPolicy,
    private readonly random: () => number,
  ) {
    assert(policy.initialMs > 0, "back-off starts above zero");
    assert(policy.maxMs >= policy.initialMs, "back-off cap at least its start");
    assert(policy.factor >= 1, "back-off does not shrink");
  }

  /** The delay before the next retry; each call grows the next one. */
  nextDelayMs(): number {
    const ceilingMs = Math.min(this.policy.maxMs, this.policy.initialMs * this.policy.factor ** this.attempt);
    if (ceilingMs < this.policy.maxMs) this.attempt += 1;
    const r = this.random();
    assert(r >= 0 && r < 1, "random value in [0, 1)");
    if (this.policy.jitter === "upward") return Math.min(this.policy.maxMs, Math.round(ceilingMs * (1 + r)));
    return Math.round(ceilingMs / 2 + (ceilingMs / 2) * r);
  }

  /** Something worked: the next failure starts from the initial delay. */
  reset(): void {
    this.attempt = 0;
  }
}
