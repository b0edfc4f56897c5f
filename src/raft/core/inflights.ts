import { assert } from "../../lib/assert.js";

/**
 * The bounded window of append messages in flight to one follower, each remembered by the
 * last index it carried. Full means: stop sending until acknowledgements free a slot.
 */
export class Inflights {
  private readonly buffer: number[];
  private start = 0;
  count = 0;

  constructor(readonly capacity: number) {
    assert(capacity >= 1, "inflight capacity must be positive");
    this.buffer = new Array<number>(capacity).fill(0);
  }

  full(): boolean {
    return this.count === this.capacity;
  }

  add(lastIndex: number): void {
    assert(!this.full(), "inflight window overflow");
    if (this.count > 0) assert(lastIndex > this.newest(), "inflight indexes must grow");
    this.buffer[(this.start + this.count) % this.capacity] = lastIndex;
    this.count++;
  }

  /** Frees every message whose last index is <= `index` (acknowledged). */
  freeLE(index: number): void {
    while (this.count > 0 && this.buffer[this.start] <= index) {
      this.start = (this.start + 1) % this.capacity;
      this.count--;
    }
    if (this.count === 0) this.start = 0;
  }

  freeFirstOne(): void {
    if (this.count === 0) return;
    this.freeLE(this.buffer[this.start]);
  }

  reset(): void {
    this.start = 0;
    this.count = 0;
  }

  private newest(): number {
    return this.buffer[(this.start + this.count - 1) % this.capacity];
  }
}
