import type { ReplicaId } from "./types.js";

interface PendingRead {
  readonly index: number;
  readonly from: ReplicaId;
  readonly acks: Set<ReplicaId>;
}

/**
 * ReadIndex requests waiting for a heartbeat round to confirm the leader is still the leader.
 * Requests are released in arrival order: confirming a later one confirms all before it.
 */
export class ReadOnlyQueue {
  private readonly pending = new Map<string, PendingRead>();
  private queue: string[] = [];

  get size(): number {
    return this.queue.length;
  }

  has(context: string): boolean {
    return this.pending.has(context);
  }

  add(index: number, context: string, from: ReplicaId, self: ReplicaId): void {
    this.pending.set(context, { index, from, acks: new Set([self]) });
    this.queue.push(context);
  }

  /** Records a heartbeat answer; returns the acks so far for that request (0 when unknown). */
  ack(context: string, from: ReplicaId): ReadonlySet<ReplicaId> | undefined {
    const read = this.pending.get(context);
    if (read === undefined) return undefined;
    read.acks.add(from);
    return read.acks;
  }

  /** Removes and returns every request up to and including `context`. */
  releaseUpTo(context: string): { index: number; context: string; from: ReplicaId }[] {
    const position = this.queue.indexOf(context);
    if (position < 0) return [];
    const released = this.queue.slice(0, position + 1);
    this.queue = this.queue.slice(position + 1);
    const result: { index: number; context: string; from: ReplicaId }[] = [];
    for (const ctx of released) {
      const read = this.pending.get(ctx);
      this.pending.delete(ctx);
      if (read !== undefined) result.push({ index: read.index, context: ctx, from: read.from });
    }
    return result;
  }

  /** The most recent request, whose confirmation releases everything. */
  last(): string | undefined {
    return this.queue[this.queue.length - 1];
  }

  clear(): void {
    this.pending.clear();
    this.queue = [];
  }
}
