/**
 * A max-heap of node ordinals by fullness (ties: the lower ordinal first), with each node's
 * position kept in a column shared by all heaps (a node sits in at most one). The order is
 * total, so the k fullest members are the same set in the same order however the heap's array
 * happens to be laid out.
 */
import { assert } from "../../lib/assert.js";

export class FullnessHeap {
  private readonly items: number[] = [];

  constructor(
    private readonly fullness: Float64Array,
    /** Position of each ordinal in its heap's array; -1 for nodes in no heap. */
    private readonly position: Int32Array,
  ) {}

  get size(): number {
    return this.items.length;
  }

  /** The member at a heap position (0 is the fullest). */
  at(index: number): number {
    return this.items[index];
  }

  /** True when node a comes before node b: fuller, or as full with the lower ordinal. */
  before(a: number, b: number): boolean {
    const fa = this.fullness[a];
    const fb = this.fullness[b];
    return fa > fb || (fa === fb && a < b);
  }

  push(ordinal: number): void {
    this.items.push(ordinal);
    this.position[ordinal] = this.items.length - 1;
    this.siftUp(this.items.length - 1);
  }

  remove(ordinal: number): void {
    const index = this.position[ordinal];
    assert(index >= 0 && this.items[index] === ordinal, "removing a node that is not in this heap");
    const last = this.items.pop() as number;
    this.position[ordinal] = -1;
    if (index === this.items.length) return;
    this.items[index] = last;
    this.position[last] = index;
    this.restore(index);
  }

  /** Call after the node's fullness changed. */
  update(ordinal: number): void {
    const index = this.position[ordinal];
    assert(index >= 0 && this.items[index] === ordinal, "updating a node that is not in this heap");
    this.restore(index);
  }

  private restore(index: number): void {
    if (index > 0 && this.before(this.items[index], this.items[(index - 1) >> 1])) this.siftUp(index);
    else this.siftDown(index);
  }

  private siftUp(start: number): void {
    const items = this.items;
    const moving = items[start];
    let index = start;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (!this.before(moving, items[parent])) break;
      items[index] = items[parent];
      this.position[items[index]] = index;
      index = parent;
    }
    items[index] = moving;
    this.position[moving] = index;
  }

  private siftDown(start: number): void {
    const items = this.items;
    const size = items.length;
    const moving = items[start];
    let index = start;
    for (;;) {
      let child = 2 * index + 1;
      if (child >= size) break;
      if (child + 1 < size && this.before(items[child + 1], items[child])) child += 1;
      if (!this.before(items[child], moving)) break;
      items[index] = items[child];
      this.position[items[index]] = index;
      index = child;
    }
    items[index] = moving;
    this.position[moving] = index;
  }

  checkInvariants(): void {
    for (let i = 0; i < this.items.length; i++) {
      assert(this.position[this.items[i]] === i, "heap position column out of date");
      if (i > 0) assert(!this.before(this.items[i], this.items[(i - 1) >> 1]), "heap order broken");
    }
  }
}
