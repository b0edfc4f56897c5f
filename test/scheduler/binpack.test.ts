/**
 * Binpack: best fit on the more loaded dimension, whole batches per node. Compared with
 * first-fit-decreasing (FFD), the classic offline bin-packing heuristic, and with an exhaustive
 * online best fit, on random workloads of identical nodes.
 *
 * Margin: nodes used <= reference + floor(10% of reference) + 1.
 *
 * Against FFD the deployments are planned largest first, the order FFD itself sorts by. In
 * arbitrary arrival order no online algorithm can promise FFD's figure (the exhaustive best fit
 * below misses it too, on about 2% of random workloads), so arbitrary orders are compared with
 * that exhaustive best fit instead: the index and the sampled limit must lose nothing that
 * scanning every node would have found.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { planDeployment, SchedulerState } from "../../src/scheduler/core/index.js";
import { demoRegions, node, request, runs, seedArb } from "./helpers.js";

const nodeCpu = 8_000;
const nodeMemory = 16_384;

interface Item {
  readonly cpu: number;
  readonly memory: number;
}
interface Deployment extends Item {
  readonly replicas: number;
}

const size = (item: Item): number => Math.max(item.cpu / nodeCpu, item.memory / nodeMemory);

function firstFitDecreasing(items: readonly Item[]): number {
  const bins: { cpu: number; memory: number }[] = [];
  for (const item of [...items].sort((a, b) => size(b) - size(a))) {
    const bin = bins.find((b) => b.cpu + item.cpu <= nodeCpu && b.memory + item.memory <= nodeMemory);
    if (bin === undefined) bins.push({ ...item });
    else {
      bin.cpu += item.cpu;
      bin.memory += item.memory;
    }
  }
  return bins.length;
}

/** Online best fit scanning every bin, item by item, with the engine's score. */
function exhaustiveBestFit(items: readonly Item[]): number {
  const bins: { cpu: number; memory: number }[] = [];
  for (const item of items) {
    let best: { cpu: number; memory: number } | undefined;
    let bestScore = -Infinity;
    for (const bin of bins) {
      if (bin.cpu + item.cpu > nodeCpu || bin.memory + item.memory > nodeMemory) continue;
      const cpu = (bin.cpu + item.cpu) / nodeCpu;
      const memory = (bin.memory + item.memory) / nodeMemory;
      const score = Math.max(cpu, memory) + Math.min(cpu, memory) / 1024;
      if (score > bestScore) [best, bestScore] = [bin, score];
    }
    if (best === undefined) bins.push({ ...item });
    else {
      best.cpu += item.cpu;
      best.memory += item.memory;
    }
  }
  return bins.length;
}

/** Plans the deployments one after another on enough identical nodes; returns the nodes used. */
function binpackNodesUsed(deployments: readonly Deployment[], seed: number): number {
  const items = deployments.reduce((sum, d) => sum + d.replicas, 0);
  const state = SchedulerState.fromNodes(
    Array.from({ length: items }, (_, i) =>
      node(`n-${String(i).padStart(3, "0")}`, demoRegions[i % 3], { cpuCapacity: nodeCpu, memoryCapacity: nodeMemory }),
    ),
  );
  deployments.forEach((d, i) => {
    const req = request({ deployment: `d${i}`, cpuMillicores: d.cpu, memoryMib: d.memory, replicas: d.replicas });
    const plan = planDeployment(state, req, seed);
    expect(plan.unplaced).toEqual([]);
    state.applyPlan(plan, req);
  });
  return state.nodes().filter((n) => n.cpuAllocated > 0 || n.memoryAllocated > 0).length;
}

const itemsOf = (deployments: readonly Deployment[]): Item[] =>
  deployments.flatMap((d) => Array.from({ length: d.replicas }, () => ({ cpu: d.cpu, memory: d.memory })));
const margin = (reference: number): number => reference + Math.floor(reference * 0.1) + 1;

const workloadArb = fc.array(
  fc.record({
    cpu: fc.integer({ min: 1, max: 40 }).map((k) => k * 100),
    memory: fc.integer({ min: 1, max: 64 }).map((k) => k * 128),
    replicas: fc.integer({ min: 1, max: 10 }),
  }),
  { minLength: 1, maxLength: 12 },
);

describe("binpack", () => {
  it("uses no more nodes than first-fit-decreasing + 10% + 1 (largest deployments first)", () => {
    fc.assert(
      fc.property(workloadArb, seedArb, (workload, seed) => {
        const largestFirst = [...workload].sort((a, b) => size(b) - size(a));
        expect(binpackNodesUsed(largestFirst, seed)).toBeLessThanOrEqual(margin(firstFitDecreasing(itemsOf(workload))));
      }),
      { numRuns: 300 },
    );
  });

  it("uses no more nodes than an exhaustive online best fit + 10% + 1 (any order)", () => {
    fc.assert(
      fc.property(workloadArb, seedArb, (workload, seed) => {
        expect(binpackNodesUsed(workload, seed)).toBeLessThanOrEqual(margin(exhaustiveBestFit(itemsOf(workload))));
      }),
      { numRuns: 300 },
    );
  });

  it("prefers the node left fullest, on its more loaded dimension", () => {
    const nodes = [
      node("empty", "us-east-1"),
      node("cpu-half", "us-east-1", { cpuAllocated: 2_000 }),
      node("memory-most", "us-east-1", { memoryAllocated: 6_144 }),
      node("too-full", "us-east-1", { cpuAllocated: 3_800 }),
    ];
    const plan = planDeployment(SchedulerState.fromNodes(nodes), request({ cpuMillicores: 500, memoryMib: 1_024 }), 5);
    expect(plan.placements).toEqual([{ containerId: "web-0", nodeId: "memory-most" }]);
  });

  it("fills each chosen node before opening the next: 1,000 replicas in 10 batches", () => {
    const nodes = Array.from({ length: 1_000 }, (_, i) =>
      node(`n-${String(i).padStart(4, "0")}`, demoRegions[i % 3], { cpuCapacity: 10_000, memoryCapacity: 100_000 }),
    );
    const plan = planDeployment(
      SchedulerState.fromNodes(nodes),
      request({ replicas: 1_000, cpuMillicores: 100, memoryMib: 100 }),
      9,
    );
    expect(plan.placements).toHaveLength(1_000);
    expect(runs(plan)).toBe(10);
  });
});
