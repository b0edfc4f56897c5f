/**
 * The scratch side of planning: the plan's own allocations are written into the model as it
 * goes (so the index sees them and no two placements of one plan over-commit a node), logged,
 * and undone before planDeployment returns. The model is left exactly as it was found.
 */
import { assert } from "../../lib/assert.js";
import type { CapacityIndex } from "./capacity-index.js";
import type { FeasibilityContext } from "./feasibility.js";
import type { NodeTable } from "./node-table.js";
import type { SchedulerState } from "./scheduler-state.js";
import type { PlacementRequest } from "./types.js";

export class PlanScratch implements FeasibilityContext {
  readonly cpuMillicores: number;
  readonly memoryMib: number;
  readonly onePerNode: boolean;
  readonly allowedRegion: Uint8Array;
  readonly replicas: Int32Array;
  /** Replicas of the deployment per region index, already there plus placed. */
  readonly regionReplicas: number[];
  /** (ordinal, containers) pairs, in placement order. */
  private readonly allocations: number[] = [];
  /** Nodes taken out of the index for this plan: one-per-node deployments already there. */
  private readonly hidden: number[] = [];
  private undone = false;

  constructor(
    private readonly state: SchedulerState,
    private readonly table: NodeTable,
    private readonly index: CapacityIndex,
    request: PlacementRequest,
  ) {
    this.cpuMillicores = request.cpuMillicores;
    this.memoryMib = request.memoryMib;
    this.onePerNode = request.onePerNode;
    this.allowedRegion = new Uint8Array(index.regionCount);
    if (request.regions.length === 0) this.allowedRegion.fill(1);
    for (const name of request.regions) {
      const region = state.regionOf(name);
      if (region >= 0) this.allowedRegion[region] = 1;
    }
    this.replicas = new Int32Array(table.capacity);
    this.regionReplicas = new Array<number>(index.regionCount).fill(0);
    for (const [nodeId, count] of request.existing) {
      const ordinal = state.ordinalOf(nodeId);
      if (ordinal < 0 || count === 0) continue;
      this.replicas[ordinal] += count;
      this.regionReplicas[table.region[ordinal]] += count;
      if (this.onePerNode) this.hide(ordinal);
    }
  }

  /** Places `containers` replicas on the node; the caller has checked that they fit. */
  place(ordinal: number, containers: number): void {
    assert(!this.undone, "placing after the scratch was undone");
    assert(containers >= 1, "placing nothing");
    this.state.allocateOrdinal(ordinal, containers * this.cpuMillicores, containers * this.memoryMib);
    this.replicas[ordinal] += containers;
    this.regionReplicas[this.table.region[ordinal]] += containers;
    this.allocations.push(ordinal, containers);
    if (this.onePerNode) this.hide(ordinal);
  }

  /** Returns the model to what it was before the plan. */
  undo(): void {
    if (this.undone) return;
    this.undone = true;
    for (let i = this.hidden.length - 1; i >= 0; i--) this.index.insert(this.hidden[i]);
    for (let i = this.allocations.length - 2; i >= 0; i -= 2) {
      const containers = this.allocations[i + 1];
      this.state.releaseOrdinal(this.allocations[i], containers * this.cpuMillicores, containers * this.memoryMib);
    }
  }

  private hide(ordinal: number): void {
    if (!this.index.isIndexed(ordinal)) return;
    this.index.remove(ordinal);
    this.hidden.push(ordinal);
  }
}
