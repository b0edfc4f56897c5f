/** Keys remembered at most; past it the memory starts over (a flood of new keys logs again, bounded). */
const keysMax = 4096;

/**
 * Says yes to a key at most once per interval: refusals from the same peer are logged once a
 * minute, not once per message or connection attempt.
 */
export class OncePerInterval {
  private readonly lastMs = new Map<string, number>();

  constructor(
    private readonly intervalMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  take(key: string): boolean {
    const nowMs = this.now();
    const last = this.lastMs.get(key);
    if (last !== undefined && nowMs - last < this.intervalMs) return false;
    if (this.lastMs.size >= keysMax) this.lastMs.clear();
    this.lastMs.set(key, nowMs);
    return true;
  }
}
