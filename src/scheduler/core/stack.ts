/**
 * The placement stack: the pipeline that picks one node for a request, wired once per plan
 * and reset for each selection.
 *
 *   source (capacity cells) -> feasibility -> rank -> limit -> select
 */
import type { Prng } from "../../lib/prng.js";
import { freeLevel, type CapacityIndex } from "./capacity-index.js";
import { FullestFirstSource, RoomiestFirstSource } from "./candidate-source.js";
import { FeasibilityFilter, type FeasibilityContext } from "./feasibility.js";
import { schedulerLimits } from "./limits.js";
import type { NodeTable } from "./node-table.js";
import { sampleSize, type PlannerConfig } from "./planner-config.js";
import { RankIterator } from "./rank.js";
import { LimitIterator, selectMaxScore } from "./select.js";

export class PlacementStack {
  // Sources come from the capacity index, so only ready nodes with enough free capacity in
  // an allowed region are ever visited; the rest are skipped by the cell, not by the node.
  private readonly roomiest = new RoomiestFirstSource();
  private readonly fullest = new FullestFirstSource();
  // Feasibility re-checks each candidate exactly: cells on the request's own level may hold
  // nodes just short of it, and the same checks count rejections when nothing fits.
  private readonly feasible = new FeasibilityFilter();
  // Ranking scores only feasible nodes, so a score never describes an impossible placement.
  private readonly rank = new RankIterator(this.feasible);
  // The limit bounds the work per selection to a log2(n)-sized sample, and caps visits once it
  // holds a candidate; it sits after ranking because it counts scored candidates.
  private readonly limit = new LimitIterator(this.rank, this.feasible);
  private readonly cpuLevel: number;
  private readonly memoryLevel: number;

  constructor(
    private readonly index: CapacityIndex,
    private readonly table: NodeTable,
    private readonly context: FeasibilityContext,
    private readonly prng: Prng,
    private readonly config: PlannerConfig,
  ) {
    this.cpuLevel = freeLevel(context.cpuMillicores);
    this.memoryLevel = freeLevel(context.memoryMib);
  }

  /** The node of `region` that spread prefers, or noNode when none can take the request. */
  selectSpread(region: number): number {
    this.roomiest.reset(this.index, this.prng, region, this.cpuLevel, this.memoryLevel);
    this.feasible.reset(this.roomiest, this.table, this.context);
    this.rank.reset(this.table, this.context, "spread");
    this.limit.reset(sampleSize(this.config, this.index.indexedCount[region]), schedulerLimits.candidateVisitsMax);
    return selectMaxScore(this.limit, this.prng);
  }

  /** The best-fitting node of any of `regions`, or noNode when none can take the request. */
  selectBinpack(regions: readonly number[]): number {
    let nodes = 0;
    for (const region of regions) nodes += this.index.indexedCount[region];
    this.fullest.reset(this.index, regions, this.cpuLevel, this.memoryLevel);
    this.feasible.reset(this.fullest, this.table, this.context);
    this.rank.reset(this.table, this.context, "binpack");
    this.limit.reset(sampleSize(this.config, nodes), schedulerLimits.candidateVisitsMax);
    return selectMaxScore(this.limit, this.prng);
  }

  /** Upper bound on the nodes of `region` that can take the request. */
  candidateNodes(region: number): number {
    return this.index.candidateNodeCount(region, this.cpuLevel, this.memoryLevel);
  }
}
