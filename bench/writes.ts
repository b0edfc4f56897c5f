/**
 * Replicated write throughput and latency through the public API of a three-replica cluster on
 * loopback, at several concurrencies, side by side with a three-member etcd cluster driven by the
 * same closed-loop generator (when etcd is installed).
 *
 * Ours: Deploy requests sent straight to the leader, each with a unique deployment name, one
 * replica, a realistic spec and a RequestHeader {clientId, seq}; every one is a Raft entry of a
 * couple of hundred bytes that creates a deployment and a container record. The FSM allows
 * fsmLimits.deploymentsMax deployments, so each concurrency gets a fresh cluster and a request
 * budget below that bound (the run ends at the duration or the budget, whichever comes first).
 * etcd: 256-byte Puts (unique keys) through its gRPC KV service to its leader, fresh cluster per
 * concurrency too, same duration and budget. Levels alternate (ours c=1, etcd c=1, ours c=16, ...)
 * so that drifting background load on a shared machine hits both alike.
 */
import { mkdtemp, rm } from "node:fs/promises";
import * as os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { fsmLimits } from "../src/fsm/limits.js";
import type { OrchestratorServiceClient } from "../src/gen/orchestrator/v1/orchestrator.js";
import { cpuPerWrite, fixed, loadAverage, machineInfo, round, sampleCpu, table, writeResult } from "./bench-report.js";
import { EtcdChannel, encodePutRequest } from "./etcd-client.js";
import { detectEtcd, EtcdCluster, type EtcdInstall } from "./etcd-cluster.js";
import { trackTempDir } from "./process-guard.js";
import { runLoad, type LoadResult, type RequestFn } from "./load-generator.js";
import {
  benchDeploymentSpec,
  clusterStatus,
  deploy,
  deploySizes,
  findLeader,
  killCluster,
  orchestratorChannel,
  startTrackedCluster,
  waitAllCaughtUp,
} from "./orchestrator-bench-client.js";

export interface WritesBenchOptions {
  readonly concurrencies?: readonly number[];
  readonly measureMs?: number;
  readonly warmupMs?: number;
  /** gRPC channels (TCP connections) to the leader; workers share them round-robin. */
  readonly channels?: number;
  /** Extra environment for our replicas (e.g. NODE_OPTIONS=--cpu-prof). */
  readonly replicaEnv?: NodeJS.ProcessEnv;
  /** Skip etcd even when installed. */
  readonly skipEtcd?: boolean;
}

const writesDefaults = {
  concurrencies: [1, 16, 64, 256],
  measureMs: 6_000,
  warmupMs: 1_000,
  channels: 8,
  requestTimeoutMs: 10_000,
  clusterReadyMs: 30_000,
  etcdValueBytes: 256,
  /** Deployments left free under fsmLimits.deploymentsMax, for safety. */
  deploymentsHeadroom: 200,
  /** Warm-up requests at most (they count against the deployment budget). */
  warmupRequestsMax: 1_000,
  /** The no-Raft floor (ClusterStatus) after each of our levels. */
  floorMs: 2_000,
} as const;

/**
 * The floor under our writes: ClusterStatus (answered from the leader's memory, no Raft, no
 * disk) through the same generator, channels and concurrency. What a write costs above it is
 * replication, fsync and apply; what it costs up to it is gRPC in Node on this machine.
 */
export interface FloorLevel {
  readonly concurrency: number;
  readonly opsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly cpu: ReturnType<typeof cpuPerWrite>;
}

export interface WritesLevel extends LoadResult {
  readonly loadAverage: readonly number[];
  /** CPU time per acknowledged write, from /proc (null where unavailable). */
  readonly cpu: ReturnType<typeof cpuPerWrite>;
  /** Raft entries the leader's log grew by during the measurement, per acknowledged request. */
  readonly entriesPerRequest: number | null;
  /** Ours only: the no-Raft floor measured on the same cluster right after. */
  readonly floor?: FloorLevel;
}

interface LevelRun {
  readonly ours: WritesLevel;
  readonly etcd: WritesLevel | null;
}

/**
 * Runs the measured load with CPU samples of the generator and every member around it.
 * `commitIndex`, where given, reads the leader's commit index before and after.
 */
async function measure(
  request: RequestFn,
  concurrency: number,
  measureMs: number,
  pids: readonly number[],
  leaderPid: number,
  commitIndex?: () => Promise<number>,
): Promise<WritesLevel> {
  const indexBefore = commitIndex === undefined ? null : await commitIndex();
  const before = sampleCpu(pids);
  const result = await runLoad(request, { concurrency, durationMs: measureMs, requestsMax: budgets().measured });
  const after = sampleCpu(pids);
  const indexAfter = commitIndex === undefined ? null : await commitIndex();
  const entriesPerRequest =
    indexBefore === null || indexAfter === null || result.ok === 0
      ? null
      : round((indexAfter - indexBefore) / result.ok, 3);
  return {
    ...result,
    loadAverage: loadAverage(),
    cpu: cpuPerWrite(before, after, leaderPid, result.ok),
    entriesPerRequest,
  };
}

function budgets(): { warmup: number; measured: number } {
  const total = fsmLimits.deploymentsMax - writesDefaults.deploymentsHeadroom;
  return { warmup: writesDefaults.warmupRequestsMax, measured: total - writesDefaults.warmupRequestsMax };
}

async function oursAtConcurrency(
  concurrency: number,
  options: Required<Omit<WritesBenchOptions, "replicaEnv" | "skipEtcd">> & WritesBenchOptions,
  root: string,
): Promise<WritesLevel> {
  const dir = path.join(root, `ours-c${concurrency}`);
  const { cluster, untrack } = await startTrackedCluster({
    ports: "random",
    dataRoot: path.join(dir, "data"),
    wipe: true,
    logDir: path.join(dir, "logs"),
    ...(options.replicaEnv !== undefined ? { env: options.replicaEnv } : {}),
  });
  const channels: OrchestratorServiceClient[] = [];
  try {
    const endpoints = cluster.replicas.map((r) => r.apiAddress);
    await waitAllCaughtUp(endpoints, writesDefaults.clusterReadyMs);
    const leader = await findLeader(endpoints);
    for (let i = 0; i < Math.min(options.channels, concurrency); i++)
      channels.push(orchestratorChannel(leader.apiAddress));
    const seqs = new Array<number>(concurrency).fill(0);
    const clientIds = Array.from({ length: concurrency }, (_, w) => `bench-writes-c${concurrency}-w${w}`);
    const request: RequestFn = async (worker) => {
      const seq = ++seqs[worker];
      const name = `checkout-c${concurrency}-w${worker}-${seq}`;
      const response = await deploy(
        channels[worker % channels.length],
        { header: { clientId: clientIds[worker], seq }, spec: benchDeploymentSpec(name) },
        writesDefaults.requestTimeoutMs,
      );
      if (!response.created) throw new Error(`deployment ${name} was not created`);
    };
    const budget = budgets();
    const warm = await runLoad(request, { concurrency, durationMs: options.warmupMs, requestsMax: budget.warmup });
    if (warm.ok === 0) throw new Error(`warm-up: every write failed: ${JSON.stringify(warm.errorSamples)}`);
    const commitIndex = async () => (await clusterStatus(channels[0], 2_000)).commitIndex;
    const leaderPid = cluster.replica(leader.id).child?.pid ?? -1;
    const level = await measure(request, concurrency, options.measureMs, cluster.pids(), leaderPid, commitIndex);
    const statusRequest: RequestFn = async (worker) => {
      await clusterStatus(channels[worker % channels.length], writesDefaults.requestTimeoutMs);
    };
    const before = sampleCpu(cluster.pids());
    const floorRun = await runLoad(statusRequest, { concurrency, durationMs: writesDefaults.floorMs });
    const floor: FloorLevel = {
      concurrency,
      opsPerSecond: floorRun.opsPerSecond,
      p50Ms: floorRun.p50Ms,
      p99Ms: floorRun.p99Ms,
      cpu: cpuPerWrite(before, sampleCpu(cluster.pids()), leaderPid, floorRun.ok),
    };
    return { ...level, floor };
  } finally {
    for (const channel of channels) channel.close();
    await killCluster(cluster);
    untrack();
    await rm(dir, { recursive: true, force: true });
  }
}

async function etcdAtConcurrency(
  concurrency: number,
  options: Required<Omit<WritesBenchOptions, "replicaEnv" | "skipEtcd">>,
  install: EtcdInstall,
  root: string,
): Promise<WritesLevel> {
  const dir = path.join(root, `etcd-c${concurrency}`);
  const cluster = await EtcdCluster.start({
    install,
    dataRoot: path.join(dir, "data"),
    logDir: path.join(dir, "logs"),
  });
  const channels: EtcdChannel[] = [];
  try {
    const leader = await cluster.waitForLeader(writesDefaults.clusterReadyMs);
    for (let i = 0; i < Math.min(options.channels, concurrency); i++)
      channels.push(new EtcdChannel(leader.clientAddress));
    const value = randomBytes(writesDefaults.etcdValueBytes);
    const counters = new Array<number>(concurrency).fill(0);
    const request: RequestFn = (worker) => {
      const key = Buffer.from(`/bench/writes/c${concurrency}/w${worker}/${++counters[worker]}`);
      return channels[worker % channels.length].put(encodePutRequest(key, value), writesDefaults.requestTimeoutMs);
    };
    const budget = budgets();
    await runLoad(request, { concurrency, durationMs: options.warmupMs, requestsMax: budget.warmup });
    const raftIndex = async () => (await channels[0].status(2_000)).raftIndex;
    return await measure(request, concurrency, options.measureMs, cluster.pids(), leader.child?.pid ?? -1, raftIndex);
  } finally {
    for (const channel of channels) channel.close();
    await cluster.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

function levelSummary(level: WritesLevel) {
  return {
    concurrency: level.concurrency,
    opsPerSecond: round(level.opsPerSecond, 1),
    p50Ms: round(level.p50Ms, 3),
    p90Ms: round(level.p90Ms, 3),
    p99Ms: round(level.p99Ms, 3),
    maxMs: round(level.maxMs, 3),
    meanMs: round(level.meanMs, 3),
    ok: level.ok,
    errors: level.errors,
    errorSamples: level.errorSamples,
    seconds: round(level.seconds, 3),
    loadAverage: level.loadAverage,
    cpuMsPerWrite: level.cpu,
    raftEntriesPerRequest: level.entriesPerRequest,
    ...(level.floor !== undefined
      ? {
          noRaftFloor: {
            what: "ClusterStatus through the same generator (leader memory, no Raft, no disk)",
            opsPerSecond: round(level.floor.opsPerSecond, 1),
            p50Ms: round(level.floor.p50Ms, 3),
            p99Ms: round(level.floor.p99Ms, 3),
            cpuMsPerRequest: level.floor.cpu,
          },
        }
      : {}),
  };
}

function printLevel(system: string, level: WritesLevel): void {
  const cpu =
    level.cpu === null
      ? ""
      : `  cpu/write: client ${fixed(level.cpu.clientMs, 2)} leader ${fixed(level.cpu.leaderMs, 2)} followers ${fixed(level.cpu.followersMs, 2)} ms`;
  const entries = level.entriesPerRequest === null ? "" : `  raft entries/request ${fixed(level.entriesPerRequest, 2)}`;
  const errors = level.errors > 0 ? `, ${level.errors} errors (${Object.keys(level.errorSamples)[0] ?? ""})` : "";
  console.log(
    `  ${system.padEnd(4)} c=${String(level.concurrency).padEnd(3)} ${fixed(level.opsPerSecond, 0).padStart(6)} ops/s  p50 ${fixed(level.p50Ms, 2)} ms  p99 ${fixed(level.p99Ms, 2)} ms  max ${fixed(level.maxMs, 1)} ms  (${level.ok} writes in ${fixed(level.seconds, 2)} s${errors}; load ${level.loadAverage.join(" ")})${cpu}${entries}`,
  );
}

export async function benchWrites(options: WritesBenchOptions = {}): Promise<unknown> {
  const opts = {
    ...options,
    concurrencies: options.concurrencies ?? writesDefaults.concurrencies,
    measureMs: options.measureMs ?? writesDefaults.measureMs,
    warmupMs: options.warmupMs ?? writesDefaults.warmupMs,
    channels: options.channels ?? writesDefaults.channels,
  };
  const machine = machineInfo();
  const install = options.skipEtcd === true ? null : detectEtcd();
  const sizes = deploySizes("checkout-c256-w255-9999", "bench-writes-c256-w255", 9_999);
  const oursSent = `Deploy (unique name, 0 replicas, spread over 2 regions, health check, restart policy, RequestHeader): ${sizes.requestBytes} B request, ${sizes.commandBytes} B Raft command; each creates a deployment (the health controller then closes its deploy operation with an outcome entry of its own, off the request's path)`;
  const etcdSent = `KV.Put, unique ~30 B key, ${writesDefaults.etcdValueBytes} B value`;
  console.log(
    `\nwrites: 3 replicas on loopback, leader-direct, ${opts.channels} gRPC channels per run, ${opts.warmupMs} ms warm-up + ${opts.measureMs} ms per concurrency (fresh cluster each)`,
  );
  console.log(`  ours: ${oursSent}`);
  if (install === null)
    console.log(
      options.skipEtcd === true
        ? "  etcd: skipped"
        : "  etcd: not installed (looked for ETCD_BIN, /usr/bin/etcd, /usr/local/bin/etcd, etcd on PATH): skipping the etcd side",
    );
  else console.log(`  etcd ${install.version} (${install.binary}), default heartbeat/election settings: ${etcdSent}`);
  console.log(`  load average at start: ${machine.loadAverageAtStart.join(" ")} on ${machine.machineCores} cores`);

  const root = await mkdtemp(path.join(os.tmpdir(), "orch-bench-writes-"));
  const untrackRoot = trackTempDir(root);
  const runs: LevelRun[] = [];
  try {
    for (const concurrency of opts.concurrencies) {
      const ours = await oursAtConcurrency(concurrency, opts, root);
      printLevel("ours", ours);
      const etcd = install === null ? null : await etcdAtConcurrency(concurrency, opts, install, root);
      if (etcd !== null) printLevel("etcd", etcd);
      runs.push({ ours, etcd });
    }
  } finally {
    untrackRoot();
    await rm(root, { recursive: true, force: true });
  }

  const ratioRows = runs.map((r) => ({
    concurrency: r.ours.concurrency,
    opsPerSecondRatio: r.etcd === null ? null : round(r.ours.opsPerSecond / r.etcd.opsPerSecond, 3),
    p50Ratio: r.etcd === null ? null : round(r.ours.p50Ms / r.etcd.p50Ms, 3),
  }));
  const at = (c: number) => runs.find((r) => r.ours.concurrency === c);
  const r256 = at(256);
  const r1 = at(1);
  const throughputTarget =
    r256 === undefined || r256.etcd === null ? null : r256.ours.opsPerSecond >= 1.5 * r256.etcd.opsPerSecond;
  const latencyTarget = r1 === undefined || r1.etcd === null ? null : r1.ours.p50Ms <= r1.etcd.p50Ms;

  console.log("");
  console.log(
    table(
      ["concurrency", "ours ops/s", "etcd ops/s", "ratio", "ours p50 ms", "etcd p50 ms", "ours p99 ms", "etcd p99 ms"],
      runs.map((r, i) => [
        String(r.ours.concurrency),
        fixed(r.ours.opsPerSecond, 0),
        fixed(r.etcd?.opsPerSecond, 0),
        ratioRows[i].opsPerSecondRatio === null ? "-" : `${fixed(ratioRows[i].opsPerSecondRatio, 2)}x`,
        fixed(r.ours.p50Ms, 2),
        fixed(r.etcd?.p50Ms, 2),
        fixed(r.ours.p99Ms, 2),
        fixed(r.etcd?.p99Ms, 2),
      ]),
    ),
  );
  console.log("");
  console.log(
    "  CPU per acknowledged write (ms; /proc utime+stime of each process, the load generator's own process.cpuUsage):",
  );
  console.log(
    table(
      [
        "concurrency",
        "ours client",
        "ours leader",
        "ours followers",
        "ours total",
        "etcd client",
        "etcd leader",
        "etcd followers",
        "etcd total",
      ],
      runs.map((r) => [
        String(r.ours.concurrency),
        fixed(r.ours.cpu?.clientMs, 3),
        fixed(r.ours.cpu?.leaderMs, 3),
        fixed(r.ours.cpu?.followersMs, 3),
        fixed(r.ours.cpu?.totalMs, 3),
        fixed(r.etcd?.cpu?.clientMs, 3),
        fixed(r.etcd?.cpu?.leaderMs, 3),
        fixed(r.etcd?.cpu?.followersMs, 3),
        fixed(r.etcd?.cpu?.totalMs, 3),
      ]),
    ),
  );
  console.log("");
  console.log(
    "  The floor under ours: ClusterStatus (no Raft, no disk) through the same generator and channels, right after each level:",
  );
  console.log(
    table(
      [
        "concurrency",
        "floor ops/s",
        "floor p50 ms",
        "client cpu ms",
        "leader cpu ms",
        "ours write p50 ms",
        "etcd write p50 ms",
      ],
      runs.map((r) => [
        String(r.ours.concurrency),
        fixed(r.ours.floor?.opsPerSecond, 0),
        fixed(r.ours.floor?.p50Ms, 2),
        fixed(r.ours.floor?.cpu?.clientMs, 3),
        fixed(r.ours.floor?.cpu?.leaderMs, 3),
        fixed(r.ours.p50Ms, 2),
        fixed(r.etcd?.p50Ms, 2),
      ]),
    ),
  );
  if (throughputTarget !== null)
    console.log(
      `  target: ours >= 1.5x etcd ops/s at c=256: ${throughputTarget ? "met" : "MISSED"} (${fixed(ratioRows.find((r) => r.concurrency === 256)?.opsPerSecondRatio, 2)}x)`,
    );
  if (latencyTarget !== null)
    console.log(
      `  target: ours p50 <= etcd p50 at c=1: ${latencyTarget ? "met" : "MISSED"} (${fixed(r1?.ours.p50Ms, 2)} ms vs ${fixed(r1?.etcd?.p50Ms, 2)} ms)`,
    );
  const loadAtEnd = loadAverage();
  console.log(`  load average at end: ${loadAtEnd.join(" ")}`);

  const result = {
    name: "writes",
    date: new Date().toISOString(),
    nodeVersion: machine.nodeVersion,
    machineCores: machine.machineCores,
    cpuModel: machine.cpuModel,
    platform: machine.platform,
    loadAverageAtStart: machine.loadAverageAtStart,
    loadAverageAtEnd: loadAtEnd,
    config: {
      concurrencies: opts.concurrencies,
      warmupMs: opts.warmupMs,
      measureMs: opts.measureMs,
      channels: opts.channels,
      requestsPerLevelMax: budgets().measured,
    },
    ours: {
      sent: oursSent,
      requestBytes: sizes.requestBytes,
      commandBytes: sizes.commandBytes,
      levels: runs.map((r) => levelSummary(r.ours)),
    },
    etcd:
      install === null
        ? null
        : {
            version: install.version,
            sent: etcdSent,
            settings: "heartbeat-interval and election-timeout at defaults (100 ms / 1000 ms)",
            levels: runs.map((r) => (r.etcd === null ? null : levelSummary(r.etcd))),
          },
    etcdNote: install === null ? (options.skipEtcd === true ? "etcd skipped" : "etcd not installed") : null,
    ratios: {
      oursOverEtcd: ratioRows,
      p50AtConcurrency1: ratioRows.find((r) => r.concurrency === 1)?.p50Ratio ?? null,
    },
    targets: { throughputAt256AtLeast1_5xEtcd: throughputTarget, p50AtConcurrency1AtMostEtcd: latencyTarget },
  };
  const file = await writeResult("writes", result);
  console.log(`  wrote ${file}`);
  return result;
}
