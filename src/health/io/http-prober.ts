import { Agent, request } from "undici";

/** What a probe learned: the container answered healthy, answered unhealthy, or the node did not answer. */
export type ProbeOutcome = "healthy" | "unhealthy" | "no-answer";

/** Concurrent probes in flight from this leader. */
const probesInFlightMax = 512;

/**
 * HTTP GETs of containers' health endpoints over keep-alive connections, with a timeout and
 * a bound on concurrency; probes beyond the bound wait for a slot.
 */
export class HttpProber {
  private readonly dispatcher = new Agent({ keepAliveTimeout: 10_000, connections: 64, pipelining: 1 });
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];

  async probe(url: string, timeoutMs: number): Promise<ProbeOutcome> {
    if (this.inFlight >= probesInFlightMax) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.inFlight++;
    try {
      const response = await request(url, {
        method: "GET",
        dispatcher: this.dispatcher,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        signal: AbortSignal.timeout(timeoutMs),
      });
      await response.body.dump();
      return response.statusCode >= 200 && response.statusCode < 400 ? "healthy" : "unhealthy";
    } catch {
      return "no-answer";
    } finally {
      this.inFlight--;
      this.waiting.shift()?.();
    }
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }
}
