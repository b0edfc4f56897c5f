/**
 * A bound on probes in flight: a probe beyond it waits, first come first served, for one to
 * finish. Its timeout starts only once it has a slot (the probers' `dispatch`).
 */
export class ProbeSlots {
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly max: number) {}

  /** Runs `send` in a slot, waiting for one while all are taken. */
  async run<T>(send: () => Promise<T>): Promise<T> {
    if (this.inFlight >= this.max) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.inFlight++;
    try {
      return await send();
    } finally {
      this.inFlight--;
      this.waiting.shift()?.();
    }
  }
}
