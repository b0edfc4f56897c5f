/**
 * Sources: where the stack's candidates come from. Both walk the capacity cells that can hold
 * the request (see CapacityIndex.candidateCells) and yield every node of those cells if pulled
 * long enough, so a search that keeps pulling is exhaustive; the limit stage decides when to stop.
 */
import type { Prng } from "../../lib/prng.js";
import { cellTightness, type CapacityIndex } from "./capacity-index.js";
import type { FullnessHeap } from "./fullness-heap.js";
import type { SortedOrdinals } from "./sorted-ordinals.js";

/** What next() returns when there is nothing more. */
export const noNode = -1;

/** Nomad's iterator shape: pull with next() until noNode; each stage wraps the one before. */
export interface NodeIterator {
  next(): number;
}

/**
 * Spread's source: one region's cells, roomiest first; within a cell its members in a seeded
 * random order (a random start and a random stride coprime to the cell's size, which visits
 * every member once). Positions index the cell's members in ordinal order, so the sample
 * depends on the seed and on which nodes are there, never on the order they got there.
 */
export class RoomiestFirstSource implements NodeIterator {
  private index: CapacityIndex | null = null;
  private prng: Prng | null = null;
  private cells: Int32Array = new Int32Array(0);
  /** Cells still to open, counted down from the roomiest. */
  private cursor = 0;
  private members: SortedOrdinals | null = null;
  private size = 0;
  private position = 0;
  private stride = 1;
  private remaining = 0;

  reset(index: CapacityIndex, prng: Prng, region: number, cpuLevel: number, memoryLevel: number): void {
    this.index = index;
    this.prng = prng;
    this.cells = index.candidateCells(region, cpuLevel, memoryLevel);
    this.cursor = this.cells.length;
    this.remaining = 0;
  }

  next(): number {
    while (this.remaining === 0) {
      if (!this.openNextCell()) return noNode;
    }
    const ordinal = (this.members as SortedOrdinals).at(this.position);
    this.position += this.stride;
    if (this.position >= this.size) this.position -= this.size;
    this.remaining -= 1;
    return ordinal;
  }

  private openNextCell(): boolean {
    if (this.cursor === 0) return false;
    this.cursor -= 1;
    const cell = (this.index as CapacityIndex).cell(this.cells[this.cursor]);
    const prng = this.prng as Prng;
    this.members = cell.members;
    this.size = cell.size;
    this.position = prng.nextInt(this.size);
    this.stride = coprimeStride(this.size, prng);
    this.remaining = this.size;
    return true;
  }
}

/**
 * Binpack's source: the cells of the allowed regions, tightest first; within a cell its members
 * fullest first (a best-first walk of the cell's heap). The order is total, so binpack is
 * reproducible even before the selector's seeded tie-breaks.
 */
export class FullestFirstSource implements NodeIterator {
  private index: CapacityIndex | null = null;
  private cells: number[] = [];
  private cursor = 0;
  private heap: FullnessHeap | null = null;
  /** Heap positions still to visit in the open cell, as a binary heap by their members' order. */
  private readonly frontier: number[] = [];

  reset(index: CapacityIndex, regions: readonly number[], cpuLevel: number, memoryLevel: number): void {
    this.index = index;
    this.cells.length = 0;
    for (const region of regions)
      for (const cell of index.candidateCells(region, cpuLevel, memoryLevel)) this.cells.push(cell);
    if (regions.length > 1) this.cells.sort((a, b) => cellTightness(a) - cellTightness(b) || a - b);
    this.cursor = 0;
    this.frontier.length = 0;
  }

  next(): number {
    while (this.frontier.length === 0) {
      if (!this.openNextCell()) return noNode;
    }
    const heap = this.heap as FullnessHeap;
    const position = this.popFrontier();
    const left = 2 * position + 1;
    if (left < heap.size) this.pushFrontier(left);
    if (left + 1 < heap.size) this.pushFrontier(left + 1);
    return heap.at(position);
  }

  private openNextCell(): boolean {
    if (this.cursor === this.cells.length) return false;
    this.heap = (this.index as CapacityIndex).cell(this.cells[this.cursor]).heap;
    this.cursor += 1;
    this.frontier.push(0);
    return true;
  }

  private before(p: number, q: number): boolean {
    const heap = this.heap as FullnessHeap;
    return heap.before(heap.at(p), heap.at(q));
  }

  private pushFrontier(position: number): void {
    const frontier = this.frontier;
    let index = frontier.length;
    frontier.push(position);
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (!this.before(position, frontier[parent])) break;
      frontier[index] = frontier[parent];
      index = parent;
    }
    frontier[index] = position;
  }

  private popFrontier(): number {
    const frontier = this.frontier;
    const top = frontier[0];
    const last = frontier.pop() as number;
    const size = frontier.length;
    if (size === 0) return top;
    let index = 0;
    for (;;) {
      let child = 2 * index + 1;
      if (child >= size) break;
      if (child + 1 < size && this.before(frontier[child + 1], frontier[child])) child += 1;
      if (!this.before(frontier[child], last)) break;
      frontier[index] = frontier[child];
      index = child;
    }
    frontier[index] = last;
    return top;
  }
}

/** A seeded stride in [1, size) sharing no factor with size, so stepping by it visits every position. */
export function coprimeStride(size: number, prng: Prng): number {
  if (size <= 2) return 1;
  let stride = 1 + prng.nextInt(size - 1);
  while (gcd(stride, size) !== 1) stride = stride + 1 === size ? 1 : stride + 1;
  return stride;
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}
