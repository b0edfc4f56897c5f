/**
 * Throughput of the pure Raft core: three RawNodes in one process on a lossless, zero-delay
 * network, the leader proposing a batch of small entries every tick. Measures committed entries
 * per second as the leader applies them, plus the process's peak memory.
 */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { assert } from "../src/lib/assert.js";
import { Prng } from "../src/lib/prng.js";
import { raftConfig } from "../src/raft/core/config.js";
import { MemoryLogStorage } from "../src/raft/core/log-storage.js";
import { RawNode } from "../src/raft/core/raw-node.js";
import type { Message, ReplicaId } from "../src/raft/core/types.js";

export interface RaftCoreBenchResult {
  readonly name: string;
  readonly entriesPerSecond: number;
  readonly entries: number;
  readonly seconds: number;
  readonly rssBytesMax: number;
  readonly heapUsedBytesMax: number;
  readonly payloadBytes: number;
  readonly entriesPerTick: number;
  readonly nodeVersion: string;
  readonly date: string;
}

export interface RaftCoreBenchOptions {
  readonly durationMs?: number;
  readonly entriesPerTick?: number;
  readonly payloadBytes?: number;
  /** Where the JSON goes; null writes nothing. */
  readonly resultsDir?: string | null;
}

const benchLimits = {
  /** Ticks allowed for the first election. */
  electionTicksMax: 1_000,
  /** Rounds of Ready handling and delivery per tick before the cluster must be quiet. */
  pumpRoundsPerTickMax: 1_000,
  /** Entries kept in each log behind the applied index; older ones are compacted away. */
  compactEveryEntries: 20_000,
  /** Ticks between memory samples (process.memoryUsage is a system call). */
  memorySampleEveryTicks: 16,
} as const;

interface BenchReplica {
  readonly id: ReplicaId;
  readonly node: RawNode;
  readonly disk: MemoryLogStorage;
  applied: number;
}

/** Three in-memory replicas whose Readies are handled at once and whose messages arrive at once. */
class InstantCluster {
  private readonly replicas = new Map<ReplicaId, BenchReplica>();
  private inFlight: Message[] = [];
  committedOnLeader = 0;

  constructor(ids: readonly ReplicaId[], seed: number) {
    const prng = new Prng(seed);
    for (const id of ids) {
      const disk = new MemoryLogStorage({ voters: ids, learners: [] });
      this.replicas.set(id, { id, node: new RawNode(raftConfig({ id, random: prng.fork() }), disk), disk, applied: 0 });
    }
  }

  leader(): RawNode | undefined {
    for (const { node } of this.replicas.values()) if (node.status().role === "leader") return node;
    return undefined;
  }

  tick(): void {
    for (const { node } of this.replicas.values()) node.tick();
  }

  /** Handles every Ready and delivers every message until nothing moves. */
  pump(leaderId: ReplicaId | null): void {
    for (let round = 0; round < benchLimits.pumpRoundsPerTickMax; round++) {
      let moved = false;
      for (const replica of this.replicas.values()) {
        if (!replica.node.hasReady()) continue;
        moved = true;
        this.handleReady(replica, leaderId);
      }
      const batch = this.inFlight;
      this.inFlight = [];
      for (const m of batch) {
        moved = true;
        this.replicas.get(m.to)?.node.step(m);
      }
      if (!moved) return;
    }
    throw new Error("cluster did not settle within one tick");
  }

  /** Persist, send, apply (count), advance: the order ready.ts prescribes. */
  private handleReady(replica: BenchReplica, leaderId: ReplicaId | null): void {
    const { node, disk } = replica;
    const ready = node.ready();
    if (ready.snapshot !== null) disk.applySnapshot(ready.snapshot);
    disk.append(ready.entries);
    if (ready.hardState !== null) disk.setHardState(ready.hardState);
    for (const m of ready.messages) this.inFlight.push(m);
    for (const entry of ready.committedEntries) {
      if (replica.id === leaderId && entry.data.byteLength > 0) this.committedOnLeader++;
      replica.applied = entry.index;
    }
    node.advance(ready);
    this.maybeCompact(replica);
  }

  /** Keeps memory flat: an empty snapshot at the applied index, then the log before it dropped. */
  private maybeCompact({ node, disk, applied }: BenchReplica): void {
    if (applied - disk.snapshot().meta.index < benchLimits.compactEveryEntries) return;
    disk.createSnapshot(applied, node.status().conf, new Uint8Array(0));
    disk.compact(applied);
  }
}

export async function benchRaftCore(options: RaftCoreBenchOptions = {}): Promise<RaftCoreBenchResult> {
  const durationMs = options.durationMs ?? 5_000;
  const entriesPerTick = options.entriesPerTick ?? 1_024;
  const payloadBytes = options.payloadBytes ?? 64;
  const cluster = new InstantCluster(["r1", "r2", "r3"], 1);
  let leader: RawNode | undefined;
  for (let t = 0; t < benchLimits.electionTicksMax && leader === undefined; t++) {
    cluster.tick();
    cluster.pump(null);
    leader = cluster.leader();
  }
  assert(leader !== undefined, "no leader elected");
  const leaderId = leader.status().id;

  const payloads = Array.from({ length: entriesPerTick }, (_, i) => new Uint8Array(payloadBytes).fill(i & 0xff));
  let rssBytesMax = 0;
  let heapUsedBytesMax = 0;
  const startedMs = performance.now();
  let elapsedMs = 0;
  for (let tick = 0; elapsedMs < durationMs; tick++) {
    for (const payload of payloads) {
      const result = leader.propose(payload);
      assert(result.ok, `proposal refused: ${result.ok ? "" : result.error}`);
    }
    cluster.tick();
    cluster.pump(leaderId);
    if (tick % benchLimits.memorySampleEveryTicks === 0) {
      const memory = process.memoryUsage();
      rssBytesMax = Math.max(rssBytesMax, memory.rss);
      heapUsedBytesMax = Math.max(heapUsedBytesMax, memory.heapUsed);
    }
    elapsedMs = performance.now() - startedMs;
  }
  const seconds = elapsedMs / 1000;
  const result: RaftCoreBenchResult = {
    name: "raft-core",
    entriesPerSecond: Math.round(cluster.committedOnLeader / seconds),
    entries: cluster.committedOnLeader,
    seconds: Number(seconds.toFixed(3)),
    rssBytesMax,
    heapUsedBytesMax,
    payloadBytes,
    entriesPerTick,
    nodeVersion: process.version,
    date: new Date().toISOString(),
  };
  const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
  console.log(
    `raft-core: ${result.entriesPerSecond.toLocaleString("en-US")} committed entries/s (${result.entries.toLocaleString("en-US")} entries of ${payloadBytes} B in ${result.seconds} s, ${entriesPerTick} per tick); rss max ${mib(rssBytesMax)}, heap max ${mib(heapUsedBytesMax)}`,
  );
  const resultsDir =
    options.resultsDir === undefined ? path.resolve(process.cwd(), "bench", "results") : options.resultsDir;
  if (resultsDir !== null) {
    await mkdir(resultsDir, { recursive: true });
    await writeFile(path.join(resultsDir, "raft-core.json"), `${JSON.stringify(result, null, 2)}\n`);
  }
  return result;
}
