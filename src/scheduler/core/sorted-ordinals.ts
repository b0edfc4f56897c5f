/**
 * A set of node ordinals kept in ascending order. Sampling "the member at a random position"
 * then depends only on which nodes are members, never on the order they joined, which keeps
 * plans reproducible from the cluster's state alone.
 */
import { assert } from "../../lib/assert.js";

export class SortedOrdinals {
  private items = new Int32Array(8);
  size = 0;

  at(position: number): number {
    return this.items[position];
  }

  insert(ordinal: number): void {
    const position = this.lowerBound(ordinal);
    assert(position === this.size || this.items[position] !== ordinal, "ordinal already in the set");
    if (this.size === this.items.length) {
      const grown = new Int32Array(this.items.length * 2);
      grown.set(this.items);
      this.items = grown;
    }
    this.items.copyWithin(position + 1, position, this.size);
    this.items[position] = ordinal;
    this.size += 1;
  }

  remove(ordinal: number): void {
    const position = this.lowerBound(ordinal);
    assert(position < this.size && this.items[position] === ordinal, "removing an ordinal not in the set");
    this.items.copyWithin(position, position + 1, this.size);
    this.size -= 1;
  }

  /** The first position whose ordinal is >= `ordinal`. */
  private lowerBound(ordinal: number): number {
    let lo = 0;
    let hi = this.size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.items[mid] < ordinal) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  checkInvariants(): void {
    for (let i = 1; i < this.size; i++) assert(this.items[i - 1] < this.items[i], "ordinal set out of order");
  }
}
