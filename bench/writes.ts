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
 *
 * Each level runs twice per system: plaintext, and with mutual TLS from one `orchctl pki` CA
 * (ours: --tls-* on every replica, the admin certificate on the client; etcd: client and peer
 * TLS with client certificates required on both, --client-cert-auth and --peer-client-cert-auth),
 * and the report says what TLS costs each.
 */
import * as grpc from "@grpc/grpc-js";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import * as os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { run as orchctl } from "../src/cli/run.js";
import { BufferSink } from "../src/cli/io.js";
import { fsmLimits } from "../src/fsm/limits.js";
import type { OrchestratorServiceClient } from "../src/gen/orchestrator/v1/orchestrator.js";
import { cpuPerWrite, fixed, loadAverage, machineInfo, round, sampleCpu, table, writeResult } from "./bench-report.js";
import { EtcdChannel, encodePutRequest } from "./etcd-client.js";
import { detectEtcd, EtcdCluster, type EtcdInstall } from "./etcd-cluster.js";
import { trackTempDir } from "./process-guard.js";
import { runLoad, type LoadResult, type RequestFn } from "./load-generator.js";
import {
  type BenchClientAuth,
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
  /** Which transports to measure (both by default). */
  readonly securities?: readonly Security[];
}

/** Plaintext, or mutual TLS on client and peer connections from one `orchctl pki` CA. */
export type Security = "plaintext" | "tls";

/** A level's transport, with the PKI directory when it is TLS. */
interface SecuritySetup {
  readonly security: Security;
  readonly pkiDir?: string;
}

/** Our replicas' extra flags with TLS: the secure figures are "mutual TLS + tokens" (--acl). */
const oursSecureArgs: readonly string[] = ["--acl"];

/** The bench client's credentials and, once bootstrapped, its token (metadata on every call). */
interface SecureClientAuth extends BenchClientAuth {
  useToken(secret: string): void;
}

/** The bench client's credentials: the admin certificate with TLS; the ACL token once bootstrapped. */
function secureClientAuth(setup: SecuritySetup): SecureClientAuth {
  let secret: string | undefined;
  const metadata = (): grpc.Metadata => {
    const m = new grpc.Metadata();
    if (secret !== undefined) m.set("authorization", `Bearer ${secret}`);
    return m;
  };
  const useToken = (s: string): void => {
    secret = s;
  };
  if (setup.pkiDir === undefined) return { credentials: grpc.credentials.createInsecure(), metadata, useToken };
  const read = (name: string) => readFileSync(path.join(setup.pkiDir ?? "", name));
  const credentials = grpc.credentials.createSsl(read("ca.pem"), read("admin-key.pem"), read("admin.pem"));
  return { credentials, metadata, useToken };
}

/** The cluster's first token (`orchctl acl bootstrap`), so every timed write carries a token check. */
async function bootstrapToken(channel: OrchestratorServiceClient, metadata: grpc.Metadata): Promise<string> {
  return new Promise((resolve, reject) => {
    channel.aclBootstrap(
      { header: { clientId: `bench-acl-${randomBytes(4).toString("hex")}`, seq: 1 } },
      metadata,
      (error, response) => {
        if (error !== null) reject(error);
        else resolve(response.secret);
      },
    );
  });
}

/** The PKI both systems use with TLS: `orchctl pki init` (replica certificates name 127.0.0.1, which etcd needs). */
async function makePki(dir: string): Promise<void> {
  const stdout = new BufferSink();
  const stderr = new BufferSink();
  const code = await orchctl(["pki", "init", "--dir", dir, "--replicas", "r1,r2,r3"], { stdout, stderr, env: {} });
  if (code !== 0) throw new Error(`orchctl pki init failed: ${stderr.text()}`);
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
  readonly security: Security;
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
  options: Required<Omit<WritesBenchOptions, "replicaEnv" | "skipEtcd" | "securities">> & WritesBenchOptions,
  root: string,
  setup: SecuritySetup,
): Promise<WritesLevel> {
  const dir = path.join(root, `ours-${setup.security}-c${concurrency}`);
  const { cluster, untrack } = await startTrackedCluster({
    ports: "random",
    dataRoot: path.join(dir, "data"),
    wipe: true,
    logDir: path.join(dir, "logs"),
    ...(options.replicaEnv !== undefined ? { env: options.replicaEnv } : {}),
    ...(setup.pkiDir !== undefined ? { tlsDir: setup.pkiDir, extraArgs: oursSecureArgs } : {}),
  });
  const auth = secureClientAuth(setup);
  const channels: OrchestratorServiceClient[] = [];
  try {
    const endpoints = cluster.replicas.map((r) => r.apiAddress);
    await waitAllCaughtUp(endpoints, writesDefaults.clusterReadyMs, auth);
    const leader = await findLeader(endpoints, writesDefaults.clusterReadyMs, auth);
    if (setup.pkiDir !== undefined) {
      const bootstrapChannel = orchestratorChannel(leader.apiAddress, auth);
      auth.useToken(await bootstrapToken(bootstrapChannel, auth.metadata()));
      bootstrapChannel.close();
    }
    for (let i = 0; i < Math.min(options.channels, concurrency); i++)
      channels.push(orchestratorChannel(leader.apiAddress, auth));
    const seqs = new Array<number>(concurrency).fill(0);
    const clientIds = Array.from({ length: concurrency }, (_, w) => `bench-writes-c${concurrency}-w${w}`);
    const request: RequestFn = async (worker) => {
      const seq = ++seqs[worker];
      const name = `checkout-c${concurrency}-w${worker}-${seq}`;
      const response = await deploy(
        channels[worker % channels.length],
        { header: { clientId: clientIds[worker], seq }, spec: benchDeploymentSpec(name) },
        writesDefaults.requestTimeoutMs,
        auth,
      );
      if (!response.created) throw new Error(`deployment ${name} was not created`);
    };
    const budget = budgets();
    const warm = await runLoad(request, { concurrency, durationMs: options.warmupMs, requestsMax: budget.warmup });
    if (warm.ok === 0) throw new Error(`warm-up: every write failed: ${JSON.stringify(warm.errorSamples)}`);
    const commitIndex = async () => (await clusterStatus(channels[0], 2_000, auth)).commitIndex;
    const leaderPid = cluster.replica(leader.id).child?.pid ?? -1;
    const level = await measure(request, concurrency, options.measureMs, cluster.pids(), leaderPid, commitIndex);
    const statusRequest: RequestFn = async (worker) => {
      await clusterStatus(channels[worker % channels.length], writesDefaults.requestTimeoutMs, auth);
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
  options: Required<Omit<WritesBenchOptions, "replicaEnv" | "skipEtcd" | "securities">>,
  install: EtcdInstall,
  root: string,
  setup: SecuritySetup,
): Promise<WritesLevel> {
  const dir = path.join(root, `etcd-${setup.security}-c${concurrency}`);
  const cluster = await EtcdCluster.start({
    install,
    dataRoot: path.join(dir, "data"),
    logDir: path.join(dir, "logs"),
    ...(setup.pkiDir !== undefined ? { tlsDir: setup.pkiDir } : {}),
  });
  const channels: EtcdChannel[] = [];
  try {
    const leader = await cluster.waitForLeader(writesDefaults.clusterReadyMs);
    for (let i = 0; i < Math.min(options.channels, concurrency); i++)
      channels.push(new EtcdChannel(leader.clientAddress, cluster.clientCredentials()));
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
    `  ${system.padEnd(14)} c=${String(level.concurrency).padEnd(3)} ${fixed(level.opsPerSecond, 0).padStart(6)} ops/s  p50 ${fixed(level.p50Ms, 2)} ms  p99 ${fixed(level.p99Ms, 2)} ms  max ${fixed(level.maxMs, 1)} ms  (${level.ok} writes in ${fixed(level.seconds, 2)} s${errors}; load ${level.loadAverage.join(" ")})${cpu}${entries}`,
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
  const securities = options.securities ?? (["plaintext", "tls"] as const);
  const machine = machineInfo();
  const install = options.skipEtcd === true ? null : detectEtcd();
  const sizes = deploySizes("checkout-c256-w255-9999", "bench-writes-c256-w255", 9_999);
  const oursSent = `Deploy (unique name, 0 replicas, spread over 2 regions, health check, restart policy, RequestHeader): ${sizes.requestBytes} B request, ${sizes.commandBytes} B Raft command; each creates a deployment (the health controller then closes its deploy operation with an outcome entry of its own, off the request's path)`;
  const etcdSent = `KV.Put, unique ~30 B key, ${writesDefaults.etcdValueBytes} B value`;
  console.log(
    `\nwrites: 3 replicas on loopback, leader-direct, ${opts.channels} gRPC channels per run, ${opts.warmupMs} ms warm-up + ${opts.measureMs} ms per concurrency (fresh cluster each), ${securities.join(" and ")}`,
  );
  console.log(`  ours: ${oursSent}`);
  if (install === null)
    console.log(
      options.skipEtcd === true
        ? "  etcd: skipped"
        : "  etcd: not installed (looked for ETCD_BIN, /usr/bin/etcd, /usr/local/bin/etcd, etcd on PATH): skipping the etcd side",
    );
  else console.log(`  etcd ${install.version} (${install.binary}), default heartbeat/election settings: ${etcdSent}`);
  if (securities.includes("tls"))
    console.log(
      "  tls: one `orchctl pki init` CA; ours with --tls-ca/--tls-cert/--tls-key on every replica and the admin certificate on the client; etcd with --cert-file/--key-file/--trusted-ca-file/--client-cert-auth and the --peer-* equivalents (member eN serves rN.pem), the same admin certificate on the client",
    );
  console.log(`  load average at start: ${machine.loadAverageAtStart.join(" ")} on ${machine.machineCores} cores`);

  const root = await mkdtemp(path.join(os.tmpdir(), "orch-bench-writes-"));
  const untrackRoot = trackTempDir(root);
  const runs: LevelRun[] = [];
  const failedLevels: { security: Security; concurrency: number; reason: string }[] = [];
  try {
    const pkiDir = path.join(root, "pki");
    if (securities.includes("tls")) await makePki(pkiDir);
    for (const concurrency of opts.concurrencies) {
      for (const security of securities) {
        const setup: SecuritySetup = security === "tls" ? { security, pkiDir } : { security };
        try {
          const ours = await oursAtConcurrency(concurrency, opts, root, setup);
          printLevel(`ours ${security}`, ours);
          const etcd = install === null ? null : await etcdAtConcurrency(concurrency, opts, install, root, setup);
          if (etcd !== null) printLevel(`etcd ${security}`, etcd);
          runs.push({ security, ours, etcd });
        } catch (error) {
          // On a loaded machine a level can fail outright (its warm-up timing out): report it, measure the rest.
          const reason = error instanceof Error ? error.message : String(error);
          console.log(`  ${security} c=${concurrency} FAILED, left out of the tables: ${reason}`);
          failedLevels.push({ security, concurrency, reason });
        }
      }
    }
  } finally {
    untrackRoot();
    await rm(root, { recursive: true, force: true });
  }

  const bySecurity = (security: Security) => runs.filter((r) => r.security === security);
  const plain = bySecurity("plaintext");
  const tls = bySecurity("tls");
  const ratioRows = (levels: readonly LevelRun[]) =>
    levels.map((r) => ({
      concurrency: r.ours.concurrency,
      opsPerSecondRatio: r.etcd === null ? null : round(r.ours.opsPerSecond / r.etcd.opsPerSecond, 3),
      p50Ratio: r.etcd === null ? null : round(r.ours.p50Ms / r.etcd.p50Ms, 3),
    }));
  const targets = (levels: readonly LevelRun[]) => {
    const r256 = levels.find((r) => r.ours.concurrency === 256);
    const r1 = levels.find((r) => r.ours.concurrency === 1);
    return {
      throughputAt256AtLeast1_5xEtcd:
        r256 === undefined || r256.etcd === null ? null : r256.ours.opsPerSecond >= 1.5 * r256.etcd.opsPerSecond,
      p50AtConcurrency1AtMostEtcd: r1 === undefined || r1.etcd === null ? null : r1.ours.p50Ms <= r1.etcd.p50Ms,
      r256,
      r1,
    };
  };
  for (const [security, levels] of [
    ["plaintext", plain],
    ["tls", tls],
  ] as const) {
    if (levels.length === 0) continue;
    printTables(security, levels, ratioRows(levels));
    const met = targets(levels);
    const ratio256 = ratioRows(levels).find((r) => r.concurrency === 256)?.opsPerSecondRatio;
    if (met.throughputAt256AtLeast1_5xEtcd !== null)
      console.log(
        `  target (${security}): ours >= 1.5x etcd ops/s at c=256: ${met.throughputAt256AtLeast1_5xEtcd ? "met" : "MISSED"} (${fixed(ratio256, 2)}x)`,
      );
    if (met.p50AtConcurrency1AtMostEtcd !== null)
      console.log(
        `  target (${security}): ours p50 <= etcd p50 at c=1: ${met.p50AtConcurrency1AtMostEtcd ? "met" : "MISSED"} (${fixed(met.r1?.ours.p50Ms, 2)} ms vs ${fixed(met.r1?.etcd?.p50Ms, 2)} ms)`,
      );
  }
  const cost = tlsCost(plain, tls);
  if (cost.length > 0) {
    console.log("");
    console.log(
      "  What TLS costs each system (TLS / plaintext at the same concurrency; ops/s below 1 and p50 above 1 are the cost):",
    );
    console.log(
      table(
        [
          "concurrency",
          "ours ops/s plain",
          "ours ops/s tls",
          "ours ops/s ratio",
          "ours p50 ratio",
          "etcd ops/s plain",
          "etcd ops/s tls",
          "etcd ops/s ratio",
          "etcd p50 ratio",
        ],
        cost.map((c) => [
          String(c.concurrency),
          fixed(c.ours.plaintextOpsPerSecond, 0),
          fixed(c.ours.tlsOpsPerSecond, 0),
          `${fixed(c.ours.opsPerSecondRatio, 2)}x`,
          `${fixed(c.ours.p50Ratio, 2)}x`,
          fixed(c.etcd?.plaintextOpsPerSecond, 0),
          fixed(c.etcd?.tlsOpsPerSecond, 0),
          c.etcd === null ? "-" : `${fixed(c.etcd.opsPerSecondRatio, 2)}x`,
          c.etcd === null ? "-" : `${fixed(c.etcd.p50Ratio, 2)}x`,
        ]),
      ),
    );
  }
  const loadAtEnd = loadAverage();
  console.log(`  load average at end: ${loadAtEnd.join(" ")}`);

  const summaryOf = (levels: readonly LevelRun[]) => ({
    ours: levels.map((r) => levelSummary(r.ours)),
    etcd: install === null ? null : levels.map((r) => (r.etcd === null ? null : levelSummary(r.etcd))),
    ratios: {
      oursOverEtcd: ratioRows(levels),
      p50AtConcurrency1: ratioRows(levels).find((r) => r.concurrency === 1)?.p50Ratio ?? null,
    },
    targets: (({ r256: _r256, r1: _r1, ...met }) => met)(targets(levels)),
  });
  const plainSummary = summaryOf(plain);
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
      securities,
    },
    failedLevels,
    ours: {
      sent: oursSent,
      requestBytes: sizes.requestBytes,
      commandBytes: sizes.commandBytes,
      levels: plainSummary.ours,
    },
    etcd:
      install === null
        ? null
        : {
            version: install.version,
            sent: etcdSent,
            settings: "heartbeat-interval and election-timeout at defaults (100 ms / 1000 ms)",
            levels: plainSummary.etcd,
          },
    etcdNote: install === null ? (options.skipEtcd === true ? "etcd skipped" : "etcd not installed") : null,
    ratios: plainSummary.ratios,
    targets: plainSummary.targets,
    tls:
      tls.length === 0
        ? null
        : {
            setup:
              "one orchctl pki CA; ours: --tls-* on every replica, admin certificate on the client (tokens to come with --acl); etcd: client and peer TLS with --client-cert-auth and --peer-client-cert-auth",
            ...summaryOf(tls),
            costOverPlaintext: cost,
          },
  };
  const file = await writeResult("writes", result);
  console.log(`  wrote ${file}`);
  return result;
}

interface TlsCostSide {
  readonly plaintextOpsPerSecond: number;
  readonly tlsOpsPerSecond: number;
  /** TLS ops/s over plaintext ops/s: below 1 is what TLS costs in throughput. */
  readonly opsPerSecondRatio: number;
  /** TLS p50 over plaintext p50: above 1 is what TLS costs in latency. */
  readonly p50Ratio: number;
}

/** TLS against plaintext at each concurrency measured both ways, for each system. */
function tlsCost(
  plain: readonly LevelRun[],
  tls: readonly LevelRun[],
): { concurrency: number; ours: TlsCostSide; etcd: TlsCostSide | null }[] {
  const side = (p: WritesLevel, t: WritesLevel): TlsCostSide => ({
    plaintextOpsPerSecond: round(p.opsPerSecond, 1),
    tlsOpsPerSecond: round(t.opsPerSecond, 1),
    opsPerSecondRatio: round(t.opsPerSecond / p.opsPerSecond, 3),
    p50Ratio: round(t.p50Ms / p.p50Ms, 3),
  });
  return plain.flatMap((p) => {
    const t = tls.find((r) => r.ours.concurrency === p.ours.concurrency);
    if (t === undefined) return [];
    return [
      {
        concurrency: p.ours.concurrency,
        ours: side(p.ours, t.ours),
        etcd: p.etcd === null || t.etcd === null ? null : side(p.etcd, t.etcd),
      },
    ];
  });
}

function printTables(
  security: Security,
  runs: readonly LevelRun[],
  ratioRows: readonly { opsPerSecondRatio: number | null }[],
): void {
  console.log("");
  console.log(`  ${security}:`);
  console.log(
    table(
      ["concurrency", "ours ops/s", "etcd ops/s", "ratio", "ours p50 ms", "etcd p50 ms", "ours p99 ms", "etcd p99 ms"],
      runs.map((r, i) => [
        String(r.ours.concurrency),
        fixed(r.ours.opsPerSecond, 0),
        fixed(r.etcd?.opsPerSecond, 0),
        ratioRows[i]?.opsPerSecondRatio === null || ratioRows[i] === undefined
          ? "-"
          : `${fixed(ratioRows[i]?.opsPerSecondRatio, 2)}x`,
        fixed(r.ours.p50Ms, 2),
        fixed(r.etcd?.p50Ms, 2),
        fixed(r.ours.p99Ms, 2),
        fixed(r.etcd?.p99Ms, 2),
      ]),
    ),
  );
  console.log("");
  console.log(
    `  CPU per acknowledged write, ${security} (ms; /proc utime+stime of each process, the load generator's own process.cpuUsage):`,
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
    `  The floor under ours, ${security}: ClusterStatus (no Raft, no disk) through the same generator and channels, right after each level:`,
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
}
