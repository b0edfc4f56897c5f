/**
 * planDeployment: where the pending containers of one deployment go. Pure: it reads the model,
 * plans against a scratch layer of its own allocations, and leaves the model as it found it.
 * The same model contents, request, seed and configuration give the same plan.
 *
 * Large scale-ups are placed in batches: each selection picks a node and the strategy says how
 * many replicas that node takes at once (binpack: as many as fit; spread: enough to bring the
 * node to the even level of its region), so 1,000 replicas cost far fewer than 1,000 searches
 * whenever nodes can hold several, and each search is logarithmic in the cluster anyway.
 */
import { assert, assertNever } from "../../lib/assert.js";
import { Prng } from "../../lib/prng.js";
import { noNode } from "./candidate-source.js";
import { containersThatFit, countRejections, pendingSentence } from "./feasibility.js";
import { schedulerLimits } from "./limits.js";
import type { NodeTable } from "./node-table.js";
import { PlanScratch } from "./plan-scratch.js";
import { defaultPlannerConfig, type PlannerConfig } from "./planner-config.js";
import { byLatency, nearestGroup, shuffled, waterFill } from "./region-plan.js";
import type { SchedulerState } from "./scheduler-state.js";
import { PlacementStack } from "./stack.js";
import type { Placement, Plan, PlacementRequest } from "./types.js";

export function planDeployment(
  state: SchedulerState,
  request: PlacementRequest,
  seed: number,
  config: PlannerConfig = defaultPlannerConfig,
): Plan {
  checkRequest(request);
  assert(Number.isInteger(seed) && seed >= 0 && seed <= 0xffff_ffff, `plan seed must be a uint32, got ${seed}`);
  const index = state.searchIndex();
  const table = state.columns();
  const prng = new Prng(seed);
  const scratch = new PlanScratch(state, table, index, request);
  try {
    const planner = new Planner(
      state,
      table,
      scratch,
      new PlacementStack(index, table, scratch, prng, config),
      request,
      prng,
      config,
    );
    planner.placeAll();
    const unplaced = request.containerIds.slice(planner.placements.length);
    const rejections = unplaced.length === 0 ? [] : countRejections(table, scratch);
    return {
      planId: planId(request, seed),
      seed,
      deployment: request.deployment,
      deploymentVersion: request.deploymentVersion,
      placements: planner.placements,
      unplaced,
      rejections,
      pendingReason: unplaced.length === 0 ? "" : pendingSentence(rejections, state.nodeCount),
    };
  } finally {
    scratch.undo();
  }
}

/** "<deployment>-v<version>-<seed as 8 hex digits>": names the plan in events and logs. */
export function planId(request: Pick<PlacementRequest, "deployment" | "deploymentVersion">, seed: number): string {
  return `${request.deployment}-v${request.deploymentVersion}-${seed.toString(16).padStart(8, "0")}`;
}

class Planner {
  readonly placements: Placement[] = [];
  /** Region indexes the request allows, in a seeded order that settles ties between regions. */
  private readonly regions: number[];

  constructor(
    private readonly state: SchedulerState,
    private readonly table: NodeTable,
    private readonly scratch: PlanScratch,
    private readonly stack: PlacementStack,
    private readonly request: PlacementRequest,
    prng: Prng,
    private readonly config: PlannerConfig,
  ) {
    const allowed: number[] = [];
    for (let region = 0; region < scratch.allowedRegion.length; region++)
      if (scratch.allowedRegion[region] === 1) allowed.push(region);
    this.regions = shuffled(allowed, prng);
  }

  private get remaining(): number {
    return this.request.containerIds.length - this.placements.length;
  }

  placeAll(): void {
    const strategy = this.request.strategy;
    switch (strategy) {
      case "binpack":
        this.placeBinpack();
        return;
      case "spread":
        this.placeAcrossRegions([]);
        return;
      case "latency":
        // Without client regions all regions are equally near: plain spread.
        this.placeAcrossRegions(this.request.clientRegions);
        return;
      default:
        assertNever(strategy, "placement strategy");
    }
  }

  /** Best fit over all allowed regions, filling each chosen node as far as the request allows. */
  private placeBinpack(): void {
    while (this.remaining > 0) {
      const ordinal = this.stack.selectBinpack(this.regions);
      if (ordinal === noNode) return;
      const fit = this.request.onePerNode ? 1 : containersThatFit(this.table, this.scratch, ordinal);
      this.place(ordinal, Math.min(this.remaining, fit));
    }
  }

  /**
   * Spread (and latency-aware): the nearest group of regions (all of them for spread) shares
   * the replicas evenly; a region that runs out of room drops out and the rest, joined by the
   * next nearest group if the group is empty, share what is left.
   */
  private placeAcrossRegions(clientRegions: readonly string[]): void {
    const choices = byLatency(this.regions, this.state.regionNames, clientRegions, this.config);
    const exhausted = new Set<number>();
    while (this.remaining > 0) {
      const group = nearestGroup(choices, exhausted, this.config.latencyToleranceMs);
      if (group.length === 0) return;
      const quotas = waterFill(
        group.map((region) => this.scratch.regionReplicas[region]),
        this.remaining,
      );
      for (let i = 0; i < group.length; i++) {
        if (quotas[i] === 0) continue;
        if (this.placeInRegion(group[i], quotas[i]) < quotas[i]) {
          exhausted.add(group[i]);
          break;
        }
      }
    }
  }

  /**
   * Up to `quota` replicas in one region. Each selection tops its node up to the region's even
   * level (what every candidate node would hold if the region's replicas were shared equally,
   * rounded down), at least one replica, so a region of few large nodes takes its share in a
   * few batches and replicas per node still end within one of each other.
   */
  private placeInRegion(region: number, quota: number): number {
    const candidates = this.stack.candidateNodes(region);
    if (candidates === 0) return 0;
    let placed = 0;
    while (placed < quota) {
      const ordinal = this.stack.selectSpread(region);
      if (ordinal === noNode) break;
      const level = Math.floor((this.scratch.regionReplicas[region] + quota - placed) / candidates);
      const batch = this.request.onePerNode
        ? 1
        : Math.min(
            quota - placed,
            containersThatFit(this.table, this.scratch, ordinal),
            Math.max(1, level - this.scratch.replicas[ordinal]),
          );
      this.place(ordinal, batch);
      placed += batch;
    }
    return placed;
  }

  private place(ordinal: number, containers: number): void {
    assert(containers >= 1 && containers <= this.remaining, "batch outside what is left to place");
    this.scratch.place(ordinal, containers);
    const nodeId = this.table.ids[ordinal];
    const ids = this.request.containerIds;
    for (let i = 0; i < containers; i++) this.placements.push({ containerId: ids[this.placements.length], nodeId });
  }
}

function checkRequest(request: PlacementRequest): void {
  assert(
    typeof request.deployment === "string" && request.deployment.length > 0,
    "a placement request names its deployment",
  );
  assert(
    Number.isInteger(request.deploymentVersion) && request.deploymentVersion >= 0,
    "deployment version must be a count",
  );
  for (const amount of [request.cpuMillicores, request.memoryMib]) {
    assert(
      Number.isInteger(amount) && amount >= 0 && amount <= schedulerLimits.resourceAmountMax,
      `request amount out of range: ${amount}`,
    );
  }
  assert(
    request.containerIds.length <= schedulerLimits.containersPerPlanMax,
    `at most ${schedulerLimits.containersPerPlanMax} containers per plan`,
  );
  for (const [nodeId, count] of request.existing)
    assert(Number.isInteger(count) && count >= 0, `replica count on ${nodeId} must be a count, got ${count}`);
}
