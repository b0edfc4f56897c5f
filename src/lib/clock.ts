/**
 * Time for io/ shells. Production uses the real clock; tests and the simulator can pass a
 * manual one. core/ never sees a clock: it only receives ticks.
 */
export interface Clock {
  /** Milliseconds since an arbitrary origin; monotonic. */
  nowMs(): number;
  /** Wall-clock milliseconds since the Unix epoch, for timestamps shown to people. */
  wallMs(): number;
}

export const realClock: Clock = {
  nowMs: () => performance.now(),
  wallMs: () => Date.now(),
};

export class ManualClock implements Clock {
  constructor(
    private now = 0,
    private readonly epochMs = 1_700_000_000_000,
  ) {}
  nowMs(): number {
    return this.now;
  }
  wallMs(): number {
    return this.epochMs + this.now;
  }
  advance(ms: number): void {
    this.now += ms;
  }
}
