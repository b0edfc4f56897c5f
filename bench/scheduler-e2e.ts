/**
 * The million placements of bench/scheduler-placement.ts, end to end: the same 1,000 deployments
 * of 1,000 replicas (mixed sizes and strategies, some region constraints, a few one-per-node) on
 * the same 10,000 nodes in three regions, but through a real three-replica cluster, so every
 * placement is a committed entry of the replicated log, applied by every replica's FSM.
 *
 *   1. three replicas (random ports, temp data, `--snapshot-every` 500 by default);
 *   2. 10,000 simulated nodes registered straight through AgentService.Register on the leader,
 *      in calls of 250 (the service's per-agent bound); no agent processes: nodes need not run
 *      anything, this measures placement;
 *   3. 1,000 Deploy RPCs (concurrency 32 over 8 channels) to the leader (following it if
 *      leadership moves; the request header makes retries at-most-once); the clock runs from the
 *      first Deploy until the scheduler has placed every container, or every one still pending
 *      carries the scheduler's reason (genuinely unplaceable). Progress is polled with the cheap
 *      ClusterStatus RPC (each plan is a log entry: the leader's commit index stops moving when
 *      the scheduler is done), then confirmed with one stale ListDeployments on a follower that
 *      has applied that index; /metrics is read only at the end, since its collectors may walk
 *      the whole cluster state; then until every replica has applied the leader's commit index.
 *      Nodes are kept alive with AgentService.Heartbeat every 500 ms, as agents would;
 *   4. each replica's RSS polled from /proc/<pid>/status (VmRSS) and its VmHWM read at the end;
 *   5. one follower SIGKILLed, the log pushed well past the leader's snapshot-keep window with
 *      node re-registrations, the follower restarted on its own data (nothing wiped), and the
 *      time until its applied index (ClusterStatus) reaches the leader's commit, and whether it
 *      got there by snapshot (the leader's "snapshot sent" log line for that peer, and the
 *      follower's orchestrator_raft_snapshot_index against its applied index before the kill).
 *
 * A run that breaks still writes bench/results/scheduler-e2e.json, with `completed: false`, how
 * far it got, and what the replicas logged (leaders elected, nodes declared down, snapshots).
 *
 * Bounded: the whole run gives up after `timeoutMs` (5 minutes) with a message that says which
 * step did not finish; every replica is killed by PID whatever way it ends.
 */
import * as grpc from "@grpc/grpc-js";
import { readFileSync, statSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import * as os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import {
  AgentServiceClient,
  type HeartbeatRequest,
  type HeartbeatResponse,
  type RegisterRequest,
  type RegisterResponse,
} from "../src/gen/agent/v1/agent.js";
import {
  OrchestratorServiceClient,
  type ClusterStatusResponse,
  type DeployResponse,
  type ListDeploymentsResponse,
} from "../src/gen/orchestrator/v1/orchestrator.js";
import { Strategy as PbStrategy, type DeploymentSpec } from "../src/gen/orchestrator/v1/types.js";
import { Prng } from "../src/lib/prng.js";
import type { ProcessCluster } from "../dev/local-cluster/process-cluster.js";
import { fixed, loadAverage, machineInfo, processCpuSeconds, round, table, writeResult } from "./bench-report.js";
import { findLeader, killCluster, startTrackedCluster, waitAllCaughtUp } from "./orchestrator-bench-client.js";

export interface SchedulerE2eOptions {
  readonly deployments?: number;
  readonly replicas?: number;
  readonly nodes?: number;
  readonly seed?: number;
  /** Deploy RPCs in flight. */
  readonly concurrency?: number;
  readonly snapshotEvery?: number;
  readonly snapshotKeep?: number;
  /** Give up (and kill everything) after this long. */
  readonly timeoutMs?: number;
  /** Extra environment for the replicas, e.g. { NODE_OPTIONS: "--max-old-space-size=4096" } (for profiles see cpuProfileDir). */
  readonly replicaEnv?: NodeJS.ProcessEnv;
  /** Keep the replicas' logs here (default: a temp dir, deleted afterwards). */
  readonly logDir?: string;
  /**
   * Write a V8 CPU profile of every replica here (<replica pid>.cpuprofile, written when it exits;
   * implies stopGracefully). Node 20 refuses --cpu-prof in NODE_OPTIONS, so this preloads a small
   * CommonJS hook (NODE_OPTIONS=--require) that drives the inspector's Profiler instead.
   */
  readonly cpuProfileDir?: string;
  /** SIGTERM the replicas at the end instead of SIGKILL (a profile is written only on a clean exit). */
  readonly stopGracefully?: boolean;
  /** Skip the restart/catch-up step. */
  readonly skipCatchUp?: boolean;
  /** Write bench/results/scheduler-e2e.json (default true). */
  readonly writeResults?: boolean;
}

const e2eDefaults = {
  deployments: 1_000,
  replicas: 1_000,
  nodes: 10_000,
  seed: 20_240_601,
  concurrency: 32,
  channels: 8,
  snapshotEvery: 500,
  snapshotKeep: 1_000,
  timeoutMs: 5 * 60_000,
  /** AgentService accepts at most agentServiceLimits.nodesPerAgentMax (256) nodes per call. */
  nodesPerRegister: 250,
  registerConcurrency: 4,
  deployTimeoutMs: 60_000,
  registerTimeoutMs: 60_000,
  pollMs: 100,
  statusTimeoutMs: 1_000,
  heartbeatMs: 500,
  rssPollMs: 100,
  /** The leader's commit index unchanged this long (after every Deploy returned): look at what is still pending. */
  stallMs: 1_500,
  clusterReadyMs: 30_000,
  metricsTimeoutMs: 2_000,
  grpcMessageBytesMax: 256 * 1024 * 1024,
  snapshotLogWaitMs: 3_000,
  finalScrapeTimeoutMs: 15_000,
  /** While the commit index keeps moving after every Deploy returned, look at the deployments this often. */
  summaryEveryMs: 2_000,
} as const;

// ---- the workload: the same generator (and seed) as bench/scheduler-placement.ts ----

const regions = ["us-east-1", "eu-west-1", "ap-southeast-1"] as const;
const nodeShapes = [
  [32_000, 131_072],
  [64_000, 262_144],
  [96_000, 393_216],
] as const;
const cpuSizes = [100, 100, 250, 250, 500, 500, 1_000, 2_000] as const;
const memorySizes = [128, 256, 256, 512, 512, 1_024, 2_048] as const;
const strategies = ["binpack", "spread", "latency"] as const;
const strategyToProto = {
  binpack: PbStrategy.STRATEGY_BINPACK,
  spread: PbStrategy.STRATEGY_SPREAD,
  latency: PbStrategy.STRATEGY_LATENCY,
} as const;

interface NodeShape {
  readonly id: string;
  readonly region: string;
  readonly cpu: number;
  readonly memory: number;
}

function makeNodes(count: number, prng: Prng): NodeShape[] {
  const nodes: NodeShape[] = [];
  for (let i = 0; i < count; i++) {
    const region = regions[i % regions.length];
    const [cpu, memory] = prng.pick(nodeShapes);
    nodes.push({ id: `${region}-node-${String(i).padStart(5, "0")}`, region, cpu, memory });
  }
  return nodes;
}

function shuffle<T>(items: T[], prng: Prng): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = prng.nextInt(i + 1);
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

/** Draws in the order scheduler-placement's makeRequest does (same seed, same mix). */
function makeSpec(index: number, replicas: number, prng: Prng): DeploymentSpec {
  const name = `app-${String(index).padStart(4, "0")}`;
  const strategy = prng.pick(strategies);
  const constraint = prng.nextFloat();
  const allowed =
    constraint < 0.15 ? [prng.pick(regions)] : constraint < 0.25 ? shuffle([...regions], prng).slice(0, 2) : [];
  const clientRegions = strategy === "latency" ? shuffle([...regions], prng).slice(0, 1 + prng.nextInt(2)) : [];
  const cpuMillicores = prng.pick(cpuSizes);
  const memoryMib = prng.pick(memorySizes);
  const onePerNode = prng.chance(0.05);
  return {
    name,
    image: `registry.internal.example.com/bench/${name}:v1.0.0`,
    replicas,
    cpuMillicores,
    memoryMib,
    strategy: strategyToProto[strategy],
    regions: allowed,
    clientRegions,
    onePerNode,
    healthCheck: undefined,
    restartPolicy: undefined,
    progressDeadlineMs: 0,
  };
}

// ---- small clients ----

const channelOptions = {
  "grpc.use_local_subchannel_pool": 1,
  "grpc.max_receive_message_length": e2eDefaults.grpcMessageBytesMax,
  "grpc.max_send_message_length": e2eDefaults.grpcMessageBytesMax,
} as const;

function unaryCall<Req, Res>(
  fn: (
    req: Req,
    md: grpc.Metadata,
    options: grpc.CallOptions,
    cb: (error: grpc.ServiceError | null, res: Res) => void,
  ) => unknown,
  request: Req,
  timeoutMs: number,
): Promise<Res> {
  return new Promise((resolve, reject) => {
    fn(request, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (error, response) =>
      error === null ? resolve(response) : reject(error),
    );
  });
}

type Metrics = Map<string, number>;

/** Scrapes one replica's /metrics; each sample is summed over its label sets (one replica: one value per gauge). */
async function scrape(metricsAddress: string, timeoutMs: number = e2eDefaults.metricsTimeoutMs): Promise<Metrics> {
  const response = await fetch(`http://${metricsAddress}/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
  const text = await response.text();
  const out: Metrics = new Map();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const brace = line.indexOf("{");
    const space = line.lastIndexOf(" ");
    const name = brace >= 0 && brace < space ? line.slice(0, brace) : line.slice(0, space);
    const value = Number(line.slice(space + 1));
    if (Number.isFinite(value)) out.set(name, (out.get(name) ?? 0) + value);
  }
  return out;
}

/** One replica's ClusterStatus (raft role and indexes: cheap), or null when it does not answer in time. */
async function tryStatus(client: OrchestratorServiceClient): Promise<ClusterStatusResponse | null> {
  try {
    return await unaryCall<Record<string, never>, ClusterStatusResponse>(
      client.clusterStatus.bind(client),
      {},
      e2eDefaults.statusTimeoutMs,
    );
  } catch {
    return null;
  }
}

/**
 * One scrape with a generous timeout, or null: at the end of the run, for figures only. (Some
 * collectors walk the whole cluster state; at a million containers a scrape can take seconds.)
 */
async function scrapeSlowly(metricsAddress: string): Promise<Metrics | null> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await scrape(metricsAddress, e2eDefaults.finalScrapeTimeoutMs);
    } catch {
      // Busy: try again.
    }
  }
  return null;
}

/** Scrapes until it answers (a replica busy applying may miss a scrape's timeout). */
async function scrapeUntil(metricsAddress: string, deadline: Deadline, step: string): Promise<Metrics> {
  for (;;) {
    deadline.check(step);
    try {
      return await scrape(metricsAddress, Math.max(1, Math.min(e2eDefaults.finalScrapeTimeoutMs, deadline.left())));
    } catch {
      await sleep(100);
    }
  }
}

function procStatus(pid: number): { rssBytes: number; hwmBytes: number } | null {
  try {
    const text = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (key: string) => Number(/\s(\d+)\s+kB/.exec(text.slice(text.indexOf(key)))?.[1] ?? 0) * 1024;
    return { rssBytes: kb("VmRSS:"), hwmBytes: kb("VmHWM:") };
  } catch {
    return null;
  }
}

/** Peak VmRSS per replica id, sampled on a timer. */
class RssSampler {
  readonly peak = new Map<string, number>();
  readonly hwm = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly cluster: ProcessCluster) {}

  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), e2eDefaults.rssPollMs);
  }

  sample(): void {
    for (const replica of this.cluster.replicas) {
      const pid = replica.child?.pid;
      if (pid === undefined) continue;
      const status = procStatus(pid);
      if (status === null) continue;
      this.peak.set(replica.id, Math.max(this.peak.get(replica.id) ?? 0, status.rssBytes));
      this.hwm.set(replica.id, Math.max(this.hwm.get(replica.id) ?? 0, status.hwmBytes));
    }
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }
}

class Deadline {
  private readonly endsAt: number;
  constructor(private readonly ms: number) {
    this.endsAt = performance.now() + ms;
  }
  left(): number {
    return this.endsAt - performance.now();
  }
  check(step: string): void {
    if (this.left() <= 0) throw new Error(`scheduler-e2e: gave up after ${Math.round(this.ms / 1000)} s while ${step}`);
  }
}

function grpcCode(error: unknown): string {
  const code = (error as { code?: number }).code;
  return code === undefined ? String(error) : (grpc.status[code] ?? String(code));
}

function isRetryable(error: unknown): boolean {
  const code = (error as { code?: number }).code;
  return (
    code === grpc.status.UNAVAILABLE ||
    code === grpc.status.RESOURCE_EXHAUSTED ||
    code === grpc.status.DEADLINE_EXCEEDED
  );
}

const gib = 1024 * 1024 * 1024;
const mib = (bytes: number | undefined): string =>
  bytes === undefined ? "-" : `${(bytes / 1024 / 1024).toFixed(0)} MiB`;

/** JSON log lines of a replica written after `fromByte`. */
function logLines(file: string | null, fromByte = 0): Record<string, unknown>[] {
  if (file === null) return [];
  let text: string;
  try {
    // Offsets are bytes (file sizes), and log lines hold multi-byte characters ("—").
    text = readFileSync(file).subarray(fromByte).toString("utf8");
  } catch {
    return [];
  }
  const out: Record<string, unknown>[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // A torn last line.
    }
  }
  return out;
}

function fileSize(file: string | null): number {
  if (file === null) return 0;
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/**
 * Which replica leads, and channels to it. Leadership may move during the run (a replica whose
 * event loop stalls past the election timeout is deposed): requests that meet UNAVAILABLE ask
 * every replica again and retry on the new leader with the same request header, so the FSM's
 * dedup table keeps every Deploy at most once.
 */
class LeaderClients {
  private readonly orchestrator = new Map<string, OrchestratorServiceClient[]>();
  private readonly agents = new Map<string, AgentServiceClient>();
  private refreshing: Promise<void> | null = null;
  id = "";
  apiAddress = "";

  constructor(
    private readonly cluster: ProcessCluster,
    private readonly channelsPerReplica: number,
  ) {}

  async refresh(): Promise<void> {
    this.refreshing ??= findLeader(this.cluster.replicas.map((r) => r.apiAddress))
      .then((leader) => {
        this.id = leader.id;
        this.apiAddress = leader.apiAddress;
      })
      .finally(() => {
        this.refreshing = null;
      });
    await this.refreshing;
  }

  channel(slot: number): OrchestratorServiceClient {
    let list = this.orchestrator.get(this.apiAddress);
    if (list === undefined) {
      list = Array.from(
        { length: this.channelsPerReplica },
        () => new OrchestratorServiceClient(this.apiAddress, grpc.credentials.createInsecure(), channelOptions),
      );
      this.orchestrator.set(this.apiAddress, list);
    }
    return list[slot % list.length];
  }

  agent(): AgentServiceClient {
    let client = this.agents.get(this.apiAddress);
    if (client === undefined) {
      client = new AgentServiceClient(this.apiAddress, grpc.credentials.createInsecure(), channelOptions);
      this.agents.set(this.apiAddress, client);
    }
    return client;
  }

  /** Runs `call` against the leader, following leadership changes; gives up after `attempts`. */
  async call<T>(
    step: string,
    deadline: Deadline,
    call: () => Promise<T>,
    onRetry: (error: unknown) => void,
    attempts = 50,
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      deadline.check(step);
      try {
        return await call();
      } catch (error) {
        if (!isRetryable(error) || attempt >= attempts) throw error;
        onRetry(error);
        await sleep(50);
        try {
          await this.refresh();
        } catch {
          // No leader yet: the next attempt asks again.
        }
      }
    }
  }

  close(): void {
    for (const list of this.orchestrator.values()) for (const client of list) client.close();
    for (const client of this.agents.values()) client.close();
  }
}

interface PendingSummary {
  readonly desired: number;
  readonly pending: number;
  readonly unexplained: number;
  readonly reasons: Map<string, number>;
  readonly revision: number;
}

export async function benchSchedulerEndToEnd(options: SchedulerE2eOptions = {}): Promise<unknown> {
  const o = {
    ...e2eDefaults,
    ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
  } as typeof e2eDefaults & SchedulerE2eOptions;
  const deadline = new Deadline(o.timeoutMs);
  const machine = machineInfo();
  const totalContainers = o.deployments * o.replicas;
  console.log(
    `\nscheduler-e2e: ${o.deployments.toLocaleString("en-US")} deployments x ${o.replicas.toLocaleString("en-US")} replicas on ${o.nodes.toLocaleString("en-US")} nodes through 3 replicas (--snapshot-every ${o.snapshotEvery}, --snapshot-keep ${o.snapshotKeep}), Deploy concurrency ${o.concurrency}; ${machine.machineCores} cores, load ${machine.loadAverageAtStart.join(" ")}`,
  );

  const root = await mkdtemp(path.join(os.tmpdir(), "orch-bench-sched-e2e-"));
  const logDir = o.logDir ?? path.join(root, "logs");
  let replicaEnv = o.replicaEnv;
  if (o.cpuProfileDir !== undefined) {
    await mkdir(o.cpuProfileDir, { recursive: true });
    const hook = path.join(root, "cpu-profile-hook.cjs");
    await writeFile(hook, cpuProfileHook(path.resolve(o.cpuProfileDir)));
    replicaEnv = { ...replicaEnv, NODE_OPTIONS: `${replicaEnv?.NODE_OPTIONS ?? ""} --require ${hook}`.trim() };
  }
  const graceful = o.stopGracefully === true || o.cpuProfileDir !== undefined;
  const { cluster, untrack } = await startTrackedCluster({
    ports: "random",
    dataRoot: path.join(root, "data"),
    wipe: true,
    logDir,
    extraArgs: ["--snapshot-every", String(o.snapshotEvery), "--snapshot-keep", String(o.snapshotKeep)],
    ...(replicaEnv !== undefined ? { env: replicaEnv } : {}),
  });
  const rss = new RssSampler(cluster);
  rss.start();
  const leader = new LeaderClients(cluster, o.channels);
  const statusClients = new Map<string, OrchestratorServiceClient>();
  /** What is known so far, written to the results file if the run breaks. */
  const partial: Record<string, unknown> = { stage: "starting the replicas" };
  let heartbeatTimer: NodeJS.Timeout | null = null;
  try {
    await waitAllCaughtUp(
      cluster.replicas.map((r) => r.apiAddress),
      e2eDefaults.clusterReadyMs,
    );
    await leader.refresh();
    const firstLeader = leader.id;
    console.log(`  leader ${leader.id}; logs in ${logDir}`);
    const sumOf = (all: (Metrics | null)[], name: string) => all.reduce((sum, m) => sum + (m?.get(name) ?? 0), 0);
    for (const r of cluster.replicas)
      statusClients.set(
        r.id,
        new OrchestratorServiceClient(r.apiAddress, grpc.credentials.createInsecure(), channelOptions),
      );
    const statusAll = () =>
      Promise.all(cluster.replicas.map((r) => tryStatus(statusClients.get(r.id) as OrchestratorServiceClient)));

    // ---- nodes ----
    const prng = new Prng(o.seed);
    const nodes = makeNodes(o.nodes, prng);
    let registerRetries = 0;
    const register = (batch: readonly NodeShape[], agentId: string, step: string): Promise<RegisterResponse> =>
      leader.call(
        step,
        deadline,
        () => {
          const client = leader.agent();
          return unaryCall<RegisterRequest, RegisterResponse>(
            client.register.bind(client),
            {
              agentId,
              nodes: batch.map((n) => ({
                nodeId: n.id,
                region: n.region,
                capacity: { cpuMillicores: n.cpu, memoryMib: n.memory },
                agentAddress: "127.0.0.1:9",
              })),
            },
            e2eDefaults.registerTimeoutMs,
          );
        },
        () => registerRetries++,
      );
    const batches: NodeShape[][] = [];
    for (let i = 0; i < nodes.length; i += o.nodesPerRegister) batches.push(nodes.slice(i, i + o.nodesPerRegister));
    // Keep every registered node alive as its agent would, from its registration on (a
    // node-liveness controller declares a node silent past its TTL down).
    const registered = batches.map(() => false);
    let heartbeating = false;
    heartbeatTimer = setInterval(() => {
      if (heartbeating) return;
      heartbeating = true;
      const client = leader.agent();
      void Promise.allSettled(
        batches.flatMap((batch, i) =>
          registered[i]
            ? [
                unaryCall<HeartbeatRequest, HeartbeatResponse>(
                  client.heartbeat.bind(client),
                  { agentId: `bench-e2e-agent-${i}`, nodeIds: batch.map((n) => n.id) },
                  e2eDefaults.heartbeatMs * 4,
                ),
              ]
            : [],
        ),
      ).then((outcomes) => {
        heartbeating = false;
        // Heartbeats must reach the leader, wherever it moved, or it declares the nodes down.
        if (outcomes.some((outcome) => outcome.status === "rejected" && isRetryable(outcome.reason)))
          leader.refresh().catch(() => undefined);
      });
    }, e2eDefaults.heartbeatMs);
    const registerStarted = performance.now();
    await runPool(batches.length, o.registerConcurrency, async (i) => {
      const response = await register(batches[i], `bench-e2e-agent-${i}`, "registering nodes");
      if (response.nodes.length !== batches[i].length)
        throw new Error(`Register answered for ${response.nodes.length} of ${batches[i].length} nodes`);
      registered[i] = true;
    });
    const registerSeconds = (performance.now() - registerStarted) / 1000;
    partial.registerSeconds = round(registerSeconds, 3);
    console.log(
      `  registered ${nodes.length.toLocaleString("en-US")} nodes in ${batches.length} Register calls: ${fixed(registerSeconds, 2)} s (${Math.round(nodes.length / registerSeconds).toLocaleString("en-US")} nodes/s)`,
    );

    // ---- the million ----
    const specs: DeploymentSpec[] = [];
    for (let i = 0; i < o.deployments; i++) {
      specs.push(makeSpec(i, o.replicas, prng));
      prng.nextUint32(); // scheduler-placement draws a plan seed here; keep the sequence identical
    }
    const before = await statusAll();
    const commitBefore = Math.max(...before.map((st) => st?.commitIndex ?? 0));
    const startedWall = new Date().toISOString();
    const deployLatencies: number[] = [];
    let deployRetries = 0;
    const errorSamples = new Map<string, string>();
    const noteError = (error: unknown) => {
      const code = grpcCode(error);
      if (!errorSamples.has(code)) errorSamples.set(code, (error as Error).message);
    };
    const started = performance.now();
    partial.stage = "placing the million";
    partial.deploysAnswered = () => deployLatencies.length;
    partial.deployRetries = () => deployRetries;
    partial.deployErrors = () => Object.fromEntries(errorSamples);
    partial.secondsSinceFirstDeploy = () => round((performance.now() - started) / 1000, 1);
    let deploysDoneAt = 0;
    const progress: { seconds: number; leader: string; commit: number; applied: (number | null)[] }[] = [];
    partial.progress = () => progress.filter((_, i) => i % 10 === 0 || i === progress.length - 1);
    let lastCommit = -1;
    let lastChangeAt = started;
    let lastSummaryAt = started;
    let placedAt = 0;
    let deploysDone = false;
    let deployFailure: unknown = null;
    const deploys = runPool(specs.length, o.concurrency, async (i, worker) => {
      const spec = specs[i];
      const header = { clientId: `bench-e2e-w${worker}`, seq: i + 1 };
      const t0 = performance.now();
      await leader.call(
        `deploying ${spec.name}`,
        deadline,
        () => {
          const client = leader.channel(worker);
          return unaryCall<Parameters<OrchestratorServiceClient["deploy"]>[0], DeployResponse>(
            client.deploy.bind(client),
            { header, spec },
            e2eDefaults.deployTimeoutMs,
          );
        },
        (error) => {
          deployRetries++;
          noteError(error);
        },
      );
      deployLatencies.push(performance.now() - t0);
    }).then(
      () => {
        deploysDone = true;
        deploysDoneAt = performance.now();
      },
      (error: unknown) => {
        noteError(error);
        deployFailure = error;
      },
    );

    // Each plan is a log entry: once every Deploy is in and the leader's commit index stops
    // moving, the scheduler is done; a stale ListDeployments on a follower that applied that
    // index confirms it (every container placed, or pending with the scheduler's reason). Should
    // other entries keep the index moving, the status is checked every summaryEveryMs instead.
    let summary: PendingSummary | null = null;
    for (;;) {
      deadline.check(
        `placing (commit index ${lastCommit}; ${deployLatencies.length} of ${specs.length} Deploys answered)`,
      );
      if (deployFailure !== null)
        throw new Error(`a Deploy failed: ${grpcCode(deployFailure)}: ${(deployFailure as Error).message}`);
      await sleep(e2eDefaults.pollMs);
      const statuses = await statusAll();
      const now = performance.now();
      const leading = statuses.find((st) => st?.role === "leader") ?? null;
      if (leading !== null && leading.replicaId !== leader.id) leader.refresh().catch(() => undefined);
      const commit = leading?.commitIndex ?? lastCommit;
      progress.push({
        seconds: round((now - started) / 1000, 2),
        leader: leading?.replicaId ?? "",
        commit,
        applied: statuses.map((st) => st?.appliedIndex ?? null),
      });
      if (commit !== lastCommit) {
        lastCommit = commit;
        lastChangeAt = now;
      }
      if (!deploysDone || leading === null) continue;
      const stalled = now - lastChangeAt > e2eDefaults.stallMs;
      if (!stalled && now - lastSummaryAt < e2eDefaults.summaryEveryMs) continue;
      lastSummaryAt = now;
      const state = await pendingSummary(cluster, leading.replicaId, statuses, commit);
      if (state !== null && state.desired === totalContainers && state.unexplained === 0) {
        summary = state;
        placedAt = stalled ? lastChangeAt : now;
        break;
      }
      if (stalled) lastChangeAt = now; // not settled yet: give the scheduler another stall period
    }
    await deploys;
    const placementSeconds = (placedAt - started) / 1000;
    partial.stage = "waiting for every replica to apply the last plan";
    partial.placementSeconds = round(placementSeconds, 3);
    partial.placed = summary.desired - summary.pending;
    partial.pendingWithReason = summary.pending;
    // Every replica applies what the leader committed.
    const targetCommit = lastCommit;
    let replicatedAt = 0;
    for (;;) {
      deadline.check(`waiting for every replica to apply the leader's commit index ${targetCommit}`);
      const statuses = await statusAll();
      if (statuses.every((st) => st !== null && st.appliedIndex >= targetCommit)) {
        replicatedAt = performance.now();
        break;
      }
      await sleep(e2eDefaults.pollMs);
    }
    await leader.refresh();
    const replicatedSeconds = (replicatedAt - started) / 1000;
    partial.stage = "reading the replicas' metrics";
    partial.allReplicasAppliedSeconds = round(replicatedSeconds, 3);
    if (summary === null) throw new Error("could not read the deployments' status at the end");
    const placedTotal = summary.desired - summary.pending;
    rss.sample();
    const peakRss = new Map(rss.peak);
    const peakHwm = new Map(rss.hwm);
    const cpuSeconds = new Map(
      cluster.replicas.map((r) => [r.id, r.child?.pid === undefined ? null : processCpuSeconds(r.child.pid)]),
    );
    // /metrics only now: in the measured part, its collectors would compete with the work measured.
    const after = await Promise.all(cluster.replicas.map((r) => scrapeSlowly(r.metricsAddress)));
    const planCount = sumOf(after, "orchestrator_scheduler_plan_duration_seconds_count");
    const planSeconds = sumOf(after, "orchestrator_scheduler_plan_duration_seconds_sum");
    const rejected = sumOf(after, "orchestrator_scheduler_plan_rejections_total");
    const snapshotLog = cluster.replicas.flatMap((r) =>
      logLines(r.logFile)
        .filter((l) => l.msg === "snapshot taken, log compacted")
        .map((l) => ({
          time: String(l.time),
          replica: r.id,
          role: String(l.role),
          index: Number(l.index),
          bytes: Number(l.bytes),
        })),
    );
    snapshotLog.sort((a, b) => (a.time < b.time ? -1 : 1));
    const snapshots = cluster.replicas.map((r) => {
      const bytes = snapshotLog.filter((l) => l.replica === r.id).map((l) => l.bytes);
      return { id: r.id, count: bytes.length, maxBytes: Math.max(0, ...bytes) };
    });
    const leadership = cluster.replicas.flatMap((r) =>
      logLines(r.logFile)
        .filter(
          (l) =>
            l.msg === "became leader" ||
            (typeof l.msg === "string" && l.msg.startsWith("role follower") && l.role === "follower"),
        )
        .map((l) => ({ time: String(l.time), replica: r.id, msg: String(l.msg), term: Number(l.term) })),
    );
    leadership.sort((a, b) => (a.time < b.time ? -1 : 1));
    const leaderChanges = new Set(
      leadership.filter((l) => l.msg === "became leader" && l.time >= startedWall).map((l) => l.term),
    ).size;
    const placementsPerSecond = placedTotal / placementSeconds;
    console.log(
      `  placed ${placedTotal.toLocaleString("en-US")} of ${totalContainers.toLocaleString("en-US")} containers in ${fixed(placementSeconds, 2)} s from the first Deploy (${Math.round(placementsPerSecond).toLocaleString("en-US")} placements/s); every replica applied it by ${fixed(replicatedSeconds, 2)} s; ${summary.pending.toLocaleString("en-US")} left pending with the scheduler's reason; ${leaderChanges} leader change(s) (first leader ${firstLeader}, now ${leader.id})`,
    );
    const deploySeconds = (deploysDoneAt - started) / 1000;
    deployLatencies.sort((a, b) => a - b);
    const pct = (p: number) =>
      deployLatencies[Math.min(deployLatencies.length - 1, Math.floor(p * deployLatencies.length))] ?? 0;
    console.log(
      `  Deploys: ${specs.length} in ${fixed(deploySeconds, 2)} s (p50 ${fixed(pct(0.5), 0)} ms, p99 ${fixed(pct(0.99), 0)} ms, ${deployRetries} retries${errorSamples.size > 0 ? `: ${[...errorSamples.keys()].join(", ")}` : ""}); ${planCount} plans (${fixed(planSeconds, 2)} s planning), ${rejected} placements rejected at apply; ${targetCommit - commitBefore} Raft entries`,
    );

    // ---- a follower killed, the log moved on, the follower restarted ----
    let catchUp: Record<string, unknown> | null = null;
    partial.stage = "catch-up of a restarted follower";
    if (o.skipCatchUp !== true) {
      deadline.check("starting the catch-up step");
      const follower = cluster.replicas.find((r) => r.id !== leader.id);
      if (follower === undefined) throw new Error("no follower");
      const fm = await scrapeUntil(follower.metricsAddress, deadline, "reading the follower's snapshot index");
      const appliedBeforeKill = fm.get("orchestrator_raft_applied_index") ?? 0;
      const snapshotBeforeKill = fm.get("orchestrator_raft_snapshot_index") ?? 0;
      await cluster.kill(follower.id, "SIGKILL");
      // Move the log well past the follower and the leader's keep window, so the leader has
      // compacted what the follower would need: node re-registrations (idempotent; one
      // register-node entry each).
      const extraEntries = o.snapshotEvery + o.snapshotKeep + 500;
      const rebatches: NodeShape[][] = [];
      for (let i = 0; i < extraEntries; i += o.nodesPerRegister)
        rebatches.push(nodes.slice(i % nodes.length, (i % nodes.length) + o.nodesPerRegister));
      const writesStarted = performance.now();
      await runPool(rebatches.length, o.registerConcurrency, async (i) => {
        await register(rebatches[i], `bench-e2e-reregister-${i}`, "writing while the follower is down");
      });
      const writesSeconds = (performance.now() - writesStarted) / 1000;
      await leader.refresh();
      const catchUpLeader = cluster.replica(leader.id);
      const lm = await scrapeUntil(catchUpLeader.metricsAddress, deadline, "reading the leader's snapshot index");
      const leaderSnapshot = lm.get("orchestrator_raft_snapshot_index") ?? 0;
      const leaderStatus = await tryStatus(statusClients.get(catchUpLeader.id) as OrchestratorServiceClient);
      const leaderCommit = leaderStatus?.commitIndex ?? lm.get("orchestrator_raft_commit_index") ?? 0;
      const logFrom = new Map(cluster.replicas.map((r) => [r.id, fileSize(r.logFile)]));
      const restartedAt = performance.now();
      cluster.restart(follower.id);
      let apiUpAt: number | null = null;
      let caughtUpAt = 0;
      for (;;) {
        deadline.check(`waiting for restarted follower ${follower.id} to catch up (leader commit ${leaderCommit})`);
        if (follower.child === null)
          throw new Error(`restarted follower ${follower.id} exited; see ${follower.logFile ?? "its log"}`);
        const st = await tryStatus(statusClients.get(follower.id) as OrchestratorServiceClient);
        if (st !== null) {
          apiUpAt ??= performance.now();
          if (st.appliedIndex >= leaderCommit) {
            caughtUpAt = performance.now();
            break;
          }
        }
        await sleep(50);
      }
      const followerAfter = await scrapeUntil(
        follower.metricsAddress,
        deadline,
        "reading the restarted follower's snapshot index",
      );
      rss.sample();
      // Whoever led meanwhile may have sent it. The sender logs "snapshot sent" once the follower
      // acknowledged the stream, which can be just after the follower applied it: look for a while.
      const sentLines = () =>
        cluster.replicas.flatMap((r) =>
          logLines(r.logFile, logFrom.get(r.id)).filter((l) => l.msg === "snapshot sent" && l.peer === follower.id),
        );
      for (let waited = 0; sentLines().length === 0 && waited < e2eDefaults.snapshotLogWaitMs; waited += 100)
        await sleep(100);
      const sent = sentLines();
      const failedSends = cluster.replicas.flatMap((r) =>
        logLines(r.logFile, logFrom.get(r.id)).filter(
          (l) => l.msg === "snapshot send failed" && l.peer === follower.id,
        ),
      );
      const snapshotIndexAfter = followerAfter.get("orchestrator_raft_snapshot_index") ?? 0;
      const restartedPid = follower.child?.pid;
      const restartedHwm = restartedPid === undefined ? null : (procStatus(restartedPid)?.hwmBytes ?? null);
      catchUp = {
        follower: follower.id,
        appliedBeforeKill,
        snapshotIndexBeforeKill: snapshotBeforeKill,
        entriesWrittenWhileDown: leaderCommit - appliedBeforeKill,
        writesWhileDownSeconds: round(writesSeconds, 3),
        leaderCommitAtRestart: leaderCommit,
        leaderSnapshotIndexAtRestart: leaderSnapshot,
        /** Restart until its API answers: opening its store and restoring its own last snapshot. */
        apiUpSeconds: apiUpAt === null ? null : round((apiUpAt - restartedAt) / 1000, 3),
        caughtUpSeconds: round((caughtUpAt - restartedAt) / 1000, 3),
        bySnapshot: sent.length > 0,
        snapshotsSent: sent.map((l) => ({ index: l.index, bytes: l.bytes, ms: l.ms })),
        snapshotSendsFailed: failedSends.map((l) => ({ index: l.index, bytes: l.bytes, ms: l.ms, detail: l.detail })),
        followerSnapshotIndexAfter: snapshotIndexAfter,
        snapshotIndexAboveAppliedBeforeKill: snapshotIndexAfter > appliedBeforeKill,
        restartedPeakRssBytes: restartedHwm,
      };
      console.log(
        `  catch-up: ${follower.id} SIGKILLed at applied ${appliedBeforeKill}; ${leaderCommit - appliedBeforeKill} entries written meanwhile in ${fixed(writesSeconds, 2)} s (leader snapshot at ${leaderSnapshot}); restarted: API up after ${fixed(catchUp.apiUpSeconds as number | null, 2)} s, applied ${leaderCommit} after ${fixed(catchUp.caughtUpSeconds as number, 2)} s, ${sent.length > 0 ? `by snapshot (${sent.map((l) => `${mib(Number(l.bytes))} sent in ${String(l.ms)} ms`).join(", ")})` : "from the log (no snapshot sent)"}${failedSends.length > 0 ? `, ${failedSends.length} snapshot send(s) failed first` : ""}; its peak RSS ${mib(restartedHwm ?? undefined)}`,
      );
    }

    // ---- report ----
    const rows = cluster.replicas.map((r, i) => {
      const snap = snapshots.find((s) => s.id === r.id);
      return [
        `${r.id}${r.id === firstLeader ? " (leader)" : ""}`,
        mib(peakRss.get(r.id)),
        mib(peakHwm.get(r.id)),
        String(after[i]?.get("orchestrator_raft_applied_index") ?? "-"),
        String(snap?.count ?? "-"),
        mib(snap?.maxBytes),
        fixed(cpuSeconds.get(r.id), 1),
      ];
    });
    console.log("");
    console.log(table(["replica", "peak VmRSS", "VmHWM", "applied", "snapshots", "largest", "cpu s"], rows));
    const maxHwm = Math.max(...peakHwm.values(), ...peakRss.values());
    const timeTarget = placementSeconds < 30;
    const memoryTarget = maxHwm < 1.5 * gib;
    console.log(`  target: < 30 s for the million: ${timeTarget ? "met" : "MISSED"} (${fixed(placementSeconds, 1)} s)`);
    console.log(`  target: < 1.5 GiB per replica: ${memoryTarget ? "met" : "MISSED"} (max ${mib(maxHwm)})`);
    const loadAtEnd = loadAverage();
    console.log(`  load average at end: ${loadAtEnd.join(" ")}`);

    const result = {
      name: "scheduler-e2e",
      date: new Date().toISOString(),
      ...machine,
      loadAverageAtEnd: loadAtEnd,
      config: {
        deployments: o.deployments,
        replicas: o.replicas,
        nodes: o.nodes,
        seed: o.seed,
        concurrency: o.concurrency,
        channels: o.channels,
        snapshotEvery: o.snapshotEvery,
        snapshotKeep: o.snapshotKeep,
        nodesPerRegister: o.nodesPerRegister,
      },
      register: {
        nodes: nodes.length,
        calls: batches.length,
        seconds: round(registerSeconds, 3),
        retries: registerRetries,
      },
      containers: totalContainers,
      placed: placedTotal,
      pendingWithReason: summary.pending,
      pendingReasons: Object.fromEntries(summary.reasons),
      placementSeconds: round(placementSeconds, 3),
      placementsPerSecond: Math.round(placementsPerSecond),
      allReplicasAppliedSeconds: round(replicatedSeconds, 3),
      leaderChanges,
      leadership,
      /** Snapshots of 1 MB or more (the small ones while nodes registered are left out). */
      snapshotLog: snapshotLog.filter((l) => l.bytes >= 1_000_000),
      deploys: {
        count: specs.length,
        seconds: round(deploySeconds, 3),
        p50Ms: round(pct(0.5), 1),
        p99Ms: round(pct(0.99), 1),
        maxMs: round(pct(1), 1),
        retries: deployRetries,
        errorSamples: Object.fromEntries(errorSamples),
      },
      scheduler: { plans: planCount, planningSeconds: round(planSeconds, 3), rejectedAtApply: rejected },
      raftEntries: targetCommit - commitBefore,
      replicas: cluster.replicas.map((r, i) => {
        const snap = snapshots.find((s) => s.id === r.id);
        return {
          id: r.id,
          firstLeader: r.id === firstLeader,
          peakRssBytes: peakRss.get(r.id) ?? null,
          vmHwmBytes: peakHwm.get(r.id) ?? null,
          appliedIndex: after[i]?.get("orchestrator_raft_applied_index") ?? null,
          cpuSeconds: cpuSeconds.get(r.id) ?? null,
          snapshotsTaken: snap?.count ?? null,
          largestSnapshotBytes: snap?.maxBytes ?? null,
        };
      }),
      catchUp,
      progress: progress.filter((_, i) => i % 5 === 0 || i === progress.length - 1),
      targets: { under30Seconds: timeTarget, under1_5GiBPerReplica: memoryTarget },
    };
    if (o.writeResults !== false) console.log(`  wrote ${await writeResult("scheduler-e2e", result)}`);
    return result;
  } catch (error) {
    // A broken run is a result too: record how far it got and what the replicas logged.
    rss.sample();
    const lines = cluster.replicas.map((r) => logLines(r.logFile));
    const count = (msg: string) => lines.reduce((sum, l) => sum + l.filter((x) => x.msg === msg).length, 0);
    const failure = {
      name: "scheduler-e2e",
      date: new Date().toISOString(),
      ...machine,
      loadAverageAtEnd: loadAverage(),
      completed: false,
      error: error instanceof Error ? error.message : String(error),
      ...Object.fromEntries(
        Object.entries(partial).map(([k, v]) => [k, typeof v === "function" ? (v as () => unknown)() : v]),
      ),
      peakRssBytes: Object.fromEntries(rss.peak),
      vmHwmBytes: Object.fromEntries(rss.hwm),
      fromLogs: {
        leadersElected: count("became leader"),
        nodesDeclaredDown: count("declaring node down"),
        planProposalsFailed: count("plan proposal failed"),
        snapshotsTaken: count("snapshot taken, log compacted"),
        largestSnapshotBytes: Math.max(
          0,
          ...lines.flatMap((l) =>
            l.filter((x) => x.msg === "snapshot taken, log compacted").map((x) => Number(x.bytes ?? 0)),
          ),
        ),
      },
    };
    console.log(
      `  FAILED (${failure.error}); leaders elected ${failure.fromLogs.leadersElected}, nodes declared down ${failure.fromLogs.nodesDeclaredDown}, plan proposals failed ${failure.fromLogs.planProposalsFailed}`,
    );
    if (o.writeResults !== false) console.log(`  wrote ${await writeResult("scheduler-e2e", failure)}`);
    throw error;
  } finally {
    rss.stop();
    if (heartbeatTimer !== null) clearInterval(heartbeatTimer);
    leader.close();
    for (const client of statusClients.values()) client.close();
    if (graceful) await cluster.stop();
    else await killCluster(cluster);
    untrack();
    // Logs asked for live outside `root` (logDir); everything else goes.
    await rm(root, { recursive: true, force: true });
  }
}

/** A preload that samples the process with the inspector's Profiler and writes the profile on exit. */
function cpuProfileHook(dir: string): string {
  return `"use strict";
const inspector = require("node:inspector");
const fs = require("node:fs");
const path = require("node:path");
const session = new inspector.Session();
session.connect();
session.post("Profiler.enable");
session.post("Profiler.setSamplingInterval", { interval: 500 });
session.post("Profiler.start");
process.on("exit", () => {
  session.post("Profiler.stop", (error, result) => {
    if (error === null && result !== undefined) fs.writeFileSync(path.join(${JSON.stringify(dir)}, process.pid + ".cpuprofile"), JSON.stringify(result.profile));
  });
});
`;
}

/**
 * Containers asked for and still pending, from a stale ListDeployments on a follower that has
 * applied `commit` (its answer summarises every container: too much work to ask of the leader
 * mid-run); null when no follower is there yet.
 */
async function pendingSummary(
  cluster: ProcessCluster,
  leaderId: string,
  statuses: readonly (ClusterStatusResponse | null)[],
  commit: number,
): Promise<PendingSummary | null> {
  const replica = cluster.replicas.find(
    (r, i) => r.id !== leaderId && r.child !== null && (statuses[i]?.appliedIndex ?? 0) >= commit,
  );
  if (replica === undefined) return null;
  const client = new OrchestratorServiceClient(replica.apiAddress, grpc.credentials.createInsecure(), channelOptions);
  try {
    const response = await unaryCall<{ stale: boolean }, ListDeploymentsResponse>(
      client.listDeployments.bind(client),
      { stale: true },
      30_000,
    );
    let desired = 0;
    let pending = 0;
    let unexplained = 0;
    const reasons = new Map<string, number>();
    for (const d of response.deployments) {
      const st = d.status;
      if (st === undefined) continue;
      desired += st.desired;
      pending += st.pending;
      if (st.pending > 0) {
        if (st.pendingReason === "") unexplained += st.pending;
        else reasons.set(st.pendingReason, (reasons.get(st.pendingReason) ?? 0) + st.pending);
      }
    }
    return { desired, pending, unexplained, reasons, revision: response.revision };
  } catch {
    return null;
  } finally {
    client.close();
  }
}

/** Runs task(0..count-1) with at most `concurrency` in flight; the first failure rejects. */
async function runPool(
  count: number,
  concurrency: number,
  task: (index: number, worker: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed: unknown = null;
  const worker = async (w: number): Promise<void> => {
    while (failed === null && next < count) {
      const i = next++;
      try {
        await task(i, w);
      } catch (error) {
        failed ??= error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, (_, w) => worker(w)));
  if (failed !== null) throw failed instanceof Error ? failed : new Error(String(failed));
}
