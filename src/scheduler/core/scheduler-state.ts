/**
 * The scheduler's model of the cluster (a "ClusterModel"): the leader builds it once from the
 * FSM's nodes, keeps it current as the FSM applies changes, and plans against it. It holds
 * only what placement needs (capacity, allocation, status, region per node) in columns plus the
 * capacity index, and is changed only through the methods below, which keep both exact.
 *
 * Plans are reproducible from the model's contents alone: ordinals follow node ids and regions
 * are sorted by name, so when a node or region arrives out of order the model marks itself
 * stale and renumbers everything before the next plan (rare: registrations, not placements).
 */
import { assert } from "../../lib/assert.js";
import { CapacityIndex } from "./capacity-index.js";
import { schedulerLimits } from "./limits.js";
import { NodeTable, statusCode } from "./node-table.js";
import type { NodeStatus, NodeView, Placement, PlacementRequest, Region } from "./types.js";

const nodeStatuses: readonly NodeStatus[] = ["ready", "down", "draining"];

export class SchedulerState {
  private table: NodeTable;
  /** Sorted by name; a node's region is an index into this list. */
  private regions: Region[];
  private regionIndex = new Map<Region, number>();
  private readonly byId = new Map<string, number>();
  /** Null while stale (a node or region arrived out of order); rebuilt by searchIndex(). */
  private index: CapacityIndex | null = null;

  private constructor(views: readonly NodeView[]) {
    this.table = new NodeTable(1);
    this.regions = [];
    this.rebuild(views);
  }

  /** A model of these nodes, in any order (duplicate ids are a bug). */
  static fromNodes(nodes: Iterable<NodeView>): SchedulerState {
    const views = [...nodes];
    for (const view of views) checkView(view);
    assert(views.length <= schedulerLimits.nodesMax, "more nodes than the model indexes");
    return new SchedulerState(views);
  }

  /** Nodes in the model, whatever their status. */
  get nodeCount(): number {
    return this.byId.size;
  }

  /** Regions of the model's nodes, sorted. */
  get regionNames(): readonly Region[] {
    return this.regions;
  }

  has(nodeId: string): boolean {
    return this.byId.has(nodeId);
  }

  node(nodeId: string): NodeView | undefined {
    const ordinal = this.byId.get(nodeId);
    return ordinal === undefined ? undefined : this.viewOf(ordinal);
  }

  /** Every node, sorted by id. */
  nodes(): NodeView[] {
    return [...this.byId.keys()].sort(compareIds).map((id) => this.viewOf(this.byId.get(id) as number));
  }

  /** Adds a node or replaces everything known about it (the FSM's record after any change). */
  upsertNode(view: NodeView): void {
    checkView(view);
    const known = this.byId.get(view.id);
    if (known !== undefined) {
      if (
        this.index?.isIndexed(known) === true &&
        view.status === "ready" &&
        this.regions[this.table.region[known]] === view.region
      ) {
        // The common case, an allocation changed: move the node within the index, not out and back.
        this.table.write(known, view);
        this.index.update(known);
        return;
      }
      this.detach(known);
      this.table.write(known, view);
      this.setRegion(known, view.region);
      this.attach(known);
      return;
    }
    assert(this.byId.size < schedulerLimits.nodesMax, "more nodes than the model indexes");
    const last = this.table.size === 0 ? "" : this.table.ids[this.table.size - 1];
    if (this.table.size === this.table.capacity || !this.regionIndex.has(view.region) || compareIds(last, view.id) >= 0)
      this.markStale();
    if (this.table.size === this.table.capacity) this.table = grown(this.table);
    const ordinal = this.table.append(view, this.regionIndex.get(view.region) ?? -1);
    this.byId.set(view.id, ordinal);
    this.setRegion(ordinal, view.region);
    this.attach(ordinal);
  }

  /** Forgets a node; false when it was not known. */
  removeNode(nodeId: string): boolean {
    const ordinal = this.byId.get(nodeId);
    if (ordinal === undefined) return false;
    this.detach(ordinal);
    this.table.status[ordinal] = statusCode.removed;
    this.byId.delete(nodeId);
    return true;
  }

  /** False when the node is not known. */
  setStatus(nodeId: string, status: NodeStatus): boolean {
    assert(nodeStatuses.includes(status), `unknown node status ${String(status)}`);
    const ordinal = this.byId.get(nodeId);
    if (ordinal === undefined) return false;
    this.detach(ordinal);
    this.table.status[ordinal] = statusCode[status];
    this.attach(ordinal);
    return true;
  }

  /** Records containers placed on a node (as the FSM applied them); false when the node is not known. */
  allocate(nodeId: string, cpuMillicores: number, memoryMib: number): boolean {
    const ordinal = this.byId.get(nodeId);
    if (ordinal === undefined) return false;
    this.allocateOrdinal(ordinal, cpuMillicores, memoryMib);
    return true;
  }

  /** Records containers that stopped holding capacity on a node; false when the node is not known. */
  release(nodeId: string, cpuMillicores: number, memoryMib: number): boolean {
    const ordinal = this.byId.get(nodeId);
    if (ordinal === undefined) return false;
    this.releaseOrdinal(ordinal, cpuMillicores, memoryMib);
    return true;
  }

  /**
   * Records a plan's placements, as the leader does once the FSM applied them (or optimistically
   * right after proposing, until the FSM's node records overwrite the guess). Placements on
   * nodes the model no longer knows are skipped.
   */
  applyPlan(
    plan: { readonly placements: readonly Placement[] },
    request: Pick<PlacementRequest, "cpuMillicores" | "memoryMib">,
  ): void {
    const { placements } = plan;
    let start = 0;
    while (start < placements.length) {
      const nodeId = placements[start].nodeId;
      let end = start + 1;
      while (end < placements.length && placements[end].nodeId === nodeId) end++;
      this.allocate(nodeId, (end - start) * request.cpuMillicores, (end - start) * request.memoryMib);
      start = end;
    }
  }

  checkInvariants(): void {
    const table = this.table;
    assert(table.size <= table.capacity, "node table over its capacity");
    // Out-of-order arrivals are allowed while stale: the next plan renumbers first.
    if (this.index !== null)
      for (let i = 1; i < this.regions.length; i++)
        assert(this.regions[i - 1] < this.regions[i], "regions out of order");
    let live = 0;
    for (let ordinal = 0; ordinal < table.size; ordinal++) {
      if (!table.isLive(ordinal)) continue;
      live += 1;
      assert(this.byId.get(table.ids[ordinal]) === ordinal, "id map out of date");
      assert(
        table.cpuAllocated[ordinal] <= table.cpuCapacity[ordinal],
        `node ${table.ids[ordinal]} cpu over-committed`,
      );
      assert(
        table.memoryAllocated[ordinal] <= table.memoryCapacity[ordinal],
        `node ${table.ids[ordinal]} memory over-committed`,
      );
      const fullness = table.fullness[ordinal];
      table.refreshFullness(ordinal);
      assert(fullness === table.fullness[ordinal], "fullness out of date");
      if (this.index === null) continue;
      if (ordinal > 0) assert(compareIds(table.ids[ordinal - 1], table.ids[ordinal]) < 0, "ordinals out of id order");
      assert(
        this.index.isIndexed(ordinal) === (table.status[ordinal] === statusCode.ready),
        "index and status disagree",
      );
    }
    assert(live === this.byId.size, "id map lists removed nodes");
    this.index?.checkInvariants();
  }

  // ---- for the planner (not exported from the package) ----

  /** The capacity index, rebuilt first when the model is stale. */
  searchIndex(): CapacityIndex {
    if (this.index === null) this.rebuild(this.nodes());
    const index = this.index;
    assert(index !== null, "a rebuild leaves an index");
    return index;
  }

  /** The columns; only valid after searchIndex(), until the next change of node set. */
  columns(): NodeTable {
    return this.table;
  }

  regionOf(name: Region): number {
    return this.regionIndex.get(name) ?? -1;
  }

  ordinalOf(nodeId: string): number {
    return this.byId.get(nodeId) ?? -1;
  }

  allocateOrdinal(ordinal: number, cpuMillicores: number, memoryMib: number): void {
    checkAmount(cpuMillicores);
    checkAmount(memoryMib);
    const table = this.table;
    assert(table.isLive(ordinal), "allocating on a removed node");
    assert(
      table.cpuAllocated[ordinal] + cpuMillicores <= table.cpuCapacity[ordinal],
      `node ${table.ids[ordinal]} cpu over-committed`,
    );
    assert(
      table.memoryAllocated[ordinal] + memoryMib <= table.memoryCapacity[ordinal],
      `node ${table.ids[ordinal]} memory over-committed`,
    );
    table.cpuAllocated[ordinal] += cpuMillicores;
    table.memoryAllocated[ordinal] += memoryMib;
    table.refreshFullness(ordinal);
    this.index?.update(ordinal);
  }

  releaseOrdinal(ordinal: number, cpuMillicores: number, memoryMib: number): void {
    checkAmount(cpuMillicores);
    checkAmount(memoryMib);
    const table = this.table;
    assert(table.isLive(ordinal), "releasing on a removed node");
    assert(
      table.cpuAllocated[ordinal] >= cpuMillicores && table.memoryAllocated[ordinal] >= memoryMib,
      `node ${table.ids[ordinal]} released more than it held`,
    );
    table.cpuAllocated[ordinal] -= cpuMillicores;
    table.memoryAllocated[ordinal] -= memoryMib;
    table.refreshFullness(ordinal);
    this.index?.update(ordinal);
  }

  // ---- internals ----

  private viewOf(ordinal: number): NodeView {
    const table = this.table;
    return {
      id: table.ids[ordinal],
      region: this.regions[table.region[ordinal]],
      cpuCapacity: table.cpuCapacity[ordinal],
      memoryCapacity: table.memoryCapacity[ordinal],
      cpuAllocated: table.cpuAllocated[ordinal],
      memoryAllocated: table.memoryAllocated[ordinal],
      status: table.statusName(ordinal),
    };
  }

  private detach(ordinal: number): void {
    if (this.index?.isIndexed(ordinal) === true) this.index.remove(ordinal);
  }

  private attach(ordinal: number): void {
    if (this.index !== null && this.table.status[ordinal] === statusCode.ready) this.index.insert(ordinal);
  }

  private setRegion(ordinal: number, region: Region): void {
    let index = this.regionIndex.get(region);
    if (index === undefined) {
      assert(this.regions.length < schedulerLimits.regionsMax, "more regions than the model indexes");
      this.markStale();
      index = this.regions.length;
      this.regions.push(region);
      this.regionIndex.set(region, index);
    }
    this.table.region[ordinal] = index;
  }

  private markStale(): void {
    this.index = null;
  }

  /** Renumbers nodes by id and regions by name, and indexes the ready nodes afresh. */
  private rebuild(views: readonly NodeView[]): void {
    const sorted = [...views].sort((a, b) => compareIds(a.id, b.id));
    this.regions = [...new Set(sorted.map((view) => view.region))].sort(compareIds);
    this.regionIndex = new Map(this.regions.map((name, index) => [name, index]));
    this.table = new NodeTable(Math.max(16, 2 * sorted.length));
    this.byId.clear();
    for (const view of sorted) {
      assert(!this.byId.has(view.id), `node ${view.id} listed twice`);
      this.byId.set(view.id, this.table.append(view, this.regionIndex.get(view.region) as number));
    }
    this.index = new CapacityIndex(this.table, Math.max(1, this.regions.length));
    for (let ordinal = 0; ordinal < this.table.size; ordinal++) this.attach(ordinal);
  }
}

/** Code-unit order, the same on every replica whatever its locale. */
export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function grown(table: NodeTable): NodeTable {
  const bigger = new NodeTable(table.capacity * 2);
  for (let ordinal = 0; ordinal < table.size; ordinal++) {
    bigger.ids.push(table.ids[ordinal]);
    bigger.region[ordinal] = table.region[ordinal];
    bigger.cpuCapacity[ordinal] = table.cpuCapacity[ordinal];
    bigger.memoryCapacity[ordinal] = table.memoryCapacity[ordinal];
    bigger.cpuAllocated[ordinal] = table.cpuAllocated[ordinal];
    bigger.memoryAllocated[ordinal] = table.memoryAllocated[ordinal];
    bigger.fullness[ordinal] = table.fullness[ordinal];
    bigger.status[ordinal] = table.status[ordinal];
  }
  bigger.size = table.size;
  return bigger;
}

function checkAmount(amount: number): void {
  assert(
    Number.isInteger(amount) && amount >= 0 && amount <= schedulerLimits.resourceAmountMax,
    `resource amount out of range: ${amount}`,
  );
}

function checkView(view: NodeView): void {
  assert(typeof view.id === "string" && view.id.length > 0, "a node needs an id");
  assert(typeof view.region === "string" && view.region.length > 0, `node ${view.id} needs a region`);
  for (const amount of [view.cpuCapacity, view.memoryCapacity, view.cpuAllocated, view.memoryAllocated])
    checkAmount(amount);
  assert(view.cpuAllocated <= view.cpuCapacity, `node ${view.id} cpu over-committed`);
  assert(view.memoryAllocated <= view.memoryCapacity, `node ${view.id} memory over-committed`);
  assert(nodeStatuses.includes(view.status), `node ${view.id} has unknown status ${String(view.status)}`);
}
