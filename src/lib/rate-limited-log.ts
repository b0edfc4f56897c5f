import type { Clock } from "./clock.js";
import type { Logger } from "./logger.js";

export interface RateLimitedLogOptions {
  /** One line per key per this interval. */
  readonly intervalMs: number;
  /** Keys remembered at most; past it the least recently logged key is forgotten (it may log again). */
  readonly keysMax: number;
}

interface KeyState {
  lastMs: number;
  suppressed: number;
}

/**
 * Warnings about one peer at most once per interval: a peer retrying with a bad certificate
 * many times a second would otherwise flood the log. The next line for a key says how many
 * lines were held back since the previous one (`suppressed`), so nothing goes uncounted.
 */
export class RateLimitedLog {
  private readonly keys = new Map<string, KeyState>();

  constructor(
    private readonly logger: Logger,
    private readonly clock: Pick<Clock, "nowMs">,
    private readonly options: RateLimitedLogOptions,
  ) {}

  /** Logs `message` for `key` unless it was logged less than an interval ago; returns whether it did. */
  warn(key: string, fields: Record<string, unknown>, message: string): boolean {
    const nowMs = this.clock.nowMs();
    const state = this.keys.get(key);
    if (state !== undefined && nowMs - state.lastMs < this.options.intervalMs) {
      state.suppressed++;
      return false;
    }
    // Re-inserted so the map's order is least recently logged first.
    this.keys.delete(key);
    if (this.keys.size >= this.options.keysMax) {
      const oldest = this.keys.keys().next();
      if (oldest.done !== true) this.keys.delete(oldest.value);
    }
    this.keys.set(key, { lastMs: nowMs, suppressed: 0 });
    this.logger.warn(
      { ...fields, peer: key, suppressed: state?.suppressed ?? 0, logIntervalMs: this.options.intervalMs },
      message,
    );
    return true;
  }
}
