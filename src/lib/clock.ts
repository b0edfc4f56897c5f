import { assert } from "./assert.js";

/** Stops a timer; calling it again, or after a one-shot timer fired, does nothing. */
export type CancelTimer = () => void;

/**
 * Time for io/ shells: reading it and waiting on it. Production uses the real clock; tests and
 * the simulator pass a manual one, so a controller's timing can be driven without waiting.
 * core/ never sees a clock: it only receives ticks.
 */
export interface Clock {
  /** Milliseconds since an arbitrary origin; monotonic. */
  nowMs(): number;
  /** Wall-clock milliseconds since the Unix epoch, for timestamps shown to people and written to the log. */
  wallMs(): number;
  /** Runs `fn` once, `delayMs` from now. */
  setTimer(delayMs: number, fn: () => void): CancelTimer;
  /** Runs `fn` every `periodMs` from now until cancelled. */
  setRepeating(periodMs: number, fn: () => void): CancelTimer;
}

export const realClock: Clock = {
  nowMs: () => performance.now(),
  wallMs: () => Date.now(),
  setTimer(delayMs, fn) {
    const timer = setTimeout(fn, delayMs);
    return () => clearTimeout(timer);
  },
  setRepeating(periodMs, fn) {
    const timer = setInterval(fn, periodMs);
    return () => clearInterval(timer);
  },
};

interface ManualTimer {
  dueMs: number;
  /** Order among timers due at the same time: the one set (or re-armed) first fires first. */
  seq: number;
  readonly periodMs: number | null;
  readonly fn: () => void;
}

/**
 * A clock that moves only when told. advance(ms) fires every timer that falls due within the
 * step, in due order, with the clock reading each timer's due time while it runs, so a
 * repeating timer fires once per period however large the step.
 */
export class ManualClock implements Clock {
  private readonly timers = new Set<ManualTimer>();
  private seq = 0;
  private advancing = false;

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

  setTimer(delayMs: number, fn: () => void): CancelTimer {
    assert(Number.isFinite(delayMs) && delayMs >= 0, "a timer's delay is a non-negative number of ms");
    return this.add({ dueMs: this.now + delayMs, seq: this.seq++, periodMs: null, fn });
  }

  setRepeating(periodMs: number, fn: () => void): CancelTimer {
    assert(Number.isFinite(periodMs) && periodMs > 0, "a repeating timer's period is a positive number of ms");
    return this.add({ dueMs: this.now + periodMs, seq: this.seq++, periodMs, fn });
  }

  /** Timers set and not yet fired or cancelled (repeating ones count until cancelled). */
  get pendingTimers(): number {
    return this.timers.size;
  }

  /** Moves the clock `ms` forward, firing the timers due on the way (timers they set included). */
  advance(ms: number): void {
    assert(Number.isFinite(ms) && ms >= 0, "a clock only moves forward");
    assert(!this.advancing, "advance is not re-entrant (a timer must not advance the clock)");
    const targetMs = this.now + ms;
    this.advancing = true;
    try {
      for (let timer = this.nextDue(targetMs); timer !== undefined; timer = this.nextDue(targetMs)) {
        this.now = timer.dueMs;
        if (timer.periodMs === null) this.timers.delete(timer);
        else {
          timer.dueMs += timer.periodMs;
          timer.seq = this.seq++;
        }
        timer.fn();
      }
    } finally {
      this.advancing = false;
    }
    this.now = targetMs;
  }

  private add(timer: ManualTimer): CancelTimer {
    this.timers.add(timer);
    return () => void this.timers.delete(timer);
  }

  private nextDue(targetMs: number): ManualTimer | undefined {
    let next: ManualTimer | undefined;
    for (const timer of this.timers) {
      if (timer.dueMs > targetMs) continue;
      if (next === undefined || timer.dueMs < next.dueMs || (timer.dueMs === next.dueMs && timer.seq < next.seq))
        next = timer;
    }
    return next;
  }
}
