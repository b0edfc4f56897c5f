import { promises as fs } from "node:fs";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { afterEach, describe, expect, it } from "vitest";
import type { Entry } from "../../src/raft/core/types.js";
import { CONF_R1, TempDirs, openStore } from "./log-store-helpers.js";

/**
 * Measures persist latency per batch size and prints p50/p99 next to the latency of a bare
 * fdatasync of a small file on the same disk: a batch of one small entry should cost about
 * one fsync. Only loose bounds are asserted; the printed figures are the point.
 */

const dirs = new TempDirs();
afterEach(() => dirs.cleanup());

const ROUNDS = 300;
const ENTRY_BYTES = 256;

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function summary(samplesMs: number[]): { p50Ms: number; p99Ms: number } {
  const sorted = samplesMs.slice().sort((a, b) => a - b);
  return { p50Ms: round(quantile(sorted, 0.5)), p99Ms: round(quantile(sorted, 0.99)) };
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

async function bareFsyncMs(dir: string): Promise<number[]> {
  await fs.mkdir(dir, { recursive: true });
  const handle = await fs.open(path.join(dir, "fsync-probe"), "w");
  const samples: number[] = [];
  try {
    for (let i = 0; i < ROUNDS; i++) {
      const started = performance.now();
      await handle.write(new Uint8Array(ENTRY_BYTES));
      await handle.datasync();
      samples.push(performance.now() - started);
    }
  } finally {
    await handle.close();
  }
  return samples;
}

async function persistMs(dir: string, entriesPerBatch: number): Promise<{ samples: number[]; syncSamples: number[] }> {
  const syncSamples: number[] = [];
  const store = await openStore(dir, {
    initialConf: CONF_R1,
    onSyncDurationSeconds: (s) => syncSamples.push(s * 1000),
  });
  const samples: number[] = [];
  let next = 1;
  const payload = new Uint8Array(ENTRY_BYTES).fill(7);
  for (let round = 0; round < ROUNDS; round++) {
    const batch: Entry[] = [];
    for (let i = 0; i < entriesPerBatch; i++) batch.push({ index: next + i, term: 1, type: "normal", data: payload });
    const started = performance.now();
    await store.persist({ hardState: { term: 1, vote: "r1", commit: next - 1 }, entries: batch, snapshot: null });
    samples.push(performance.now() - started);
    next += entriesPerBatch;
  }
  await store.close();
  return { samples, syncSamples };
}

describe("LevelDbLogStore persist latency", () => {
  it("costs about one fsync per batch", async () => {
    const dir = await dirs.make();
    const fsync = summary(await bareFsyncMs(path.join(dir, "probe")));
    const results: Record<string, unknown> = { bareFdatasync: fsync };
    for (const size of [1, 100, 1000]) {
      const { samples, syncSamples } = await persistMs(path.join(dir, `batch-${size}`), size);
      expect(syncSamples).toHaveLength(ROUNDS);
      results[`persist${size}x${ENTRY_BYTES}B`] = { ...summary(samples), syncOnly: summary(syncSamples) };
    }
    console.log(`persist latency over ${ROUNDS} batches (ms): ${JSON.stringify(results, null, 1)}`);
    const one = results[`persist1x${ENTRY_BYTES}B`] as { p50Ms: number };
    // Loose: a one-entry batch must not cost more than a handful of fsyncs.
    expect(one.p50Ms).toBeLessThan(Math.max(5 * fsync.p50Ms, 2));
  });
});
