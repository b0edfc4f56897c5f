/**
 * Drain time of a node with 100 containers (issue 14): on real processes (three replicas, three
 * regional node-agent processes with two simulated nodes each), four deployments of 25 small
 * replicas are packed onto one node (the other node of its region cordoned while they are
 * placed). Then the node is drained: measured from the NodeDrain call to the drain's completion,
 * when every container on the node has stopped as its agent reported. The policy bounds it from
 * below: with max_parallel 5 per deployment, five batches, each a placement, a start, a first
 * passing probe (period 500 ms) and min_healthy_time (1 s), then the stop and its report.
 */
import * as grpc from "@grpc/grpc-js";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import type { OrchestratorServiceClient } from "../../src/gen/orchestrator/v1/orchestrator.js";
import { Strategy, type DeploymentSpec, type Node } from "../../src/gen/orchestrator/v1/types.js";
import { loadAverage, machineInfo, round } from "../bench-report.js";
import { HealthEnv, healthCheck } from "../health.js";

export interface DrainBenchOptions {
  readonly containers?: number;
  readonly deployments?: number;
  readonly maxParallel?: number;
  readonly minHealthyTimeMs?: number;
  readonly probePeriodMs?: number;
}

export interface DrainBenchResult {
  readonly benchmark: "drain";
  readonly containers: number;
  readonly deployments: number;
  readonly maxParallel: number;
  readonly minHealthyTimeMs: number;
  readonly probePeriodMs: number;
  readonly node: string;
  readonly drainSeconds: number;
  readonly migrated: number;
  readonly stoppedAtDeadline: number;
  readonly machine: ReturnType<typeof machineInfo>;
}

const drainDefaults = {
  containers: 100,
  deployments: 4,
  maxParallel: 5,
  minHealthyTimeMs: 1_000,
  probePeriodMs: 500,
  region: "eu-west-1",
  readyTimeoutMs: 180_000,
  drainTimeoutMs: 600_000,
  pollMs: 100,
} as const;

type Callback<Res> = (error: grpc.ServiceError | null, response: Res) => void;

/** One unary call on the leader's client, as a promise. */
function call<Req, Res>(
  method: (request: Req, metadata: grpc.Metadata, options: grpc.CallOptions, callback: Callback<Res>) => unknown,
  client: OrchestratorServiceClient,
  request: Req,
): Promise<Res> {
  return new Promise((resolve, reject) => {
    method.call(client, request, new grpc.Metadata(), { deadline: Date.now() + 30_000 }, (error, response) =>
      error === null ? resolve(response) : reject(error),
    );
  });
}

async function nodes(env: HealthEnv): Promise<Node[]> {
  return (await env.listNodes()).nodes;
}

async function until(what: string, timeoutMs: number, pollMs: number, done: () => Promise<boolean>): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await done())) {
    if (performance.now() > deadline) throw new Error(`drain bench: timed out waiting for ${what}`);
    await sleep(pollMs);
  }
}

export async function benchDrain(options: DrainBenchOptions = {}): Promise<DrainBenchResult> {
  const o = { ...drainDefaults, ...options };
  const perDeployment = Math.ceil(o.containers / o.deployments);
  console.log(
    `\ndrain: a node with ${o.containers} containers of ${o.deployments} deployments, max_parallel ${o.maxParallel}, min_healthy_time ${o.minHealthyTimeMs} ms; load ${loadAverage().join(" ")}`,
  );
  const env = await HealthEnv.start("drain", 2, undefined);
  try {
    const [target, spare] = (await nodes(env)).filter((n) => n.region === o.region).map((n) => n.id);
    if (target === undefined || spare === undefined) throw new Error(`drain bench: two nodes expected in ${o.region}`);
    const eligibility = (nodeId: string, eligible: boolean) =>
      env.onLeader((c) => call(c.nodeEligibility, c, { header: undefined, nodeId, eligible }));
    await eligibility(spare, false);
    for (let d = 0; d < o.deployments; d++) {
      const replicas = Math.min(perDeployment, o.containers - d * perDeployment);
      const spec: DeploymentSpec = {
        name: `drain-${d}`,
        image: `registry.internal.example.com/bench/drain-${d}:v1`,
        replicas,
        cpuMillicores: 50,
        memoryMib: 64,
        strategy: Strategy.STRATEGY_BINPACK,
        regions: [o.region],
        clientRegions: [],
        onePerNode: false,
        healthCheck: healthCheck(o.probePeriodMs),
        restartPolicy: undefined,
        progressDeadlineMs: 0,
        update: {
          maxParallel: o.maxParallel,
          minHealthyTimeMs: o.minHealthyTimeMs,
          healthyDeadlineMs: 60_000,
          progressDeadlineMs: 600_000,
          canary: 0,
        },
      };
      await env.deploy(spec);
    }
    const healthyOnTarget = async () => {
      let healthy = 0;
      for (let d = 0; d < o.deployments; d++)
        healthy += (await env.getDeployment(`drain-${d}`)).deployment?.status?.healthy ?? 0;
      const node = (await nodes(env)).find((n) => n.id === target);
      return healthy === o.containers && node?.containers === o.containers;
    };
    await until(`${o.containers} healthy containers on ${target}`, o.readyTimeoutMs, 500, healthyOnTarget);
    await eligibility(spare, true);

    const startedMs = performance.now();
    await env.onLeader((c) =>
      call(c.nodeDrain, c, {
        header: undefined,
        nodeId: target,
        deadlineMs: o.drainTimeoutMs,
        ignoreSingletons: false,
      }),
    );
    let finished: Node | undefined;
    await until(`the drain of ${target}`, o.drainTimeoutMs, o.pollMs, async () => {
      finished = (await nodes(env)).find((n) => n.id === target && n.drain?.state === "complete");
      return finished !== undefined;
    });
    const drainSeconds = round((performance.now() - startedMs) / 1000, 2);
    const result: DrainBenchResult = {
      benchmark: "drain",
      containers: o.containers,
      deployments: o.deployments,
      maxParallel: o.maxParallel,
      minHealthyTimeMs: o.minHealthyTimeMs,
      probePeriodMs: o.probePeriodMs,
      node: target,
      drainSeconds,
      migrated: finished?.drain?.migrated ?? 0,
      stoppedAtDeadline: finished?.drain?.stoppedAtDeadline ?? 0,
      machine: machineInfo(),
    };
    console.log(
      `drain: ${result.migrated} containers migrated off ${target} in ${drainSeconds} s (${result.stoppedAtDeadline} stopped at the deadline)`,
    );
    return result;
  } finally {
    await env.stop();
  }
}
