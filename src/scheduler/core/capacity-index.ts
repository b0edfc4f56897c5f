/**
 * The index that keeps placement logarithmic: every ready node sits in one cell of its region's
 * capacity grid, keyed by its free cpu and free memory in half-octave levels. A request of
 * (cpu, memory) can only fit in cells at or above its own levels, and fits every node of a cell
 * strictly above them, so a search visits the few cells that can matter instead of every node.
 *
 * Each cell keeps its members twice: in ascending ordinal order, for seeded uniform sampling
 * (spread), and in a max-heap by fullness, for fullest-first search (binpack). Each grid row has
 * a 64-bit mask of its non-empty cells, and the ordered list of cells a request may use is cached
 * until a cell of the region turns empty or non-empty.
 */
import { assert } from "../../lib/assert.js";
import { FullnessHeap } from "./fullness-heap.js";
import { freeLevelCount, freeLevelTop } from "./limits.js";
import type { NodeTable } from "./node-table.js";
import { SortedOrdinals } from "./sorted-ordinals.js";

export const cellsPerRegion = freeLevelCount * freeLevelCount;

/**
 * Level of a free amount: 0 for nothing, then two levels per octave. Monotone, so a node whose
 * free amount is at a lower level than a request's cannot fit it, and one at a higher level can.
 */
export function freeLevel(amount: number): number {
  if (amount < 1) return 0;
  const msb = 31 - Math.clz32(amount);
  const halfBit = msb === 0 ? 0 : (amount >>> (msb - 1)) & 1;
  return 1 + 2 * msb + halfBit;
}

export function cellRegion(cell: number): number {
  return Math.floor(cell / cellsPerRegion);
}

export function cellCpuLevel(cell: number): number {
  return (cell % cellsPerRegion) >> 6;
}

export function cellMemoryLevel(cell: number): number {
  return cell & (freeLevelCount - 1);
}

/** Tightest cells first: least free in both dimensions together, then least free cpu. */
export function cellTightness(cell: number): number {
  const cpu = cellCpuLevel(cell);
  return (cpu + cellMemoryLevel(cell)) * freeLevelCount + cpu;
}

export class CapacityCell {
  readonly members = new SortedOrdinals();
  readonly heap: FullnessHeap;

  constructor(fullness: Float64Array, heapPosition: Int32Array) {
    this.heap = new FullnessHeap(fullness, heapPosition);
  }

  get size(): number {
    return this.members.size;
  }
}

interface CachedCells {
  readonly version: number;
  readonly cells: Int32Array;
}

export class CapacityIndex {
  private readonly cells: (CapacityCell | undefined)[];
  /** Cell of each ordinal; -1 for a node that is not indexed (not ready, or hidden by a plan). */
  private readonly cellOf: Int32Array;
  private readonly heapPosition: Int32Array;
  /** Non-empty cells, one bit per memory level: [region * freeLevelCount + cpuLevel], levels 0-31 and 32-63. */
  private readonly maskLow: Int32Array;
  private readonly maskHigh: Int32Array;
  /** Bumped whenever a cell of the region turns empty or non-empty; invalidates the cache. */
  private readonly shapeVersion: Float64Array;
  private readonly cache: Map<number, CachedCells>[] = [];
  /** Indexed nodes per region. */
  readonly indexedCount: Int32Array;

  constructor(
    private readonly table: NodeTable,
    readonly regionCount: number,
  ) {
    this.cells = new Array<CapacityCell | undefined>(regionCount * cellsPerRegion).fill(undefined);
    this.cellOf = new Int32Array(table.capacity).fill(-1);
    this.heapPosition = new Int32Array(table.capacity).fill(-1);
    this.maskLow = new Int32Array(regionCount * freeLevelCount);
    this.maskHigh = new Int32Array(regionCount * freeLevelCount);
    this.shapeVersion = new Float64Array(regionCount);
    this.indexedCount = new Int32Array(regionCount);
    for (let region = 0; region < regionCount; region++) this.cache.push(new Map());
  }

  isIndexed(ordinal: number): boolean {
    return this.cellOf[ordinal] >= 0;
  }

  cellOfNode(ordinal: number): number {
    return this.cellOf[ordinal];
  }

  cell(id: number): CapacityCell {
    const cell = this.cells[id];
    assert(cell !== undefined, "asking for a cell that never held a node");
    return cell;
  }

  insert(ordinal: number): void {
    assert(this.cellOf[ordinal] < 0, "node indexed twice");
    const id = this.cellFor(ordinal);
    let cell = this.cells[id];
    if (cell === undefined) {
      cell = new CapacityCell(this.table.fullness, this.heapPosition);
      this.cells[id] = cell;
    }
    cell.members.insert(ordinal);
    cell.heap.push(ordinal);
    this.cellOf[ordinal] = id;
    this.indexedCount[this.table.region[ordinal]] += 1;
    if (cell.size === 1) this.flipMask(id);
  }

  remove(ordinal: number): void {
    const id = this.cellOf[ordinal];
    assert(id >= 0, "removing a node that is not indexed");
    const cell = this.cell(id);
    cell.members.remove(ordinal);
    cell.heap.remove(ordinal);
    this.cellOf[ordinal] = -1;
    this.indexedCount[this.table.region[ordinal]] -= 1;
    if (cell.size === 0) this.flipMask(id);
  }

  /** Call after an indexed node's allocation changed (and its fullness was refreshed). */
  update(ordinal: number): void {
    const id = this.cellOf[ordinal];
    if (id < 0) return;
    if (id === this.cellFor(ordinal)) {
      this.cell(id).heap.update(ordinal);
      return;
    }
    this.remove(ordinal);
    this.insert(ordinal);
  }

  /**
   * The non-empty cells of `region` that may hold a node with `cpuLevel` and `memoryLevel` free,
   * tightest first. Shared and cached: do not modify.
   */
  candidateCells(region: number, cpuLevel: number, memoryLevel: number): Int32Array {
    const key = cpuLevel * freeLevelCount + memoryLevel;
    const cached = this.cache[region].get(key);
    if (cached !== undefined && cached.version === this.shapeVersion[region]) return cached.cells;
    const cells = this.collectCells(region, cpuLevel, memoryLevel);
    this.cache[region].set(key, { version: this.shapeVersion[region], cells });
    return cells;
  }

  /** Nodes in the candidate cells: an upper bound on the region's nodes that can take the request. */
  candidateNodeCount(region: number, cpuLevel: number, memoryLevel: number): number {
    let count = 0;
    for (const id of this.candidateCells(region, cpuLevel, memoryLevel)) count += this.cell(id).size;
    return count;
  }

  private collectCells(region: number, cpuLevel: number, memoryLevel: number): Int32Array {
    const keys: number[] = [];
    for (let cpu = cpuLevel; cpu <= freeLevelTop; cpu++) {
      const row = region * freeLevelCount + cpu;
      let low = memoryLevel < 32 ? this.maskLow[row] & (-1 << memoryLevel) : 0;
      let high = memoryLevel < 32 ? this.maskHigh[row] : this.maskHigh[row] & (-1 << (memoryLevel - 32));
      while (low !== 0) {
        const bit = low & -low;
        keys.push(this.cellKey(region, cpu, 31 - Math.clz32(bit)));
        low ^= bit;
      }
      while (high !== 0) {
        const bit = high & -high;
        keys.push(this.cellKey(region, cpu, 32 + 31 - Math.clz32(bit)));
        high ^= bit;
      }
    }
    keys.sort((a, b) => a - b);
    const cells = new Int32Array(keys.length);
    for (let i = 0; i < keys.length; i++) cells[i] = (keys[i] % cellsPerRegion) + region * cellsPerRegion;
    return cells;
  }

  /** Sorts by tightness; the cell's own number rides along below it. */
  private cellKey(region: number, cpuLevel: number, memoryLevel: number): number {
    const id = region * cellsPerRegion + cpuLevel * freeLevelCount + memoryLevel;
    return cellTightness(id) * cellsPerRegion + (id % cellsPerRegion);
  }

  private cellFor(ordinal: number): number {
    const cpu = freeLevel(this.table.cpuFree(ordinal));
    const memory = freeLevel(this.table.memoryFree(ordinal));
    return this.table.region[ordinal] * cellsPerRegion + cpu * freeLevelCount + memory;
  }

  private flipMask(id: number): void {
    const region = cellRegion(id);
    const row = region * freeLevelCount + cellCpuLevel(id);
    const memory = cellMemoryLevel(id);
    if (memory < 32) this.maskLow[row] ^= 1 << memory;
    else this.maskHigh[row] ^= 1 << (memory - 32);
    this.shapeVersion[region] += 1;
  }

  checkInvariants(): void {
    const counted = new Int32Array(this.regionCount);
    for (let ordinal = 0; ordinal < this.table.size; ordinal++) {
      const id = this.cellOf[ordinal];
      if (id < 0) continue;
      assert(this.table.isLive(ordinal), "a removed node is indexed");
      assert(id === this.cellFor(ordinal), `node ${this.table.ids[ordinal]} sits in the wrong capacity cell`);
      counted[this.table.region[ordinal]] += 1;
    }
    for (let region = 0; region < this.regionCount; region++)
      assert(counted[region] === this.indexedCount[region], "indexed count out of date");
    for (let id = 0; id < this.cells.length; id++) {
      const cell = this.cells[id];
      const size = cell?.size ?? 0;
      const row = cellRegion(id) * freeLevelCount + cellCpuLevel(id);
      const memory = cellMemoryLevel(id);
      const bit = memory < 32 ? (this.maskLow[row] >>> memory) & 1 : (this.maskHigh[row] >>> (memory - 32)) & 1;
      assert(bit === (size > 0 ? 1 : 0), "row mask disagrees with its cell");
      if (cell === undefined) continue;
      assert(cell.heap.size === cell.size, "a cell's heap and member set disagree");
      cell.members.checkInvariants();
      cell.heap.checkInvariants();
      for (let i = 0; i < cell.size; i++)
        assert(this.cellOf[cell.members.at(i)] === id, "a cell lists a node filed elsewhere");
    }
  }
}
