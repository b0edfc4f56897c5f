import { assert } from "../../src/lib/assert.js";
import type { Prng } from "../../src/lib/prng.js";
import type { Message, ReplicaId } from "../../src/raft/core/types.js";
import { simLimits } from "./sim-limits.js";

export interface NetworkConditions {
  /** Chance that a message vanishes on the wire. */
  lossRate: number;
  /** Chance that a message arrives twice (each copy with its own delay). */
  duplicateRate: number;
  /** Delay is 1..delayTicksMax ticks; different delays reorder messages. */
  delayTicksMax: number;
  /** Snapshots are big: they take up to this many ticks more. */
  snapshotDelayTicksExtraMax: number;
}

export const perfectNetwork: NetworkConditions = {
  lossRate: 0,
  duplicateRate: 0,
  delayTicksMax: 1,
  snapshotDelayTicksExtraMax: 0,
};

/** Messages from any of `from` to any of `to` (and back, when symmetric) are dropped until `untilTick`. */
export interface LinkCut {
  readonly id: number;
  readonly from: ReadonlySet<ReplicaId>;
  readonly to: ReadonlySet<ReplicaId>;
  readonly symmetric: boolean;
  readonly untilTick: number;
  readonly label: string;
}

/**
 * What became of a message whose time came. "cut": its link was down on arrival (the sender's
 * transport notices); "lost": it vanished on the wire (only a snapshot's sender notices).
 */
export type DeliveryOutcome = "deliver" | "cut" | "lost";

export interface Delivery {
  readonly message: Message;
  readonly outcome: DeliveryOutcome;
  readonly senderIncarnation: number;
  /** The sender waits for a verdict on this copy (a snapshot's first copy). */
  readonly reportsSnapshot: boolean;
}

interface InFlight {
  readonly message: Message;
  readonly lost: boolean;
  readonly senderIncarnation: number;
  readonly reportsSnapshot: boolean;
}

/**
 * The simulated network: per-message delay, loss and duplication, and link cuts of any shape
 * (symmetric partitions, one-way links, a replica that can only send or only receive). Every
 * decision comes from the seeded Prng and messages of one tick arrive in the order they were
 * sent, so a seed replays exactly.
 */
export class SimNetwork {
  conditions: NetworkConditions = { ...perfectNetwork };
  private readonly inFlightByTick = new Map<number, InFlight[]>();
  private inFlightCount = 0;
  private cuts: LinkCut[] = [];
  private nextCutId = 1;
  /** Counters for the trace's summary. */
  sent = 0;
  dropped = 0;
  duplicated = 0;

  constructor(private readonly prng: Prng) {}

  send(message: Message, now: number, senderIncarnation: number): void {
    this.sent++;
    const isSnapshot = message.type === "snapshot";
    const copies = this.prng.chance(this.conditions.duplicateRate) ? 2 : 1;
    if (copies === 2) this.duplicated++;
    for (let copy = 0; copy < copies; copy++) {
      const lost = this.prng.chance(this.conditions.lossRate);
      // A lost ordinary message just disappears; a lost snapshot's sender must hear of it.
      if (lost && !(isSnapshot && copy === 0)) {
        this.dropped++;
        continue;
      }
      let delay = 1 + this.prng.nextInt(this.conditions.delayTicksMax);
      if (isSnapshot && this.conditions.snapshotDelayTicksExtraMax > 0)
        delay += this.prng.nextInt(this.conditions.snapshotDelayTicksExtraMax + 1);
      this.enqueue(now + delay, { message, lost, senderIncarnation, reportsSnapshot: isSnapshot && copy === 0 });
    }
  }

  private enqueue(tick: number, item: InFlight): void {
    assert(this.inFlightCount < simLimits.messagesInFlightMax, "network queue over its bound");
    let bucket = this.inFlightByTick.get(tick);
    if (bucket === undefined) {
      bucket = [];
      this.inFlightByTick.set(tick, bucket);
    }
    bucket.push(item);
    this.inFlightCount++;
  }

  /** The messages due at `now`, in sending order, each with its fate. */
  takeDue(now: number): Delivery[] {
    const bucket = this.inFlightByTick.get(now);
    if (bucket === undefined) return [];
    this.inFlightByTick.delete(now);
    this.inFlightCount -= bucket.length;
    return bucket.map((item) => {
      const outcome: DeliveryOutcome = item.lost
        ? "lost"
        : this.isCut(item.message.from, item.message.to)
          ? "cut"
          : "deliver";
      if (outcome !== "deliver") this.dropped++;
      return {
        message: item.message,
        outcome,
        senderIncarnation: item.senderIncarnation,
        reportsSnapshot: item.reportsSnapshot,
      };
    });
  }

  get messagesInFlight(): number {
    return this.inFlightCount;
  }

  isCut(from: ReplicaId, to: ReplicaId): boolean {
    return this.cuts.some(
      (cut) => (cut.from.has(from) && cut.to.has(to)) || (cut.symmetric && cut.from.has(to) && cut.to.has(from)),
    );
  }

  cut(
    from: Iterable<ReplicaId>,
    to: Iterable<ReplicaId>,
    untilTick: number,
    label: string,
    symmetric = false,
  ): LinkCut {
    const cut: LinkCut = { id: this.nextCutId++, from: new Set(from), to: new Set(to), symmetric, untilTick, label };
    this.cuts.push(cut);
    return cut;
  }

  /** Removes the cuts whose time is up and returns them. */
  expireCuts(now: number): LinkCut[] {
    const expired = this.cuts.filter((cut) => cut.untilTick <= now);
    this.cuts = this.cuts.filter((cut) => cut.untilTick > now);
    return expired;
  }

  healAll(): void {
    this.cuts = [];
  }

  get activeCuts(): readonly LinkCut[] {
    return this.cuts;
  }
}
