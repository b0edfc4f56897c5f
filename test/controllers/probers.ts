import type { ProbeOutcome, Prober } from "../../src/health/io/prober.js";

/**
 * Counts the probes a real prober has out, so a test on the manual clock can wait (real time)
 * for their answers before it moves the clock again.
 */
export class CountingProber implements Prober {
  inFlight = 0;
  sent = 0;

  constructor(private readonly inner: Prober) {}

  async probe(origin: string, path: string, timeoutMs: number, dispatch?: () => boolean): Promise<ProbeOutcome | null> {
    this.inFlight++;
    this.sent++;
    try {
      return await this.inner.probe(origin, path, timeoutMs, dispatch);
    } finally {
      this.inFlight--;
    }
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/**
 * Answers every probe at once with `outcome(path)`: for the tests about restarts and node
 * liveness, where probes of running containers happen but are not what is tested, and an HTTP
 * round trip would only add real time to a test that runs on the manual clock.
 */
export class AnsweringProber implements Prober {
  readonly paths: string[] = [];

  constructor(private readonly outcome: (path: string) => ProbeOutcome = () => "healthy") {}

  async probe(
    _origin: string,
    path: string,
    _timeoutMs: number,
    dispatch?: () => boolean,
  ): Promise<ProbeOutcome | null> {
    if (dispatch !== undefined && !dispatch()) return null;
    this.paths.push(path);
    return this.outcome(path);
  }

  async close(): Promise<void> {}
}
