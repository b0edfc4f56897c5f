/**
 * The nodes of a scheduler model as columns indexed by ordinal, so the hot loops of placement
 * read typed arrays instead of chasing objects. Ordinals follow node ids in ascending order (the
 * model renumbers when a node arrives out of order), which makes every tie broken "by ordinal"
 * a tie broken by node id: a plan depends on what the nodes are, not on when they arrived.
 */
import { assert } from "../../lib/assert.js";
import type { NodeStatus, NodeView } from "./types.js";

/** Status codes of the status column; `removed` marks the ordinal of a node that left. */
export const statusCode = { ready: 0, down: 1, draining: 2, removed: 3 } as const;
export type StatusCode = (typeof statusCode)[keyof typeof statusCode];

const statusNames: readonly NodeStatus[] = ["ready", "down", "draining"];

export class NodeTable {
  /** Ordinals handed out so far, removed ones included. Invariant: size <= capacity. */
  size = 0;
  readonly ids: string[] = [];
  readonly region: Int32Array;
  readonly cpuCapacity: Float64Array;
  readonly memoryCapacity: Float64Array;
  /** Invariant: cpuAllocated[o] <= cpuCapacity[o]. */
  readonly cpuAllocated: Float64Array;
  readonly memoryAllocated: Float64Array;
  /**
   * The more loaded dimension's share of its capacity, the key the capacity cells order their
   * nodes by. Invariant: equals fullnessOf(o) after every allocation change.
   */
  readonly fullness: Float64Array;
  readonly status: Uint8Array;

  constructor(readonly capacity: number) {
    assert(Number.isInteger(capacity) && capacity >= 1, "a node table holds at least one node");
    this.region = new Int32Array(capacity);
    this.cpuCapacity = new Float64Array(capacity);
    this.memoryCapacity = new Float64Array(capacity);
    this.cpuAllocated = new Float64Array(capacity);
    this.memoryAllocated = new Float64Array(capacity);
    this.fullness = new Float64Array(capacity);
    this.status = new Uint8Array(capacity);
  }

  append(view: NodeView, region: number): number {
    assert(this.size < this.capacity, "node table full (the model should have grown it)");
    const ordinal = this.size++;
    this.ids.push(view.id);
    this.region[ordinal] = region;
    this.write(ordinal, view);
    return ordinal;
  }

  /** Takes the view's capacity, allocation and status; the region is the caller's business. */
  write(ordinal: number, view: NodeView): void {
    this.cpuCapacity[ordinal] = view.cpuCapacity;
    this.memoryCapacity[ordinal] = view.memoryCapacity;
    this.cpuAllocated[ordinal] = view.cpuAllocated;
    this.memoryAllocated[ordinal] = view.memoryAllocated;
    this.status[ordinal] = statusCode[view.status];
    this.refreshFullness(ordinal);
  }

  refreshFullness(ordinal: number): void {
    this.fullness[ordinal] = Math.max(
      share(this.cpuAllocated[ordinal], this.cpuCapacity[ordinal]),
      share(this.memoryAllocated[ordinal], this.memoryCapacity[ordinal]),
    );
  }

  cpuFree(ordinal: number): number {
    return this.cpuCapacity[ordinal] - this.cpuAllocated[ordinal];
  }

  memoryFree(ordinal: number): number {
    return this.memoryCapacity[ordinal] - this.memoryAllocated[ordinal];
  }

  isLive(ordinal: number): boolean {
    return this.status[ordinal] !== statusCode.removed;
  }

  statusName(ordinal: number): NodeStatus {
    assert(this.isLive(ordinal), "a removed node has no status");
    return statusNames[this.status[ordinal]];
  }
}

/** Used share of one dimension; a dimension with no capacity counts as full. */
export function share(allocated: number, capacity: number): number {
  return capacity > 0 ? allocated / capacity : 1;
}
