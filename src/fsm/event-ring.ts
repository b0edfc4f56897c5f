import { assert } from "../lib/assert.js";
import type { FsmEvent } from "./state.js";

export type NewEvent = Omit<FsmEvent, "seq">;

/**
 * The bounded event log: a ring of the last `capacity` events. Events carry consecutive
 * sequence numbers, so the ring's content is fully described by its events and the total ever
 * appended.
 *
 * It also keeps each deployment's newest `perDeploymentMax` events still in the ring, so a
 * deployment's recent events cost O(perDeploymentMax), not a scan of the whole ring (a list of
 * 10,000 deployments would otherwise visit 10^8 events and stall the leader for seconds).
 */
export class EventRing {
  private readonly slots: FsmEvent[] = [];
  /** Oldest first; only events still in the ring; no empty lists. */
  private readonly byDeployment = new Map<string, FsmEvent[]>();
  /** Index of the oldest event in slots once the ring is full. */
  private oldest = 0;
  private appended = 0;

  constructor(
    readonly capacity: number,
    readonly perDeploymentMax: number,
  ) {
    assert(Number.isInteger(capacity) && capacity > 0, "event ring capacity must be a positive integer");
    assert(
      Number.isInteger(perDeploymentMax) && perDeploymentMax > 0,
      "events kept per deployment must be a positive integer",
    );
  }

  get size(): number {
    return this.slots.length;
  }

  /** Events ever appended, including those overwritten since. */
  get appendedTotal(): number {
    return this.appended;
  }

  append(event: NewEvent): FsmEvent {
    this.appended += 1;
    const stored: FsmEvent = { seq: this.appended, ...event };
    if (this.slots.length < this.capacity) {
      this.slots.push(stored);
    } else {
      this.forget(this.slots[this.oldest]);
      this.slots[this.oldest] = stored;
      this.oldest = (this.oldest + 1) % this.capacity;
    }
    this.index(stored);
    return stored;
  }

  /** The deployment's newest events (at most perDeploymentMax), newest first. */
  recentOf(deployment: string): FsmEvent[] {
    return [...(this.byDeployment.get(deployment) ?? [])].reverse();
  }

  private index(event: FsmEvent): void {
    if (event.deployment === "") return;
    const list = this.byDeployment.get(event.deployment);
    if (list === undefined) {
      this.byDeployment.set(event.deployment, [event]);
      return;
    }
    list.push(event);
    if (list.length > this.perDeploymentMax) list.shift();
  }

  /** `event` leaves the ring: it leaves its deployment's list too, if still there (its oldest). */
  private forget(event: FsmEvent): void {
    const list = this.byDeployment.get(event.deployment);
    if (list === undefined || list[0] !== event) return;
    list.shift();
    if (list.length === 0) this.byDeployment.delete(event.deployment);
  }

  /** Most recent first. */
  *newestFirst(): IterableIterator<FsmEvent> {
    const n = this.slots.length;
    for (let i = 0; i < n; i++) yield this.slots[(this.oldest + n - 1 - i) % n];
  }

  oldestFirst(): FsmEvent[] {
    return [...this.slots.slice(this.oldest), ...this.slots.slice(0, this.oldest)];
  }

  /** Replaces the content: `events` oldest first, the last of them numbered appendedTotal. */
  restore(events: readonly FsmEvent[], appendedTotal: number): void {
    assert(events.length <= this.capacity, "snapshot holds more events than the ring");
    assert(appendedTotal >= events.length, "snapshot event total below its event count");
    this.slots.length = 0;
    this.byDeployment.clear();
    this.oldest = 0;
    this.appended = appendedTotal;
    const firstSeq = appendedTotal - events.length + 1;
    events.forEach((event, i) => {
      assert(event.seq === firstSeq + i, "snapshot events are not consecutive");
      this.slots.push(event);
      this.index(event);
    });
  }
}
