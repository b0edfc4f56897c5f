/**
 * Throughput of the pure placement engine: 1,000 deployments of 1,000 replicas each (mixed
 * sizes and strategies, some region constraints, a few one-per-node) planned one after the
 * other on 10,000 nodes in three regions, each plan applied to the model before the next, on one
 * core. Measures placements per second over the planning and applying (what the leader does per
 * plan), and the process's peak memory.
 */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { assert } from "../src/lib/assert.js";
import { Prng } from "../src/lib/prng.js";
import {
  planDeployment,
  SchedulerState,
  type NodeView,
  type PlacementRequest,
  type Strategy,
} from "../src/scheduler/core/index.js";

export interface SchedulerPlacementBenchResult {
  readonly name: string;
  readonly placementsPerSecond: number;
  /** Containers placed. */
  readonly placements: number;
  /** Containers asked for. */
  readonly containers: number;
  readonly unplaced: number;
  readonly deployments: number;
  readonly nodes: number;
  readonly seconds: number;
  readonly slowestPlanMs: number;
  /** Nodes chosen (runs of placements on one node): fewer than placements where batches formed. */
  readonly nodeSelections: number;
  readonly byStrategy: Readonly<
    Record<Strategy, { readonly deployments: number; readonly placements: number; readonly seconds: number }>
  >;
  readonly clusterCpuUsedRatio: number;
  readonly clusterMemoryUsedRatio: number;
  readonly rssBytesMax: number;
  readonly heapUsedBytesMax: number;
  readonly nodeVersion: string;
  readonly date: string;
}

export interface SchedulerPlacementBenchOptions {
  readonly deployments?: number;
  readonly replicas?: number;
  readonly nodes?: number;
  readonly seed?: number;
  /** Where the JSON goes; null writes nothing. */
  readonly resultsDir?: string | null;
}

const regions = ["us-east-1", "eu-west-1", "ap-southeast-1"] as const;
/** Node shapes (cpu millicores, memory MiB): 64 cores and 256 GiB on average. */
const nodeShapes = [
  [32_000, 131_072],
  [64_000, 262_144],
  [96_000, 393_216],
] as const;
const cpuSizes = [100, 100, 250, 250, 500, 500, 1_000, 2_000] as const;
const memorySizes = [128, 256, 256, 512, 512, 1_024, 2_048] as const;
const strategies: readonly Strategy[] = ["binpack", "spread", "latency"];

const benchLimits = {
  /** Deployments between two memory samples (process.memoryUsage is a system call). */
  memorySampleEveryDeployments: 25,
} as const;

function makeNodes(count: number, prng: Prng): NodeView[] {
  const nodes: NodeView[] = [];
  for (let i = 0; i < count; i++) {
    const region = regions[i % regions.length];
    const [cpu, memory] = prng.pick(nodeShapes);
    nodes.push({
      id: `${region}-node-${String(i).padStart(5, "0")}`,
      region,
      cpuCapacity: cpu,
      memoryCapacity: memory,
      cpuAllocated: 0,
      memoryAllocated: 0,
      status: "ready",
    });
  }
  return nodes;
}

function makeRequest(index: number, replicas: number, prng: Prng): PlacementRequest {
  const deployment = `app-${String(index).padStart(4, "0")}`;
  const strategy = prng.pick(strategies);
  const constraint = prng.nextFloat();
  const allowed =
    constraint < 0.15 ? [prng.pick(regions)] : constraint < 0.25 ? shuffle([...regions], prng).slice(0, 2) : [];
  const clientRegions = strategy === "latency" ? shuffle([...regions], prng).slice(0, 1 + prng.nextInt(2)) : [];
  const containerIds: string[] = [];
  for (let i = 0; i < replicas; i++) containerIds.push(`${deployment}-${i}`);
  return {
    deployment,
    deploymentVersion: 1,
    cpuMillicores: prng.pick(cpuSizes),
    memoryMib: prng.pick(memorySizes),
    strategy,
    regions: allowed,
    clientRegions,
    onePerNode: prng.chance(0.05),
    containerIds,
    existing: new Map(),
  };
}

function shuffle<T>(items: T[], prng: Prng): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = prng.nextInt(i + 1);
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

export async function benchSchedulerPlacement(
  options: SchedulerPlacementBenchOptions = {},
): Promise<SchedulerPlacementBenchResult> {
  const deployments = options.deployments ?? 1_000;
  const replicas = options.replicas ?? 1_000;
  const nodeCount = options.nodes ?? 10_000;
  const prng = new Prng(options.seed ?? 20_240_601);
  const nodes = makeNodes(nodeCount, prng);
  const state = SchedulerState.fromNodes(nodes);

  let rssBytesMax = 0;
  let heapUsedBytesMax = 0;
  const sampleMemory = (): void => {
    const usage = process.memoryUsage();
    rssBytesMax = Math.max(rssBytesMax, usage.rss);
    heapUsedBytesMax = Math.max(heapUsedBytesMax, usage.heapUsed);
  };
  const byStrategy = {
    binpack: { deployments: 0, placements: 0, seconds: 0 },
    spread: { deployments: 0, placements: 0, seconds: 0 },
    latency: { deployments: 0, placements: 0, seconds: 0 },
  };
  let placements = 0;
  let unplaced = 0;
  let seconds = 0;
  let slowestPlanMs = 0;
  let nodeSelections = 0;
  sampleMemory();
  for (let i = 0; i < deployments; i++) {
    // The request (its container ids) is built outside the timed part: the FSM already has it.
    const request = makeRequest(i, replicas, prng);
    const seed = prng.nextUint32();
    const started = performance.now();
    const plan = planDeployment(state, request, seed);
    state.applyPlan(plan, request);
    const elapsedMs = performance.now() - started;
    seconds += elapsedMs / 1_000;
    slowestPlanMs = Math.max(slowestPlanMs, elapsedMs);
    placements += plan.placements.length;
    unplaced += plan.unplaced.length;
    for (let p = 0; p < plan.placements.length; p++)
      if (p === 0 || plan.placements[p - 1].nodeId !== plan.placements[p].nodeId) nodeSelections += 1;
    const tally = byStrategy[request.strategy];
    tally.deployments += 1;
    tally.placements += plan.placements.length;
    tally.seconds += elapsedMs / 1_000;
    if (i % benchLimits.memorySampleEveryDeployments === 0) sampleMemory();
  }
  sampleMemory();
  state.checkInvariants();
  assert(placements + unplaced === deployments * replicas, "every container is placed or reported unplaced");

  let cpuUsed = 0;
  let cpuTotal = 0;
  let memoryUsed = 0;
  let memoryTotal = 0;
  for (const node of state.nodes()) {
    cpuUsed += node.cpuAllocated;
    cpuTotal += node.cpuCapacity;
    memoryUsed += node.memoryAllocated;
    memoryTotal += node.memoryCapacity;
  }
  const round3 = (value: number): number => Number(value.toFixed(3));
  const result: SchedulerPlacementBenchResult = {
    name: "scheduler-placement",
    placementsPerSecond: Math.round(placements / seconds),
    placements,
    containers: deployments * replicas,
    unplaced,
    deployments,
    nodes: nodeCount,
    seconds: round3(seconds),
    slowestPlanMs: round3(slowestPlanMs),
    nodeSelections,
    byStrategy: {
      binpack: { ...byStrategy.binpack, seconds: round3(byStrategy.binpack.seconds) },
      spread: { ...byStrategy.spread, seconds: round3(byStrategy.spread.seconds) },
      latency: { ...byStrategy.latency, seconds: round3(byStrategy.latency.seconds) },
    },
    clusterCpuUsedRatio: round3(cpuUsed / cpuTotal),
    clusterMemoryUsedRatio: round3(memoryUsed / memoryTotal),
    rssBytesMax,
    heapUsedBytesMax,
    nodeVersion: process.version,
    date: new Date().toISOString(),
  };
  const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
  const perStrategy = strategies
    .map(
      (name) =>
        `${name} ${Math.round(result.byStrategy[name].placements / Math.max(result.byStrategy[name].seconds, 1e-9)).toLocaleString("en-US")}/s`,
    )
    .join(", ");
  console.log(
    `scheduler-placement: ${result.placementsPerSecond.toLocaleString("en-US")} placements/s (${placements.toLocaleString("en-US")} of ${result.containers.toLocaleString("en-US")} containers placed on ${nodeCount.toLocaleString("en-US")} nodes in ${result.seconds} s, ${unplaced.toLocaleString("en-US")} unplaced; ${perStrategy}; ${nodeSelections.toLocaleString("en-US")} node selections; slowest plan ${result.slowestPlanMs} ms); cluster cpu ${(result.clusterCpuUsedRatio * 100).toFixed(1)}% used, memory ${(result.clusterMemoryUsedRatio * 100).toFixed(1)}%; rss max ${mib(rssBytesMax)}, heap max ${mib(heapUsedBytesMax)}`,
  );
  const resultsDir =
    options.resultsDir === undefined ? path.resolve(process.cwd(), "bench", "results") : options.resultsDir;
  if (resultsDir !== null) {
    await mkdir(resultsDir, { recursive: true });
    await writeFile(path.join(resultsDir, "scheduler-placement.json"), `${JSON.stringify(result, null, 2)}\n`);
  }
  return result;
}
