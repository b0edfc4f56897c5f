/**
 * Rolling update at scale (issue 12): on real processes (three replicas, four node-agent
 * processes simulating 250 nodes each, the most one agent may run), a deployment of 10,000 small replicas with a 1 s probe
 * period is rolled from v1 to v2 with max_parallel 1,000, max_surge 0 and min_healthy_time 1 s.
 * Measures the time from the deploy of v2 to the rollout's end, the steps it took, and the
 * leader's CPU over that time (from /proc/<pid>/stat). The policy's own waits bound it from
 * below: ten batches, each one probe period to be seen healthy plus min_healthy_time.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import * as os from "node:os";
import path from "node:path";
import { AgentProcesses } from "../dev/local-cluster/process-agents.js";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { loadAverage, machineInfo, processCpuSeconds, round, table, writeResult } from "./bench-report.js";
import { HealthEnv, cpuProfileHook, healthCheck, scrape, spec } from "./health.js";
import { trackProcesses } from "./process-guard.js";

export interface RolloutBenchOptions {
  readonly replicas?: number;
  readonly nodesPerAgent?: number;
  readonly maxParallel?: number;
  readonly keepFiles?: boolean;
  /** Write V8 CPU profiles of the replicas over the rollout here (bench/health.ts's SIGUSR2 preload). */
  readonly cpuProfileDir?: string;
}

const rolloutDefaults = {
  replicas: 10_000,
  /** Three regional agents and a fourth one in us-east-1 (agentServiceLimits.nodesPerAgentMax is 256). */
  nodesPerAgent: 250,
  maxParallel: 1_000,
  minHealthyTimeMs: 1_000,
  probePeriodMs: 1_000,
  readyTimeoutMs: 300_000,
  rolloutTimeoutMs: 300_000,
  pollMs: 250,
  targetMs: 30_000,
} as const;

export async function benchRollout(options: RolloutBenchOptions = {}): Promise<unknown> {
  const o = { ...rolloutDefaults, ...options };
  const name = "roll";
  console.log(
    `\nrollout: ${o.replicas.toLocaleString("en-US")} replicas over ${4 * o.nodesPerAgent} nodes, max_parallel ${o.maxParallel}, min_healthy_time ${o.minHealthyTimeMs} ms; load ${loadAverage().join(" ")}`,
  );
  let env: NodeJS.ProcessEnv | undefined;
  let hookDir: string | null = null;
  if (o.cpuProfileDir !== undefined) {
    await mkdir(o.cpuProfileDir, { recursive: true });
    hookDir = await mkdtemp(path.join(os.tmpdir(), "orch-bench-rollout-hook-"));
    const hook = path.join(hookDir, "cpu-profile-hook.cjs");
    await writeFile(hook, cpuProfileHook(path.resolve(o.cpuProfileDir)));
    env = { NODE_OPTIONS: `--require ${hook}` };
  }
  const h = await HealthEnv.start("rollout", o.nodesPerAgent, env);
  let extra: AgentProcesses | null = null;
  const untrack = trackProcesses(() => extra?.pids() ?? []);
  try {
    extra = await AgentProcesses.start({
      endpoints: h.endpoints().join(","),
      regions: ["us-east-1"],
      nodesPerRegion: o.nodesPerAgent,
      ports: "random",
      logDir: path.join(h.root, "logs-extra"),
      extraArgs: ["--node-prefix", "us-east-1b"],
    });
    await h.waitNodes(4 * o.nodesPerAgent, 120_000);
    const update = {
      maxParallel: o.maxParallel,
      maxSurge: 0,
      minHealthyTimeMs: o.minHealthyTimeMs,
      healthyDeadlineMs: 120_000,
      progressDeadlineMs: 600_000,
      canary: 0,
      autoRevert: true,
    };
    const v1 = { ...spec(name, o.replicas, 10, 16, healthCheck(o.probePeriodMs)), update };
    const started = performance.now();
    await h.deploy(v1);
    await waitUntil(
      async () => {
        const d = (await h.listDeployments(true)).deployments.find((x) => x.spec?.name === name);
        return (d?.status?.healthy ?? 0) >= o.replicas && d?.openOperation === undefined;
      },
      o.readyTimeoutMs,
      "v1 healthy",
    );
    const readyAfterMs = Math.round(performance.now() - started);
    console.log(`  v1: ${o.replicas} healthy after ${(readyAfterMs / 1000).toFixed(1)} s`);
    await sleep(5_000);

    const replicas = h.cluster.replicas.map((r) => ({ id: r.id, pid: r.child?.pid ?? -1, metrics: r.metricsAddress }));
    const stepsOf = async () => {
      let total = 0;
      for (const r of replicas)
        total +=
          (await scrape(r.metrics).catch(() => new Map<string, number>())).get("orchestrator_rollout_steps_total") ?? 0;
      return total;
    };
    const steps0 = await stepsOf();
    // CPU per poll interval, charged to the replica that led at the interval's end (elections happen under load).
    let cpuBefore = replicas.map((r) => processCpuSeconds(r.pid) ?? Number.NaN);
    const cpuTotal = replicas.map(() => 0);
    let leaderCpu = 0;
    const leaders = new Set<string>();
    const chargeCpu = async () => {
      const now = replicas.map((r) => processCpuSeconds(r.pid) ?? Number.NaN);
      const roles = await Promise.all(
        replicas.map((r) =>
          scrape(r.metrics)
            .then((m) => m.get("orchestrator_raft_is_leader") ?? 0)
            .catch(() => 0),
        ),
      );
      replicas.forEach((r, i) => {
        const delta = now[i] - cpuBefore[i];
        cpuTotal[i] += delta;
        if (roles[i] === 1) {
          leaderCpu += delta;
          leaders.add(r.id);
        }
      });
      cpuBefore = now;
    };
    const profiled = o.cpuProfileDir === undefined ? [] : replicas.map((r) => r.pid);
    for (const pid of profiled) process.kill(pid, "SIGUSR2");
    const t0 = performance.now();
    // Forced: on a busy machine v1 may miss its progress deadline, which spends the error budget.
    await h.deploy({ ...v1, image: v1.image.replace(/:v1$/, ":v2") }, true);
    let lastPrint = t0;
    let minHealthy = o.replicas;
    let state = "running";
    let stepSeq = 0;
    // Replica-seconds spent in each stage (Little's law: divided by the replicas rolled, the mean time in it).
    const stageSeconds = { pending: 0, placedNotRunning: 0, runningNotHealthy: 0 };
    let lastAt = t0;
    for (;;) {
      const d = (await h.listDeployments(true)).deployments.find((x) => x.spec?.name === name);
      state = d?.rollout?.state ?? "?";
      stepSeq = d?.rollout?.stepSeq ?? 0;
      minHealthy = Math.min(minHealthy, d?.status?.healthy ?? 0);
      await chargeCpu();
      const now = performance.now();
      const dt = (now - lastAt) / 1000;
      lastAt = now;
      const st = d?.status;
      stageSeconds.pending += (st?.pending ?? 0) * dt;
      stageSeconds.placedNotRunning += (st?.scheduled ?? 0) * dt;
      stageSeconds.runningNotHealthy += Math.max(0, (st?.running ?? 0) - (st?.healthy ?? 0)) * dt;
      if (state !== "running" && state !== "paused") break;
      if (performance.now() - lastPrint > 5_000) {
        lastPrint = performance.now();
        console.log(
          `  ${((performance.now() - t0) / 1000).toFixed(1)} s: step ${stepSeq}, ${d?.status?.healthy ?? 0} healthy`,
        );
      }
      if (performance.now() - t0 > o.rolloutTimeoutMs)
        throw new Error(`rollout not done after ${o.rolloutTimeoutMs} ms`);
      await sleep(o.pollMs);
    }
    const rolloutMs = Math.round(performance.now() - t0);
    for (const pid of profiled) process.kill(pid, "SIGUSR2");
    if (profiled.length > 0) await sleep(3_000); // written asynchronously
    const steps1 = await stepsOf();
    const batches = Math.ceil(o.replicas / o.maxParallel);
    const result = {
      replicas: o.replicas,
      nodes: 4 * o.nodesPerAgent,
      maxParallel: o.maxParallel,
      maxSurge: 0,
      minHealthyTimeMs: o.minHealthyTimeMs,
      probePeriodMs: o.probePeriodMs,
      v1ReadyAfterMs: readyAfterMs,
      rolloutMs,
      outcome: state,
      steps: stepSeq,
      stepsCountedByLeaders: steps1 - steps0,
      /** The policy's own waits alone: each batch is seen healthy within a probe period, then counts after min_healthy_time. */
      policyFloorMs: batches * o.minHealthyTimeMs,
      minHealthySampled: minHealthy,
      floor: o.replicas - o.maxParallel,
      leaderCpuSeconds: round(leaderCpu, 2),
      leaderCpuCores: round(leaderCpu / (rolloutMs / 1000), 3),
      replicaCpuSeconds: Object.fromEntries(replicas.map((r, i) => [r.id, round(cpuTotal[i], 2)])),
      leaders: [...leaders],
      /**
       * Mean seconds a new replica spent in each stage (replica-seconds sampled every poll / replicas):
       * waiting for the scheduler, placed until its agent reports it running, running until the
       * leader's probe finds it healthy. The rest of a batch's time is min_healthy_time.
       */
      meanStageSeconds: {
        pending: round(stageSeconds.pending / o.replicas, 2),
        placedNotRunning: round(stageSeconds.placedNotRunning / o.replicas, 2),
        runningNotHealthy: round(stageSeconds.runningNotHealthy / o.replicas, 2),
      },
      targetMs: o.targetMs,
      meetsTarget: state === "succeeded" && rolloutMs < o.targetMs,
      machine: machineInfo(),
      loadAverage: loadAverage(),
    };
    console.log(
      table(
        ["rollout", "value"],
        [
          ["outcome", state],
          ["time to roll (s)", (rolloutMs / 1000).toFixed(1)],
          ["steps", String(stepSeq)],
          ["policy floor (s)", (result.policyFloorMs / 1000).toFixed(1)],
          ["min healthy sampled", `${minHealthy} (floor ${result.floor})`],
          ["mean s pending / placed / running->healthy", Object.values(result.meanStageSeconds).join(" / ")],
          ["leader CPU (s)", String(result.leaderCpuSeconds ?? "-")],
          ["leader CPU (cores)", String(result.leaderCpuCores ?? "-")],
          ["under 30 s", String(result.meetsTarget)],
        ],
      ),
    );
    console.log(`  wrote ${await writeResult("rollout", result)}`);
    return result;
  } finally {
    if (extra !== null) await Promise.all(extra.agents.map((a) => extra?.kill(a.region, "SIGKILL")));
    untrack();
    await h.stop();
    if (o.keepFiles !== true) await rm(h.root, { recursive: true, force: true });
    else console.log(`  kept ${h.root}`);
    if (hookDir !== null) await rm(hookDir, { recursive: true, force: true });
  }
}

async function waitUntil(condition: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      if (await condition()) return;
    } catch {
      // An election or a busy replica: ask again.
    }
    if (performance.now() > deadline) throw new Error(`${what}: not after ${timeoutMs} ms`);
    await sleep(500);
  }
}
