/**
 * Health and self-healing (docs/architecture.md, "Health and self-healing"), on real processes: three
 * replicas (random ports) and three node-agent processes (one per region) serving their
 * simulated containers' HTTP health endpoints.
 *
 *   1. probes: 10,000 small containers (10 deployments x 1,000, spread over 3 x 20 nodes) with a
 *      1 s probe period; once all are healthy, the rate of the leader's
 *      orchestrator_health_probes_total over ~20 s, the leader's CPU (from /proc/<pid>/stat) and
 *      the agents' CPU, and whether probing keeps up (rate ~ containers / period).
 *   2. recovery: on a fresh, small cluster (3 x 4 nodes) with the default policies, ~10 times
 *      each: a container crash (POST /faults/containers/<id>/crash on its agent) until that
 *      container is running and healthy again, and a node death (POST /faults/nodes/<id>/kill)
 *      until every deployment is fully healthy again with the node declared down (its containers
 *      replaced elsewhere). Each trial waits for the cluster to settle (no open operation) first.
 *   3. chaos: on the same cluster, deployments of 1..5 replicas under random container crashes
 *      and node deaths (killed, revived 8-20 s later; a quarter of them blips revived within the
 *      heartbeat TTL) for a bounded time, then a drain until no operation is open (bounded). Success ratios from the cluster's own SLO accounting: every
 *      operation outcome the FSM records is an "operation-succeeded"/"operation-failed" event,
 *      read from a Watch stream and split by the deployment's replica count; cross-checked with
 *      GetSlo's 1-hour window (difference between before and after the chaos).
 *
 * Every process is killed by PID whatever way the run ends (process-guard.ts).
 */
import * as grpc from "@grpc/grpc-js";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import * as os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import {
  OrchestratorServiceClient,
  type DeployResponse,
  type DeleteResponse,
  type GetDeploymentResponse,
  type GetSloResponse,
  type ListDeploymentsResponse,
  type ListNodesResponse,
  type WatchResponse,
} from "../src/gen/orchestrator/v1/orchestrator.js";
import {
  ContainerState,
  NodeStatus,
  Strategy,
  type Container,
  type DeploymentSpec,
  type HealthCheck,
} from "../src/gen/orchestrator/v1/types.js";
import { Prng } from "../src/lib/prng.js";
import { AgentProcesses } from "../dev/local-cluster/process-agents.js";
import type { ProcessCluster } from "../dev/local-cluster/process-cluster.js";
import { loadAverage, machineInfo, processCpuSeconds, round, table, writeResult } from "./bench-report.js";
import { findLeader, killCluster, startTrackedCluster } from "./orchestrator-bench-client.js";
import { trackProcesses } from "./process-guard.js";

export interface HealthBenchOptions {
  /** Containers of the probe benchmark (10 deployments share them). */
  readonly containers?: number;
  readonly probePeriodMs?: number;
  readonly probeWindowMs?: number;
  /** Give up on the probe benchmark when the containers are not all healthy by then. */
  readonly probeReadyMs?: number;
  readonly crashTrials?: number;
  readonly nodeTrials?: number;
  readonly chaosMs?: number;
  readonly seed?: number;
  /**
   * Write V8 CPU profiles of the leader (and the agents) over the probe window here. Node 20
   * refuses --cpu-prof in NODE_OPTIONS, so a small preload (NODE_OPTIONS=--require) drives the
   * inspector's Profiler: SIGUSR2 starts it, a second SIGUSR2 writes <pid>.cpuprofile.
   */
  readonly cpuProfileDir?: string;
  /** Keep the temp dir (logs) instead of deleting it. */
  readonly keepFiles?: boolean;
}

const healthDefaults = {
  containers: 10_000,
  probeDeployments: 10,
  probePeriodMs: 1_000,
  probeWindowMs: 20_000,
  /** After all are healthy, before the window: the start-up writes and assignment streams quieten. */
  probeSettleMs: 10_000,
  probeRegionsNodes: 20,
  probeReadyMs: 240_000,
  crashTrials: 10,
  nodeTrials: 10,
  recoveryNodesPerRegion: 4,
  trialTimeoutMs: 60_000,
  settleTimeoutMs: 45_000,
  chaosMs: 180_000,
  chaosDrainMs: 75_000,
  chaosFaultGapMsMin: 1_000,
  chaosFaultGapMsMax: 4_000,
  chaosNodeKillChance: 0.3,
  /** Of the node kills, this share are blips: revived within the heartbeat TTL (never declared down). */
  chaosBlipChance: 0.25,
  chaosBlipMsMin: 1_000,
  chaosBlipMsMax: 2_500,
  chaosDeadNodesMax: 3,
  chaosReviveMsMin: 8_000,
  chaosReviveMsMax: 20_000,
  pollMs: 50,
  rpcTimeoutMs: 10_000,
  seed: 20_250_101,
} as const;

type Opts = typeof healthDefaults & HealthBenchOptions;

// ---- small clients ----

const channelOptions = {
  "grpc.use_local_subchannel_pool": 1,
  "grpc.max_receive_message_length": 256 * 1024 * 1024,
  "grpc.initial_reconnect_backoff_ms": 50,
  "grpc.max_reconnect_backoff_ms": 500,
} as const;

function unaryCall<Req, Res>(
  fn: (
    req: Req,
    md: grpc.Metadata,
    options: grpc.CallOptions,
    cb: (error: grpc.ServiceError | null, res: Res) => void,
  ) => unknown,
  request: Req,
  timeoutMs: number = healthDefaults.rpcTimeoutMs,
): Promise<Res> {
  return new Promise((resolve, reject) => {
    fn(request, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (error, response) =>
      error === null ? resolve(response) : reject(error),
    );
  });
}

/** Prometheus text -> "name{labels}" -> value (and "name" -> the sum over its label sets). */
export async function scrape(address: string, timeoutMs = 5_000): Promise<Map<string, number>> {
  const response = await fetch(`http://${address}/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
  const text = await response.text();
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    const key = line.slice(0, space);
    const value = Number(line.slice(space + 1));
    if (!Number.isFinite(value)) continue;
    out.set(key, value);
    const brace = key.indexOf("{");
    if (brace >= 0) {
      const name = key.slice(0, brace);
      out.set(name, (out.get(name) ?? 0) + value);
    }
  }
  return out;
}

export function byLabel(metrics: Map<string, number>, name: string, label: string): Record<string, number> {
  const out: Record<string, number> = {};
  const prefix = `${name}{`;
  for (const [key, value] of metrics) {
    if (!key.startsWith(prefix)) continue;
    const match = new RegExp(`${label}="([^"]*)"`).exec(key);
    if (match !== null) out[match[1]] = (out[match[1]] ?? 0) + value;
  }
  return out;
}

async function postFault(agentAddress: string, pathname: string): Promise<{ status: number; body: string }> {
  const response = await fetch(`http://${agentAddress}${pathname}`, {
    method: "POST",
    signal: AbortSignal.timeout(5_000),
  });
  return { status: response.status, body: await response.text() };
}

function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index];
}

function summary(values: readonly number[]): {
  n: number;
  p50Ms: number | null;
  p90Ms: number | null;
  maxMs: number | null;
  minMs: number | null;
  meanMs: number | null;
} {
  const sorted = [...values].sort((a, b) => a - b);
  const mean = sorted.length === 0 ? null : sorted.reduce((a, b) => a + b, 0) / sorted.length;
  return {
    n: sorted.length,
    p50Ms: percentile(sorted, 50),
    p90Ms: percentile(sorted, 90),
    maxMs: sorted.length === 0 ? null : sorted[sorted.length - 1],
    minMs: sorted.length === 0 ? null : sorted[0],
    meanMs: mean === null ? null : Math.round(mean),
  };
}

export function healthCheck(periodMs: number): HealthCheck {
  return {
    path: "/healthz",
    periodMs,
    timeoutMs: Math.min(1_000, periodMs),
    failureThreshold: 3,
    successThreshold: 1,
    initialDelayMs: 0,
  };
}

/** A small container; unset health check / restart policy / deadline take the defaults. */
export function spec(
  name: string,
  replicas: number,
  cpuMillicores: number,
  memoryMib: number,
  health?: HealthCheck,
): DeploymentSpec {
  return {
    name,
    image: `registry.internal.example.com/bench/${name}:v1`,
    replicas,
    cpuMillicores,
    memoryMib,
    strategy: Strategy.STRATEGY_SPREAD,
    regions: [],
    clientRegions: [],
    onePerNode: false,
    healthCheck: health,
    restartPolicy: undefined,
    progressDeadlineMs: 0,
  };
}

/** A preload: SIGUSR2 starts the inspector's CPU profiler, the next SIGUSR2 writes <pid>.cpuprofile. */
export function cpuProfileHook(dir: string): string {
  return `"use strict";
const inspector = require("node:inspector");
const fs = require("node:fs");
const path = require("node:path");
let session = null;
process.on("SIGUSR2", () => {
  if (session === null) {
    session = new inspector.Session();
    session.connect();
    session.post("Profiler.enable");
    session.post("Profiler.setSamplingInterval", { interval: 1000 });
    session.post("Profiler.start");
    return;
  }
  const s = session;
  session = null;
  s.post("Profiler.stop", (error, result) => {
    if (error === null && result !== undefined) fs.writeFileSync(path.join(${JSON.stringify(dir)}, process.pid + ".cpuprofile"), JSON.stringify(result.profile));
    s.disconnect();
  });
});
`;
}

// ---- one cluster with its agents ----

export class HealthEnv {
  private leaderId = "";
  private readonly clients = new Map<string, OrchestratorServiceClient>();

  private constructor(
    readonly root: string,
    readonly cluster: ProcessCluster,
    readonly agents: AgentProcesses,
    private readonly untrack: () => void,
  ) {}

  static async start(label: string, nodesPerRegion: number, env: NodeJS.ProcessEnv | undefined): Promise<HealthEnv> {
    const root = await mkdtemp(path.join(os.tmpdir(), `orch-bench-health-${label}-`));
    let agents: AgentProcesses | null = null;
    let cluster: ProcessCluster | null = null;
    const untrackAgents = trackProcesses(() => agents?.pids() ?? []);
    try {
      const started = await startTrackedCluster({
        ports: "random",
        dataRoot: path.join(root, "data"),
        wipe: true,
        logDir: path.join(root, "logs"),
        ...(env !== undefined ? { env } : {}),
      });
      cluster = started.cluster;
      const untrack = () => {
        started.untrack();
        untrackAgents();
      };
      // The agents inherit this process's environment (AgentProcesses takes none of its own).
      const saved = process.env.NODE_OPTIONS;
      if (env?.NODE_OPTIONS !== undefined) process.env.NODE_OPTIONS = env.NODE_OPTIONS;
      try {
        agents = await AgentProcesses.start({
          endpoints: cluster.endpoints(),
          nodesPerRegion,
          ports: "random",
          logDir: path.join(root, "logs"),
        });
      } finally {
        if (saved === undefined) delete process.env.NODE_OPTIONS;
        else process.env.NODE_OPTIONS = saved;
      }
      const self = new HealthEnv(root, cluster, agents, untrack);
      await self.waitNodes(3 * nodesPerRegion, 60_000);
      return self;
    } catch (error) {
      if (agents !== null) await killAgents(agents);
      if (cluster !== null) await killCluster(cluster);
      untrackAgents();
      throw error;
    }
  }

  endpoints(): string[] {
    return this.cluster.replicas.map((r) => r.apiAddress);
  }

  private client(id: string): OrchestratorServiceClient {
    let client = this.clients.get(id);
    if (client === undefined) {
      client = new OrchestratorServiceClient(
        this.cluster.replica(id).apiAddress,
        grpc.credentials.createInsecure(),
        channelOptions,
      );
      this.clients.set(id, client);
    }
    return client;
  }

  async leader(): Promise<{ id: string; client: OrchestratorServiceClient; pid: number; metricsAddress: string }> {
    if (this.leaderId === "") this.leaderId = (await findLeader(this.endpoints(), 30_000)).id;
    const replica = this.cluster.replica(this.leaderId);
    return {
      id: this.leaderId,
      client: this.client(this.leaderId),
      pid: replica.child?.pid ?? -1,
      metricsAddress: replica.metricsAddress,
    };
  }

  /** Runs `call` on the leader, finding it again (up to a few times) when the answer is UNAVAILABLE. */
  async onLeader<T>(call: (client: OrchestratorServiceClient) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const { client } = await this.leader();
      try {
        return await call(client);
      } catch (error) {
        const code = (error as grpc.ServiceError).code;
        if (attempt >= 5 || (code !== grpc.status.UNAVAILABLE && code !== grpc.status.DEADLINE_EXCEEDED)) throw error;
        this.leaderId = "";
        await sleep(200);
      }
    }
  }

  /** `force`: a new version even when the cluster's error budget is spent (a slow v1 on a busy machine spends it). */
  deploy(s: DeploymentSpec, force = false): Promise<DeployResponse> {
    return this.onLeader((c) =>
      unaryCall<Parameters<OrchestratorServiceClient["deploy"]>[0], DeployResponse>(
        c.deploy.bind(c),
        force ? { spec: s, force } : { spec: s },
        60_000,
      ),
    );
  }

  delete(name: string): Promise<DeleteResponse> {
    return this.onLeader((c) =>
      unaryCall<Parameters<OrchestratorServiceClient["delete"]>[0], DeleteResponse>(c.delete.bind(c), { name }, 60_000),
    );
  }

  listDeployments(stale = false): Promise<ListDeploymentsResponse> {
    return this.onLeader((c) =>
      unaryCall<Parameters<OrchestratorServiceClient["listDeployments"]>[0], ListDeploymentsResponse>(
        c.listDeployments.bind(c),
        { stale },
        30_000,
      ),
    );
  }

  getDeployment(name: string): Promise<GetDeploymentResponse> {
    return this.onLeader((c) =>
      unaryCall<Parameters<OrchestratorServiceClient["getDeployment"]>[0], GetDeploymentResponse>(
        c.getDeployment.bind(c),
        { name, stale: false },
      ),
    );
  }

  listNodes(): Promise<ListNodesResponse> {
    return this.onLeader((c) =>
      unaryCall<Parameters<OrchestratorServiceClient["listNodes"]>[0], ListNodesResponse>(c.listNodes.bind(c), {
        stale: false,
      }),
    );
  }

  getSlo(): Promise<GetSloResponse> {
    return this.onLeader((c) =>
      unaryCall<Parameters<OrchestratorServiceClient["getSlo"]>[0], GetSloResponse>(c.getSlo.bind(c), { stale: false }),
    );
  }

  agentFor(nodeId: string): string {
    const agent = this.agents.agents.find((a) => nodeId.startsWith(`${a.region}-n`));
    if (agent === undefined) throw new Error(`no agent runs node ${nodeId}`);
    return agent.httpAddress;
  }

  async waitNodes(count: number, timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      try {
        const nodes = await this.listNodes();
        if (nodes.nodes.filter((n) => n.status === NodeStatus.NODE_STATUS_READY).length >= count) return;
      } catch {
        // Not ready yet.
      }
      if (performance.now() > deadline) throw new Error(`fewer than ${count} nodes ready after ${timeoutMs} ms`);
      await sleep(200);
    }
  }

  /** Waits until every deployment has all its desired replicas healthy and (optionally) no operation is open. */
  async settle(timeoutMs: number, noOpenOperations = true): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      try {
        const list = await this.listDeployments();
        const healthy = list.deployments.every((d) => (d.status?.healthy ?? 0) >= (d.spec?.replicas ?? 0));
        const open =
          noOpenOperations && list.deployments.some((d) => d.openOperation !== undefined && d.openOperation.id !== "");
        if (healthy && !open) return true;
      } catch {
        // Try again.
      }
      await sleep(100);
    }
    return false;
  }

  async stop(): Promise<void> {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
    await killAgents(this.agents);
    await killCluster(this.cluster);
    this.untrack();
  }
}

async function killAgents(agents: AgentProcesses): Promise<void> {
  await Promise.all(agents.agents.map((a) => agents.kill(a.region, "SIGKILL")));
}

// ---- 1. probes per second ----

interface ProbeResult {
  readonly containers: number;
  readonly deployments: number;
  readonly nodes: number;
  readonly probePeriodMs: number;
  readonly readyAfterMs: number;
  readonly windowMs: number;
  /** All replicas' orchestrator_health_probes_total together (only the leader probes; a deposed one finishes what it had out). */
  readonly probesPerSecond: number;
  readonly expectedPerSecond: number;
  readonly keepsUp: boolean;
  readonly medianIntervalPerSecond: number | null;
  readonly probesByResultPerSecond: Record<string, number>;
  /** Per sample interval (~1 s). */
  readonly samplesPerSecond: readonly number[];
  /** Over the intervals with the same leader at both ends: the leader's CPU (user + system, all its threads) and probe rate. */
  readonly stableLeaderSeconds: number;
  readonly leaderCpuCores: number | null;
  readonly leaderProbesPerSecond: number | null;
  readonly leaderCpuMsPer1000Probes: number | null;
  readonly followersCpuCores: number | null;
  readonly agentsCpuCores: readonly number[];
  readonly agentHealthRequestsPerSecond: number;
  readonly restartsDecidedPerSecond: number;
  readonly leaderChanges: number;
  readonly loadAverage: readonly number[];
  readonly profiles?: string;
}

interface ProbeSample {
  readonly at: number;
  readonly leader: string | null;
  readonly probes: number;
  readonly byResult: Record<string, number>;
  readonly restarts: number;
  readonly cpu: ReadonlyMap<string, number>;
}

async function probeSample(h: HealthEnv): Promise<ProbeSample> {
  const at = performance.now();
  let leader: string | null;
  try {
    leader = (await findLeader(h.endpoints(), 2_000)).id;
  } catch {
    leader = null;
  }
  const metrics = await Promise.all(
    h.cluster.replicas.map((r) => scrape(r.metricsAddress).catch(() => new Map<string, number>())),
  );
  const byResult: Record<string, number> = {};
  let probes = 0;
  let restarts = 0;
  for (const m of metrics) {
    probes += m.get("orchestrator_health_probes_total") ?? 0;
    restarts += m.get("orchestrator_container_restarts_total") ?? 0;
    for (const [k, v] of Object.entries(byLabel(m, "orchestrator_health_probes_total", "result")))
      byResult[k] = (byResult[k] ?? 0) + v;
  }
  const cpu = new Map<string, number>();
  for (const r of h.cluster.replicas)
    cpu.set(r.id, r.child?.pid === undefined ? Number.NaN : (processCpuSeconds(r.child.pid) ?? Number.NaN));
  h.agents.agents.forEach((a, i) =>
    cpu.set(`agent${i}`, a.child?.pid === undefined ? Number.NaN : (processCpuSeconds(a.child.pid) ?? Number.NaN)),
  );
  return { at, leader, probes, byResult, restarts, cpu };
}

export async function benchHealthProbes(options: HealthBenchOptions = {}): Promise<ProbeResult> {
  const o = withDefaults(options);
  const perDeployment = Math.ceil(o.containers / o.probeDeployments);
  console.log(
    `\nhealth/probes: ${o.containers.toLocaleString("en-US")} containers, period ${o.probePeriodMs} ms, ${3 * o.probeRegionsNodes} nodes; load ${loadAverage().join(" ")}`,
  );
  let env: NodeJS.ProcessEnv | undefined;
  let hookDir: string | null = null;
  if (o.cpuProfileDir !== undefined) {
    await mkdir(o.cpuProfileDir, { recursive: true });
    hookDir = await mkdtemp(path.join(os.tmpdir(), "orch-bench-health-hook-"));
    const hook = path.join(hookDir, "cpu-profile-hook.cjs");
    await writeFile(hook, cpuProfileHook(path.resolve(o.cpuProfileDir)));
    env = { NODE_OPTIONS: `--require ${hook}` };
  }
  const h = await HealthEnv.start("probes", o.probeRegionsNodes, env);
  try {
    const started = performance.now();
    for (let i = 0; i < o.probeDeployments; i++) {
      const replicas = Math.min(perDeployment, o.containers - i * perDeployment);
      if (replicas <= 0) break;
      await h.deploy(spec(`probe-${String(i).padStart(2, "0")}`, replicas, 10, 16, healthCheck(o.probePeriodMs)));
    }
    // All running and healthy (a stale list on the leader is enough here, and cheap).
    let lastPrint = 0;
    for (;;) {
      const list = await h.listDeployments(true);
      const healthy = list.deployments.reduce((s, d) => s + (d.status?.healthy ?? 0), 0);
      const running = list.deployments.reduce((s, d) => s + (d.status?.running ?? 0), 0);
      if (healthy >= o.containers) break;
      if (performance.now() - lastPrint > 10_000) {
        lastPrint = performance.now();
        console.log(`  ${Math.round((performance.now() - started) / 1000)} s: ${running} running, ${healthy} healthy`);
      }
      if (performance.now() - started > o.probeReadyMs)
        throw new Error(`only ${healthy}/${o.containers} containers healthy after ${o.probeReadyMs} ms`);
      await sleep(1_000);
    }
    const readyAfterMs = Math.round(performance.now() - started);
    console.log(
      `  all ${o.containers} healthy after ${(readyAfterMs / 1000).toFixed(1)} s; letting the start-up writes drain`,
    );
    await sleep(o.probeSettleMs);
    const agentScrape = () =>
      Promise.all(h.agents.agents.map((a) => scrape(a.httpAddress).catch(() => new Map<string, number>())));
    const a0 = await agentScrape();
    const pids = [...h.cluster.pids(), ...h.agents.pids()];
    if (o.cpuProfileDir !== undefined) for (const pid of pids) process.kill(pid, "SIGUSR2");
    const samples: ProbeSample[] = [await probeSample(h)];
    while (performance.now() - samples[0].at < o.probeWindowMs) {
      await sleep(Math.max(0, 1_000 - (performance.now() - samples[samples.length - 1].at)));
      samples.push(await probeSample(h));
    }
    if (o.cpuProfileDir !== undefined) for (const pid of pids) process.kill(pid, "SIGUSR2");
    const a1 = await agentScrape();
    const first = samples[0];
    const last = samples[samples.length - 1];
    const seconds = (last.at - first.at) / 1000;
    const rate = (last.probes - first.probes) / seconds;
    const byResult: Record<string, number> = {};
    for (const [k, v] of Object.entries(last.byResult))
      byResult[k] = Math.round((v - (first.byResult[k] ?? 0)) / seconds);
    const perInterval = samples
      .slice(1)
      .map((s, i) => Math.round(((s.probes - samples[i].probes) * 1000) / (s.at - samples[i].at)));
    let stableSeconds = 0;
    let leaderCpu = 0;
    let followerCpu = 0;
    let leaderProbes = 0;
    let leaderChanges = 0;
    for (let i = 1; i < samples.length; i++) {
      const [prev, cur] = [samples[i - 1], samples[i]];
      if (prev.leader !== cur.leader) leaderChanges++;
      if (prev.leader === null || prev.leader !== cur.leader) continue;
      const dt = (cur.at - prev.at) / 1000;
      stableSeconds += dt;
      leaderCpu += (cur.cpu.get(cur.leader) ?? Number.NaN) - (prev.cpu.get(prev.leader) ?? Number.NaN);
      for (const r of h.cluster.replicas)
        if (r.id !== cur.leader)
          followerCpu += ((cur.cpu.get(r.id) ?? Number.NaN) - (prev.cpu.get(r.id) ?? Number.NaN)) / 2;
      leaderProbes += cur.probes - prev.probes;
    }
    const agentRequests = a1.reduce(
      (s, m, i) =>
        s +
        (m.get("orchestrator_agent_health_requests_total") ?? 0) -
        (a0[i].get("orchestrator_agent_health_requests_total") ?? 0),
      0,
    );
    const expected = (o.containers * 1000) / o.probePeriodMs;
    const leaderRate = stableSeconds > 0 ? leaderProbes / stableSeconds : null;
    const leaderCores = stableSeconds > 0 ? leaderCpu / stableSeconds : null;
    if (o.cpuProfileDir !== undefined) await sleep(2_000); // the profiles are written asynchronously
    const result: ProbeResult = {
      containers: o.containers,
      deployments: o.probeDeployments,
      nodes: 3 * o.probeRegionsNodes,
      probePeriodMs: o.probePeriodMs,
      readyAfterMs,
      windowMs: Math.round(last.at - first.at),
      probesPerSecond: Math.round(rate),
      expectedPerSecond: expected,
      keepsUp: rate >= 0.95 * expected,
      medianIntervalPerSecond: percentile(
        [...perInterval].sort((x, y) => x - y),
        50,
      ),
      probesByResultPerSecond: byResult,
      samplesPerSecond: perInterval,
      stableLeaderSeconds: round(stableSeconds, 1),
      leaderCpuCores: leaderCores === null ? null : round(leaderCores, 3),
      leaderProbesPerSecond: leaderRate === null ? null : Math.round(leaderRate),
      leaderCpuMsPer1000Probes:
        leaderCores === null || leaderRate === null || leaderRate === 0
          ? null
          : round((leaderCores * 1_000_000) / leaderRate, 1),
      followersCpuCores: stableSeconds > 0 ? round(followerCpu / stableSeconds, 3) : null,
      agentsCpuCores: h.agents.agents.map((_, i) =>
        round(((last.cpu.get(`agent${i}`) ?? Number.NaN) - (first.cpu.get(`agent${i}`) ?? Number.NaN)) / seconds, 3),
      ),
      agentHealthRequestsPerSecond: Math.round(agentRequests / seconds),
      restartsDecidedPerSecond: round((last.restarts - first.restarts) / seconds, 2),
      leaderChanges,
      loadAverage: loadAverage(),
      ...(o.cpuProfileDir !== undefined
        ? {
            profiles: `${o.cpuProfileDir} (replicas ${h.cluster.replicas.map((r) => `${r.id}=${r.child?.pid}`).join(" ")}, leader at the end ${last.leader}; agents ${h.agents.pids().join(" ")})`,
          }
        : {}),
    };
    console.log(
      table(
        ["probes", "value"],
        [
          ["probes/s (all replicas' counters)", String(result.probesPerSecond)],
          ["expected (containers / period)", String(expected)],
          ["keeps up (>= 95% of expected)", String(result.keepsUp)],
          ["median interval /s", String(result.medianIntervalPerSecond ?? "-")],
          ["by result /s", JSON.stringify(byResult)],
          ["per-interval /s", perInterval.join(" ")],
          ["leader changes in the window", String(leaderChanges)],
          ["stable-leader seconds", String(result.stableLeaderSeconds)],
          ["leader probes/s (stable)", String(result.leaderProbesPerSecond ?? "-")],
          ["leader CPU, cores (stable)", String(result.leaderCpuCores ?? "-")],
          ["leader CPU ms per 1000 probes", String(result.leaderCpuMsPer1000Probes ?? "-")],
          ["followers CPU, cores each", String(result.followersCpuCores ?? "-")],
          ["agents CPU, cores", result.agentsCpuCores.join(" ")],
          ["agents' health requests/s", String(result.agentHealthRequestsPerSecond)],
          ["restarts decided/s", String(result.restartsDecidedPerSecond)],
        ],
      ),
    );
    return result;
  } finally {
    await h.stop();
    if (o.keepFiles !== true) await rm(h.root, { recursive: true, force: true });
    else console.log(`  kept ${h.root}`);
    if (hookDir !== null) await rm(hookDir, { recursive: true, force: true });
  }
}

// ---- 2. recovery times, 3. chaos ----

interface CrashTrial {
  readonly container: string;
  readonly node: string;
  readonly toRestartDecidedMs: number | null;
  readonly toHealthyMs: number | null;
}

interface NodeTrial {
  readonly node: string;
  readonly containers: number;
  readonly toDeclaredDownMs: number | null;
  readonly toAllHealthyMs: number | null;
}

const isRunning = (c: Container) => c.state === ContainerState.CONTAINER_STATE_RUNNING;

async function crashTrial(
  h: HealthEnv,
  deployment: string,
  used: Set<string>,
  prng: Prng,
  timeoutMs: number,
): Promise<CrashTrial | null> {
  const before = await h.getDeployment(deployment);
  const nodes = await h.listNodes();
  const ready = new Set(nodes.nodes.filter((n) => n.status === NodeStatus.NODE_STATUS_READY).map((n) => n.id));
  const candidates = before.containers.filter(
    (c) => isRunning(c) && c.health === "healthy" && ready.has(c.node) && !used.has(c.id),
  );
  if (candidates.length === 0) return null;
  const victim = prng.pick(candidates);
  used.add(victim.id);
  const started = performance.now();
  const posted = await postFault(h.agentFor(victim.node), `/faults/containers/${encodeURIComponent(victim.id)}/crash`);
  if (posted.status !== 200) throw new Error(`crash of ${victim.id} refused: ${posted.status} ${posted.body}`);
  let decidedMs: number | null = null;
  while (performance.now() - started < timeoutMs) {
    const now = await h.getDeployment(deployment);
    const c = now.containers.find((x) => x.id === victim.id);
    const at = Math.round(performance.now() - started);
    if (c !== undefined && decidedMs === null && c.restartCount > victim.restartCount) decidedMs = at;
    if (c !== undefined && c.restartCount > victim.restartCount && isRunning(c) && c.health === "healthy") {
      return { container: victim.id, node: victim.node, toRestartDecidedMs: decidedMs, toHealthyMs: at };
    }
    await sleep(healthDefaults.pollMs);
  }
  return { container: victim.id, node: victim.node, toRestartDecidedMs: decidedMs, toHealthyMs: null };
}

async function nodeTrial(h: HealthEnv, node: string, timeoutMs: number): Promise<NodeTrial> {
  const on = (await h.listNodes()).nodes.find((n) => n.id === node)?.containers ?? 0;
  const started = performance.now();
  const posted = await postFault(h.agentFor(node), `/faults/nodes/${encodeURIComponent(node)}/kill`);
  if (posted.status !== 200) throw new Error(`kill of ${node} refused: ${posted.status} ${posted.body}`);
  let downMs: number | null = null;
  let healthyMs: number | null = null;
  while (performance.now() - started < timeoutMs) {
    const [nodes, list] = await Promise.all([h.listNodes(), h.listDeployments()]);
    const at = Math.round(performance.now() - started);
    const down = nodes.nodes.find((n) => n.id === node)?.status === NodeStatus.NODE_STATUS_DOWN;
    if (down && downMs === null) downMs = at;
    if (down && list.deployments.every((d) => (d.status?.healthy ?? 0) >= (d.spec?.replicas ?? 0))) {
      healthyMs = at;
      break;
    }
    await sleep(healthDefaults.pollMs);
  }
  // Bring it back for the next trials: the agent stops what is no longer assigned to it.
  await postFault(h.agentFor(node), `/faults/nodes/${encodeURIComponent(node)}/revive`);
  return { node, containers: on, toDeclaredDownMs: downMs, toAllHealthyMs: healthyMs };
}

interface RecoveryResult {
  readonly nodes: number;
  readonly deployments: readonly { name: string; replicas: number }[];
  readonly crash: ReturnType<typeof summary> & {
    readonly restartDecided: ReturnType<typeof summary>;
    readonly trials: readonly CrashTrial[];
  };
  readonly nodeDeath: ReturnType<typeof summary> & {
    readonly declaredDown: ReturnType<typeof summary>;
    readonly trials: readonly NodeTrial[];
  };
}

async function runRecovery(h: HealthEnv, o: Opts, prng: Prng): Promise<RecoveryResult> {
  const deployments = [
    { name: "crashy", replicas: 2 * o.crashTrials + 2 },
    { name: "web", replicas: 8 },
    { name: "api", replicas: 4 },
    { name: "solo", replicas: 1 },
  ];
  for (const d of deployments) await h.deploy(spec(d.name, d.replicas, 100, 64));
  if (!(await h.settle(90_000))) throw new Error("the recovery deployments did not become healthy");
  console.log(
    `\nhealth/recovery: ${o.crashTrials} container crashes, ${o.nodeTrials} node deaths (default policies); load ${loadAverage().join(" ")}`,
  );
  const crashes: CrashTrial[] = [];
  const used = new Set<string>();
  for (let i = 0; i < o.crashTrials; i++) {
    await h.settle(o.settleTimeoutMs);
    const trial = await crashTrial(h, "crashy", used, prng, o.trialTimeoutMs);
    if (trial === null) break;
    crashes.push(trial);
    console.log(
      `  crash ${i + 1}: ${trial.container} on ${trial.node}: restart decided ${trial.toRestartDecidedMs ?? "-"} ms, healthy ${trial.toHealthyMs ?? "timeout"} ms`,
    );
  }
  const nodes: NodeTrial[] = [];
  const allNodes = (await h.listNodes()).nodes.map((n) => n.id).sort();
  for (let i = 0; i < o.nodeTrials; i++) {
    await h.settle(o.settleTimeoutMs);
    // Wait for every node to be ready again (the previous trial's node revives and re-registers).
    await h.waitNodes(allNodes.length, o.settleTimeoutMs).catch(() => undefined);
    const list = await h.listNodes();
    const loaded = list.nodes
      .filter((n) => n.status === NodeStatus.NODE_STATUS_READY && n.containers > 0)
      .map((n) => n.id);
    const node = loaded.length > 0 ? prng.pick(loaded) : prng.pick(allNodes);
    const trial = await nodeTrial(h, node, o.trialTimeoutMs);
    nodes.push(trial);
    console.log(
      `  node ${i + 1}: ${trial.node} (${trial.containers} containers): declared down ${trial.toDeclaredDownMs ?? "-"} ms, all healthy ${trial.toAllHealthyMs ?? "timeout"} ms`,
    );
  }
  await h.settle(o.settleTimeoutMs);
  const crashHealthy = crashes.flatMap((t) => (t.toHealthyMs === null ? [] : [t.toHealthyMs]));
  const nodeHealthy = nodes.flatMap((t) => (t.toAllHealthyMs === null ? [] : [t.toAllHealthyMs]));
  const result: RecoveryResult = {
    nodes: allNodes.length,
    deployments,
    crash: {
      ...summary(crashHealthy),
      restartDecided: summary(crashes.flatMap((t) => (t.toRestartDecidedMs === null ? [] : [t.toRestartDecidedMs]))),
      trials: crashes,
    },
    nodeDeath: {
      ...summary(nodeHealthy),
      declaredDown: summary(nodes.flatMap((t) => (t.toDeclaredDownMs === null ? [] : [t.toDeclaredDownMs]))),
      trials: nodes,
    },
  };
  console.log(
    table(
      ["recovery", "n", "p50 ms", "p90 ms", "max ms", "timeouts"],
      [
        [
          "crash -> healthy",
          String(result.crash.n),
          String(result.crash.p50Ms ?? "-"),
          String(result.crash.p90Ms ?? "-"),
          String(result.crash.maxMs ?? "-"),
          String(crashes.length - crashHealthy.length),
        ],
        [
          "  crash -> restart decided",
          String(result.crash.restartDecided.n),
          String(result.crash.restartDecided.p50Ms ?? "-"),
          String(result.crash.restartDecided.p90Ms ?? "-"),
          String(result.crash.restartDecided.maxMs ?? "-"),
          "",
        ],
        [
          "node death -> all healthy",
          String(result.nodeDeath.n),
          String(result.nodeDeath.p50Ms ?? "-"),
          String(result.nodeDeath.p90Ms ?? "-"),
          String(result.nodeDeath.maxMs ?? "-"),
          String(nodes.length - nodeHealthy.length),
        ],
        [
          "  node death -> declared down",
          String(result.nodeDeath.declaredDown.n),
          String(result.nodeDeath.declaredDown.p50Ms ?? "-"),
          String(result.nodeDeath.declaredDown.p90Ms ?? "-"),
          String(result.nodeDeath.declaredDown.maxMs ?? "-"),
          "",
        ],
      ],
    ),
  );
  for (const d of deployments) await h.delete(d.name);
  return result;
}

interface OutcomeEvent {
  readonly atMs: number;
  readonly deployment: string;
  readonly kind: string;
  readonly succeeded: boolean;
  readonly message: string;
}

interface FaultRecord {
  readonly atMs: number;
  readonly fault: "crash" | "kill" | "blip" | "revive";
  readonly target: string;
  readonly node: string;
  readonly deployment: string;
  readonly ok: boolean;
}

/** Follows the leader's Watch stream (reconnecting after the last revision seen) and keeps the events. */
class EventFollower {
  readonly events: {
    atMs: number;
    revision: number;
    kind: string;
    deployment: string;
    container: string;
    node: string;
    message: string;
  }[] = [];
  private stream: grpc.ClientReadableStream<WatchResponse> | null = null;
  private lastRevision: number;
  private stopped = false;

  constructor(
    private readonly h: HealthEnv,
    fromRevision: number,
  ) {
    this.lastRevision = fromRevision;
  }

  async start(): Promise<void> {
    const { client } = await this.h.leader();
    if (this.stopped) return;
    const stream = client.watch({ fromRevision: this.lastRevision, deployment: "" });
    this.stream = stream;
    stream.on("data", (change: WatchResponse) => {
      this.lastRevision = Math.max(this.lastRevision, change.revision);
      if (change.kind !== "event" || change.event === undefined) return;
      const e = change.event;
      this.events.push({
        atMs: e.atMs,
        revision: e.revision,
        kind: e.kind,
        deployment: e.deployment,
        container: e.container,
        node: e.node,
        message: e.message,
      });
    });
    const again = () => {
      if (this.stream !== stream || this.stopped) return;
      this.stream = null;
      setTimeout(() => void this.start().catch(() => undefined), 200);
    };
    stream.on("error", again);
    stream.on("end", again);
  }

  stop(): void {
    this.stopped = true;
    this.stream?.cancel();
    this.stream = null;
  }
}

interface ChaosTally {
  readonly succeeded: number;
  readonly failed: number;
  readonly successRatio: number | null;
  readonly byKind: Record<string, { succeeded: number; failed: number }>;
}

function tally(outcomes: readonly OutcomeEvent[]): ChaosTally {
  const byKind: Record<string, { succeeded: number; failed: number }> = {};
  let succeeded = 0;
  let failed = 0;
  for (const o of outcomes) {
    const k = (byKind[o.kind] ??= { succeeded: 0, failed: 0 });
    if (o.succeeded) {
      succeeded++;
      k.succeeded++;
    } else {
      failed++;
      k.failed++;
    }
  }
  return {
    succeeded,
    failed,
    successRatio: succeeded + failed === 0 ? null : round(succeeded / (succeeded + failed), 6),
    byKind,
  };
}

interface ChaosResult {
  readonly durationMs: number;
  readonly deployments: readonly { name: string; replicas: number }[];
  readonly faults: { crashes: number; crashesRefused: number; nodeKills: number; nodeBlips: number; revives: number };
  readonly drainedMs: number;
  readonly openAtEnd: readonly { deployment: string; id: string; kind: string; ageMs: number }[];
  /** Replacement (and all) operations of deployments with >= 2 replicas, excluding the initial deploys. */
  readonly multiReplica: ChaosTally;
  readonly singleReplica: ChaosTally;
  readonly all: ChaosTally;
  readonly sloWindow1h: {
    before: { succeeded: number; failed: number };
    after: { succeeded: number; failed: number };
    delta: { succeeded: number; failed: number; successRatio: number | null };
  };
  readonly sloReport: {
    errorBudgetRemainingRatio: number;
    errorBudgetConsumedRatio: number;
    windows: { name: string; succeeded: number; failed: number; successRatio: number }[];
  };
  readonly failures: readonly { deployment: string; replicas: number; message: string; timeline: readonly string[] }[];
  readonly replacementDurationsMs: ReturnType<typeof summary>;
  /** The slowest successful replacements, with the FSM's own sentence. */
  readonly slowest: readonly string[];
  /** Every replacement operation's progress deadline (the deployments use the default). */
  readonly progressDeadlineMs: number;
}

function sloWindow(slo: GetSloResponse, name: string): { succeeded: number; failed: number } {
  const w = slo.windows.find((x) => x.name === name);
  return { succeeded: w?.succeeded ?? 0, failed: w?.failed ?? 0 };
}

function parseOutcome(e: { atMs: number; deployment: string; kind: string; message: string }): OutcomeEvent {
  // "<kind> operation <id> succeeded after 1.2s: ..."
  const kind = e.message.split(" ")[0];
  return {
    atMs: e.atMs,
    deployment: e.deployment,
    kind,
    succeeded: e.kind === "operation-succeeded",
    message: e.message,
  };
}

function tookMs(message: string): number | null {
  const m = / after ([0-9.]+)(ms|s)/.exec(message);
  if (m === null) return null;
  return m[2] === "ms" ? Number(m[1]) : Math.round(Number(m[1]) * 1000);
}

async function runChaos(h: HealthEnv, o: Opts, prng: Prng): Promise<ChaosResult> {
  const deployments = [
    { name: "chaos-a", replicas: 2 },
    { name: "chaos-b", replicas: 2 },
    { name: "chaos-c", replicas: 3 },
    { name: "chaos-d", replicas: 3 },
    { name: "chaos-e", replicas: 4 },
    { name: "chaos-f", replicas: 5 },
    { name: "chaos-solo-a", replicas: 1 },
    { name: "chaos-solo-b", replicas: 1 },
    { name: "chaos-solo-c", replicas: 1 },
  ];
  const replicasOf = new Map(deployments.map((d) => [d.name, d.replicas]));
  await h.settle(o.settleTimeoutMs);
  const revision = (await h.listDeployments()).revision;
  const follower = new EventFollower(h, revision);
  await follower.start();
  for (const d of deployments) await h.deploy(spec(d.name, d.replicas, 100, 64));
  if (!(await h.settle(90_000))) throw new Error("the chaos deployments did not become healthy");
  const sloBefore = await h.getSlo();
  const deadlineMs = (await h.getDeployment(deployments[0].name)).deployment?.spec?.progressDeadlineMs ?? 0;
  const allNodes = (await h.listNodes()).nodes.map((n) => n.id).sort();
  console.log(
    `\nhealth/chaos: ${deployments.length} deployments (${deployments.map((d) => d.replicas).join(",")} replicas) on ${allNodes.length} nodes for ${Math.round(o.chaosMs / 1000)} s; load ${loadAverage().join(" ")}`,
  );
  const faults: FaultRecord[] = [];
  const dead = new Map<string, number>(); // node -> revive at (performance.now())
  const started = performance.now();
  const wall0 = Date.now();
  let nextFaultAt = started + prng.nextIntBetween(o.chaosFaultGapMsMin, o.chaosFaultGapMsMax);
  let lastPrint = started;
  const revive = async (node: string) => {
    const r = await postFault(h.agentFor(node), `/faults/nodes/${encodeURIComponent(node)}/revive`);
    dead.delete(node);
    faults.push({ atMs: Date.now(), fault: "revive", target: node, node, deployment: "", ok: r.status === 200 });
  };
  while (performance.now() - started < o.chaosMs) {
    const now = performance.now();
    for (const [node, at] of [...dead]) if (now >= at) await revive(node);
    if (now >= nextFaultAt) {
      nextFaultAt = now + prng.nextIntBetween(o.chaosFaultGapMsMin, o.chaosFaultGapMsMax);
      if (prng.chance(o.chaosNodeKillChance) && dead.size < o.chaosDeadNodesMax) {
        const alive = allNodes.filter((n) => !dead.has(n));
        const node = prng.pick(alive);
        const r = await postFault(h.agentFor(node), `/faults/nodes/${encodeURIComponent(node)}/kill`);
        const blip = prng.chance(o.chaosBlipChance);
        const downMs = blip
          ? prng.nextIntBetween(o.chaosBlipMsMin, o.chaosBlipMsMax)
          : prng.nextIntBetween(o.chaosReviveMsMin, o.chaosReviveMsMax);
        if (r.status === 200) dead.set(node, now + downMs);
        faults.push({
          atMs: Date.now(),
          fault: blip ? "blip" : "kill",
          target: node,
          node,
          deployment: "",
          ok: r.status === 200,
        });
      } else {
        // A random container of a chaos deployment, running on a live node.
        const name = prng.pick(deployments).name;
        const got = await h.getDeployment(name).catch(() => null);
        const candidates = (got?.containers ?? []).filter((c) => isRunning(c) && c.node !== "" && !dead.has(c.node));
        if (candidates.length > 0) {
          const victim = prng.pick(candidates);
          const r = await postFault(
            h.agentFor(victim.node),
            `/faults/containers/${encodeURIComponent(victim.id)}/crash`,
          );
          faults.push({
            atMs: Date.now(),
            fault: "crash",
            target: victim.id,
            node: victim.node,
            deployment: name,
            ok: r.status === 200,
          });
        }
      }
    }
    if (performance.now() - lastPrint > 30_000) {
      lastPrint = performance.now();
      const outcomes = follower.events.filter(
        (e) => (e.kind === "operation-succeeded" || e.kind === "operation-failed") && e.atMs >= wall0,
      );
      console.log(
        `  ${Math.round((lastPrint - started) / 1000)} s: ${faults.filter((f) => f.fault === "crash").length} crashes, ${faults.filter((f) => f.fault === "kill").length} node kills; outcomes so far ${outcomes.filter((e) => e.kind === "operation-succeeded").length} ok / ${outcomes.filter((e) => e.kind === "operation-failed").length} failed`,
      );
    }
    await sleep(100);
  }
  for (const node of [...dead.keys()]) await revive(node);
  const chaosEnded = performance.now();
  // Drain: every node back, every operation judged (bounded).
  let openAtEnd: ChaosResult["openAtEnd"];
  for (;;) {
    const slo = await h.getSlo();
    openAtEnd = slo.openOperations.map((op) => ({
      deployment: op.deployment,
      id: op.id,
      kind: op.kind,
      ageMs: Date.now() - op.startedAtMs,
    }));
    if (openAtEnd.length === 0 || performance.now() - chaosEnded > o.chaosDrainMs) break;
    await sleep(250);
  }
  const drainedMs = Math.round(performance.now() - chaosEnded);
  await sleep(500);
  follower.stop();
  const sloAfter = await h.getSlo();
  const outcomes = follower.events
    .filter((e) => (e.kind === "operation-succeeded" || e.kind === "operation-failed") && replicasOf.has(e.deployment))
    .map(parseOutcome);
  // The chaos counts from the first fault: the initial deploy operations are reported apart.
  const chaosOutcomes = outcomes.filter((e) => e.kind !== "deploy" || e.atMs >= wall0);
  const multi = chaosOutcomes.filter((e) => (replicasOf.get(e.deployment) ?? 0) >= 2);
  const single = chaosOutcomes.filter((e) => (replicasOf.get(e.deployment) ?? 0) < 2);
  const before1h = sloWindow(sloBefore, "1h");
  const after1h = sloWindow(sloAfter, "1h");
  const delta = { succeeded: after1h.succeeded - before1h.succeeded, failed: after1h.failed - before1h.failed };
  const failures = chaosOutcomes
    .filter((e) => !e.succeeded)
    .map((e) => ({
      deployment: e.deployment,
      replicas: replicasOf.get(e.deployment) ?? 0,
      message: e.message,
      timeline: follower.events
        .filter((x) => x.deployment === e.deployment && x.atMs <= e.atMs && x.atMs >= e.atMs - 180_000)
        .map((x) => `${new Date(x.atMs).toISOString().slice(11, 23)} ${x.kind}: ${x.message}`)
        .slice(-25),
    }));
  const replacementDurations = chaosOutcomes
    .filter((e) => e.kind === "replacement" && e.succeeded)
    .flatMap((e) => {
      const t = tookMs(e.message);
      return t === null ? [] : [t];
    });
  const result: ChaosResult = {
    durationMs: Math.round(chaosEnded - started),
    deployments,
    faults: {
      crashes: faults.filter((f) => f.fault === "crash" && f.ok).length,
      crashesRefused: faults.filter((f) => f.fault === "crash" && !f.ok).length,
      nodeKills: faults.filter((f) => f.fault === "kill" && f.ok).length,
      nodeBlips: faults.filter((f) => f.fault === "blip" && f.ok).length,
      revives: faults.filter((f) => f.fault === "revive" && f.ok).length,
    },
    drainedMs,
    openAtEnd,
    multiReplica: tally(multi),
    singleReplica: tally(single),
    all: tally(chaosOutcomes),
    sloWindow1h: {
      before: before1h,
      after: after1h,
      delta: {
        ...delta,
        successRatio:
          delta.succeeded + delta.failed === 0 ? null : round(delta.succeeded / (delta.succeeded + delta.failed), 6),
      },
    },
    sloReport: {
      errorBudgetRemainingRatio: round(sloAfter.errorBudgetRemainingRatio, 4),
      errorBudgetConsumedRatio: round(sloAfter.errorBudgetConsumedRatio, 4),
      windows: sloAfter.windows.map((w) => ({
        name: w.name,
        succeeded: w.succeeded,
        failed: w.failed,
        successRatio: round(w.successRatio, 6),
      })),
    },
    failures,
    replacementDurationsMs: summary(replacementDurations),
    slowest: chaosOutcomes
      .filter((e) => e.kind === "replacement")
      .sort((x, y) => (tookMs(y.message) ?? 0) - (tookMs(x.message) ?? 0))
      .slice(0, 5)
      .map((e) => `${e.deployment}: ${e.message}`),
    progressDeadlineMs: deadlineMs,
  };
  const pct = (r: number | null) => (r === null ? "-" : `${(r * 100).toFixed(3)}%`);
  console.log(
    table(
      ["chaos outcomes", "succeeded", "failed", "success ratio"],
      [
        [
          ">= 2 replicas",
          String(result.multiReplica.succeeded),
          String(result.multiReplica.failed),
          pct(result.multiReplica.successRatio),
        ],
        [
          "1 replica",
          String(result.singleReplica.succeeded),
          String(result.singleReplica.failed),
          pct(result.singleReplica.successRatio),
        ],
        ["all (events)", String(result.all.succeeded), String(result.all.failed), pct(result.all.successRatio)],
        [
          "GetSlo 1h window delta",
          String(delta.succeeded),
          String(delta.failed),
          pct(result.sloWindow1h.delta.successRatio),
        ],
      ],
    ),
  );
  console.log(
    `  faults: ${result.faults.crashes} crashes (${result.faults.crashesRefused} refused), ${result.faults.nodeKills} node kills, ${result.faults.nodeBlips} node blips (revived within the TTL), ${result.faults.revives} revives; drained in ${drainedMs} ms, ${openAtEnd.length} still open; replacement durations p50 ${result.replacementDurationsMs.p50Ms} ms max ${result.replacementDurationsMs.maxMs} ms`,
  );
  for (const f of failures) console.log(`  FAILED ${f.deployment} (${f.replicas} replicas): ${f.message}`);
  for (const line of result.slowest.slice(0, 3)) console.log(`  slow: ${line}`);
  return result;
}

function withDefaults(options: HealthBenchOptions): Opts {
  return {
    ...healthDefaults,
    ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
  } as Opts;
}

/** Parts 2 and 3 on one small cluster. */
export async function benchHealthRecoveryAndChaos(
  options: HealthBenchOptions = {},
): Promise<{ recovery: RecoveryResult; chaos: ChaosResult | null }> {
  const o = withDefaults(options);
  const prng = new Prng(o.seed);
  const h = await HealthEnv.start("recovery", o.recoveryNodesPerRegion, undefined);
  try {
    const recovery = await runRecovery(h, o, prng);
    const chaos = o.chaosMs > 0 ? await runChaos(h, o, prng) : null;
    return { recovery, chaos };
  } finally {
    await h.stop();
    if (o.keepFiles !== true) await rm(h.root, { recursive: true, force: true });
    else console.log(`  kept ${h.root}`);
  }
}

/** All three parts; writes bench/results/health.json. */
export async function benchHealth(options: HealthBenchOptions = {}): Promise<unknown> {
  const machine = machineInfo();
  const started = performance.now();
  const probes = await benchHealthProbes(options);
  const rest = await benchHealthRecoveryAndChaos(options);
  const result = {
    benchmark: "health",
    at: new Date().toISOString(),
    machine,
    loadAverageAtEnd: loadAverage(),
    totalMs: Math.round(performance.now() - started),
    probes,
    recovery: rest.recovery,
    chaos: rest.chaos,
  };
  const file = await writeResult("health", result);
  console.log(`\nhealth: ${Math.round(result.totalMs / 1000)} s in all; results in ${file}`);
  return result;
}
