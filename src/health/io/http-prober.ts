import { Agent } from "undici";
import { ProbeSlots } from "./probe-slots.js";
import type { ProbeOutcome, Prober } from "./prober.js";

/** Concurrent probes in flight from this leader. */
export const probesInFlightMax = 512;
/** Opening a connection to an agent takes at most this long (each probe's own timeout also applies). */
const connectTimeoutMs = 1_000;

/**
 * HTTP GETs of containers' health endpoints over keep-alive connections, with a timeout and
 * a bound on concurrency; probes beyond the bound wait for a slot. A probe's timeout runs from
 * when it gets its slot (`dispatch`), and undici may open as many connections to one agent as
 * there are slots, so no probe waits in undici's own queue with its timeout running.
 *
 * The leader sends thousands of these a second, so each is a bare undici dispatch with a
 * handler of a few closures and one plain timer, rather than request() with its body stream,
 * promise chain and AbortSignal.timeout: about a third of the CPU per probe (bench/health.ts).
 * undici's own headers/body timeouts are coarse (they fire up to a second late), so the timer
 * is what enforces the probe's timeout; undici's stay as a backstop.
 */
export class HttpProber implements Prober {
  private readonly dispatcher = new Agent({
    keepAliveTimeout: 10_000,
    connections: probesInFlightMax,
    pipelining: 1,
    connect: { timeout: connectTimeoutMs },
  });
  private readonly slots = new ProbeSlots(probesInFlightMax);

  /**
   * GET `path` at `origin` ("http://host:port"). `dispatch` runs when the probe gets its slot,
   * just before the request leaves; if it returns false the probe is dropped and the answer is null.
   */
  async probe(
    origin: string,
    path: string,
    timeoutMs: number,
    dispatch: () => boolean = () => true,
  ): Promise<ProbeOutcome | null> {
    return this.slots.run(async () => (dispatch() ? this.get(origin, path, timeoutMs) : null));
  }

  private get(origin: string, path: string, timeoutMs: number): Promise<ProbeOutcome> {
    return new Promise((resolve) => {
      let status = 0;
      let settled = false;
      let abort: ((reason?: Error) => void) | null = null;
      const finish = (outcome: ProbeOutcome): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(outcome);
      };
      const timer = setTimeout(() => {
        finish("no-answer");
        abort?.(new Error(`health probe timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      try {
        this.dispatcher.dispatch(
          { origin, path, method: "GET", headersTimeout: timeoutMs, bodyTimeout: timeoutMs },
          {
            onConnect: (abortRequest: (reason?: Error) => void) => {
              abort = abortRequest;
              if (settled) abortRequest(new Error(`health probe timed out after ${timeoutMs} ms`));
            },
            onHeaders: (statusCode: number) => {
              status = statusCode;
              return true;
            },
            onData: () => true,
            onComplete: () => finish(status >= 200 && status < 400 ? "healthy" : "unhealthy"),
            onError: () => finish("no-answer"),
          },
        );
      } catch {
        finish("no-answer");
      }
    });
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }
}
