/**
 * A closed-loop load generator: `concurrency` workers, each issuing its next request as soon as
 * the previous one finished (optionally paced to a minimum interval), for a duration or a number
 * of requests, whichever comes first. It knows nothing about the system under test: it drives an
 * async `request(worker, n)` function, so the same generator measures our cluster and etcd.
 *
 * Latency is taken with the monotonic high-resolution clock around each call and kept per
 * request (a Float64Array each worker grows), so percentiles are exact, not bucketed.
 */
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";

export type RequestFn = (worker: number, n: number) => Promise<void>;

export interface LoadOptions {
  readonly concurrency: number;
  /** Stop issuing requests after this long (measured from the first request). */
  readonly durationMs?: number;
  /** Stop after this many requests have been started across all workers. */
  readonly requestsMax?: number;
  /** Each worker waits until at least this long after its previous request started (0: back to back). */
  readonly intervalMs?: number;
  /** Called for every failed request; the default keeps the first few messages. */
  readonly onError?: (error: unknown, worker: number) => void;
  /** Stop early when this aborts (e.g. Ctrl-C). */
  readonly signal?: AbortSignal;
}

export interface LatencySummary {
  readonly count: number;
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

export interface LoadResult extends LatencySummary {
  readonly concurrency: number;
  /** Successful requests per second of wall time. */
  readonly opsPerSecond: number;
  readonly ok: number;
  readonly errors: number;
  /** Up to errorSamplesMax distinct error messages with their counts. */
  readonly errorSamples: Record<string, number>;
  readonly seconds: number;
}

const generatorLimits = {
  /** Distinct error messages kept in a result. */
  errorSamplesMax: 8,
  /** Initial per-worker latency buffer; it doubles as needed. */
  latenciesInitial: 4_096,
  /** Upper bound on one run so a mistaken option cannot run forever. */
  durationMsMax: 10 * 60_000,
} as const;

class LatencyBuffer {
  private values = new Float64Array(generatorLimits.latenciesInitial);
  length = 0;

  push(value: number): void {
    if (this.length === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.length++] = value;
  }

  view(): Float64Array {
    return this.values.subarray(0, this.length);
  }
}

/** Exact percentiles of a set of latencies (nearest-rank). */
export function summarize(latenciesMs: ArrayLike<number>): LatencySummary {
  const sorted = Float64Array.from(latenciesMs).sort();
  const count = sorted.length;
  if (count === 0) return { count: 0, meanMs: NaN, p50Ms: NaN, p90Ms: NaN, p99Ms: NaN, maxMs: NaN };
  const at = (q: number) => sorted[Math.min(count - 1, Math.max(0, Math.ceil(q * count) - 1))];
  let sum = 0;
  for (const v of sorted) sum += v;
  return { count, meanMs: sum / count, p50Ms: at(0.5), p90Ms: at(0.9), p99Ms: at(0.99), maxMs: sorted[count - 1] };
}

export function errorText(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.length > 160 ? `${text.slice(0, 157)}...` : text;
}

/** Runs the closed loop and returns throughput and exact latency percentiles of the successful requests. */
export async function runLoad(request: RequestFn, options: LoadOptions): Promise<LoadResult> {
  const { concurrency } = options;
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new Error(`concurrency must be a positive integer, got ${concurrency}`);
  if (options.durationMs === undefined && options.requestsMax === undefined)
    throw new Error("give durationMs, requestsMax or both");
  const durationMs = Math.min(options.durationMs ?? generatorLimits.durationMsMax, generatorLimits.durationMsMax);
  const requestsMax = options.requestsMax ?? Number.POSITIVE_INFINITY;
  const intervalMs = options.intervalMs ?? 0;
  const buffers = Array.from({ length: concurrency }, () => new LatencyBuffer());
  const errorSamples: Record<string, number> = {};
  let errors = 0;
  let started = 0;
  let lastFinish = 0;
  const begin = performance.now();
  const deadline = begin + durationMs;

  const recordError = (error: unknown, worker: number) => {
    errors += 1;
    options.onError?.(error, worker);
    const text = errorText(error);
    if (text in errorSamples || Object.keys(errorSamples).length < generatorLimits.errorSamplesMax)
      errorSamples[text] = (errorSamples[text] ?? 0) + 1;
  };

  const worker = async (id: number) => {
    const buffer = buffers[id];
    let n = 0;
    while (started < requestsMax && performance.now() < deadline && options.signal?.aborted !== true) {
      started += 1;
      const t0 = performance.now();
      try {
        await request(id, n++);
        const t1 = performance.now();
        buffer.push(t1 - t0);
        lastFinish = t1;
      } catch (error) {
        lastFinish = performance.now();
        recordError(error, id);
      }
      if (intervalMs > 0) {
        const wait = t0 + intervalMs - performance.now();
        if (wait > 0) await sleep(wait);
      }
    }
  };
  await Promise.all(buffers.map((_, id) => worker(id)));

  const all = new Float64Array(buffers.reduce((sum, b) => sum + b.length, 0));
  let offset = 0;
  for (const b of buffers) {
    all.set(b.view(), offset);
    offset += b.length;
  }
  const seconds = (Math.max(lastFinish, begin) - begin) / 1000;
  const summary = summarize(all);
  return {
    concurrency,
    ...summary,
    opsPerSecond: seconds > 0 ? summary.count / seconds : 0,
    ok: summary.count,
    errors,
    errorSamples,
    seconds,
  };
}
