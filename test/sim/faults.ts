import { assert, assertNever } from "../../src/lib/assert.js";
import type { Prng } from "../../src/lib/prng.js";
import type { ConfChange, ReplicaId } from "../../src/raft/core/types.js";
import type { MembershipCandidates } from "./membership.js";
import { nextMembershipChange } from "./membership.js";
import type { SimClock } from "./sim-clock.js";
import { simLimits } from "./sim-limits.js";
import type { NetworkConditions, SimNetwork } from "./sim-network.js";
import type { FaultKind, FaultMix } from "./sim-options.js";
import { faultKinds } from "./sim-options.js";
import type { SimReplica } from "./sim-replica.js";

/** What the injector may do to the cluster; the simulation implements it. */
export interface FaultCluster {
  readonly clock: SimClock;
  readonly network: SimNetwork;
  /** The whole pool, in id order, whatever their state. */
  replicas(): readonly SimReplica[];
  /** The up replica leading in the highest term, if any. */
  leader(): SimReplica | null;
  crash(replica: SimReplica): void;
  restart(replica: SimReplica): void;
  membershipCandidates(): MembershipCandidates;
  /** Proposes a membership change on the leader (starting a spare first if it joins). */
  proposeMembership(leader: SimReplica, change: ConfChange): void;
  trace(line: string): void;
}

type ScheduledAction =
  | { readonly kind: "restart"; readonly replica: ReplicaId }
  | { readonly kind: "leader-lost"; readonly replica: ReplicaId; readonly incarnation: number }
  | { readonly kind: "disk-fast"; readonly replica: ReplicaId }
  | { readonly kind: "clock-exact"; readonly replica: ReplicaId }
  | { readonly kind: "network-calm" };

/** One seed's choice of faults: which kinds happen and how rough the network is at rest. */
export interface FaultPlan {
  readonly kinds: readonly FaultKind[];
  readonly calm: NetworkConditions;
}

export function drawFaultPlan(mix: FaultMix, prng: Prng): FaultPlan {
  const possible = faultKinds.filter((kind) => mix.weights[kind] > 0);
  let kinds = possible.filter(() => prng.chance(mix.kindEnabledChance));
  if (kinds.length === 0 && possible.length > 0) kinds = [prng.pick(possible)];
  const calm: NetworkConditions = {
    lossRate: prng.pick([0, 0, 0.01, 0.05, mix.lossRateMax / 2, mix.lossRateMax]),
    duplicateRate: prng.pick([0, 0.01, 0.05, mix.duplicateRateMax]),
    delayTicksMax: prng.pick([1, 2, 4, mix.delayTicksMax]),
    snapshotDelayTicksExtraMax: prng.pick([0, 5, 20]),
  };
  return { kinds, calm };
}

export function formatFaultPlan(plan: FaultPlan): string {
  const c = plan.calm;
  return `faults: ${plan.kinds.join(",") || "none"}; network loss=${c.lossRate} dup=${c.duplicateRate} delay=1..${c.delayTicksMax} snapshot+${c.snapshotDelayTicksExtraMax}`;
}

/**
 * Injects faults at random times, each drawn from the seeded Prng: partitions (symmetric,
 * one-way, asymmetric), crashes (the leader's especially, followed by its followers' true
 * connection-lost reports), slow disks, false connection-lost reports, leadership transfers,
 * membership changes and bursts of loss. Each fault heals itself after a while; healAll() ends
 * them all at once for the liveness check.
 */
export class FaultInjector {
  readonly plan: FaultPlan;
  private readonly scheduled = new Map<number, ScheduledAction[]>();
  private scheduledCount = 0;
  private active = true;
  /** Events injected, for the summary. */
  events = 0;

  constructor(
    private readonly mix: FaultMix,
    private readonly cluster: FaultCluster,
    private readonly prng: Prng,
  ) {
    this.plan = drawFaultPlan(mix, prng);
    cluster.network.conditions = { ...this.plan.calm };
  }

  tick(): void {
    const now = this.cluster.clock.tick;
    for (const cut of this.cluster.network.expireCuts(now)) this.cluster.trace(`heal ${cut.label}`);
    const due = this.scheduled.get(now) ?? [];
    this.scheduled.delete(now);
    this.scheduledCount -= due.length;
    for (const action of due) this.perform(action);
    if (!this.active || this.plan.kinds.length === 0) return;
    if (!this.prng.chance(1 / this.mix.eventIntervalTicksMean)) return;
    this.events++;
    this.inject(this.pickKind());
  }

  /** Ends every fault: links, loss, slow disks, crashed replicas. No new faults afterwards. */
  healAll(): void {
    this.active = false;
    this.scheduled.clear();
    this.scheduledCount = 0;
    this.cluster.network.healAll();
    this.cluster.network.conditions = {
      lossRate: 0,
      duplicateRate: 0,
      delayTicksMax: Math.min(2, this.mix.delayTicksMax),
      snapshotDelayTicksExtraMax: 0,
    };
    for (const replica of this.cluster.replicas()) {
      replica.disk.persistDelayTicksMax = 0;
      replica.clockDrift = 0;
      if (replica.state === "down") this.cluster.restart(replica);
    }
    this.cluster.trace("heal everything: no cuts, no loss, fast disks, every replica up");
  }

  private schedule(atTick: number, action: ScheduledAction): void {
    assert(this.scheduledCount < simLimits.scheduledActionsMax, "scheduled fault actions over their bound");
    const list = this.scheduled.get(atTick) ?? [];
    list.push(action);
    this.scheduled.set(atTick, list);
    this.scheduledCount++;
  }

  private pickKind(): FaultKind {
    const kinds = this.plan.kinds;
    const total = kinds.reduce((sum, kind) => sum + this.mix.weights[kind], 0);
    let roll = this.prng.nextFloat() * total;
    for (const kind of kinds) {
      roll -= this.mix.weights[kind];
      if (roll < 0) return kind;
    }
    return kinds[kinds.length - 1];
  }

  private byId(id: ReplicaId): SimReplica {
    const replica = this.cluster.replicas().find((r) => r.id === id);
    assert(replica !== undefined, `unknown replica ${id}`);
    return replica;
  }

  private perform(action: ScheduledAction): void {
    switch (action.kind) {
      case "restart": {
        const replica = this.byId(action.replica);
        if (replica.state === "down") this.cluster.restart(replica);
        return;
      }
      case "leader-lost": {
        const replica = this.byId(action.replica);
        if (!replica.isUp || replica.incarnation !== action.incarnation) return;
        this.cluster.trace(`${replica.id} told: connection to the leader lost`);
        replica.reportLeaderConnectionLost();
        return;
      }
      case "disk-fast":
        this.byId(action.replica).disk.persistDelayTicksMax = 0;
        this.cluster.trace(`disk of ${action.replica} fast again`);
        return;
      case "clock-exact":
        this.byId(action.replica).clockDrift = 0;
        this.cluster.trace(`clock of ${action.replica} exact again`);
        return;
      case "network-calm":
        this.cluster.network.conditions = { ...this.plan.calm };
        this.cluster.trace("network calm again");
        return;
      default:
        assertNever(action, "scheduled action");
    }
  }

  private inject(kind: FaultKind): void {
    switch (kind) {
      case "partition":
        return this.partition();
      case "one-way-cut":
        return this.oneWayCut();
      case "asymmetric":
        return this.asymmetric();
      case "crash":
        return this.crash(this.pickUp());
      case "crash-leader":
        return this.crash(this.cluster.leader());
      case "slow-disk":
        return this.slowDisk();
      case "false-leader-lost":
        return this.falseLeaderLost();
      case "transfer-leadership":
        return this.transferLeadership();
      case "membership":
        return this.membership();
      case "lossy-network":
        return this.lossyNetwork();
      case "clock-drift":
        return this.clockDrift();
      default:
        assertNever(kind, "fault kind");
    }
  }

  private started(): SimReplica[] {
    return this.cluster.replicas().filter((r) => r.state !== "not-started");
  }

  private pickUp(): SimReplica | null {
    const up = this.cluster.replicas().filter((r) => r.isUp);
    return up.length === 0 ? null : this.prng.pick(up);
  }

  private cutTicks(): number {
    return 10 + this.prng.nextInt(this.mix.cutTicksMax);
  }

  /** Splits the cluster in two, often with the leader on the minority side. */
  private partition(): void {
    const ids = this.started().map((r) => r.id);
    if (ids.length < 2) return;
    const leader = this.cluster.leader();
    const minoritySize = 1 + this.prng.nextInt(Math.floor(ids.length / 2));
    const shuffled = shuffle(ids, this.prng);
    if (leader !== null && this.prng.chance(0.5)) {
      shuffled.splice(shuffled.indexOf(leader.id), 1);
      shuffled.unshift(leader.id);
    }
    const side = shuffled.slice(0, minoritySize).sort();
    const rest = ids.filter((id) => !side.includes(id));
    const until = this.cluster.clock.tick + this.cutTicks();
    const label = `partition {${side.join(",")}} | {${rest.join(",")}}`;
    this.cluster.network.cut(side, rest, until, label, true);
    this.cluster.trace(`${label} until t=${until}`);
  }

  private oneWayCut(): void {
    const ids = this.started().map((r) => r.id);
    if (ids.length < 2) return;
    const leader = this.cluster.leader();
    const from = leader !== null && this.prng.chance(0.5) ? leader.id : this.prng.pick(ids);
    const to = this.prng.pick(ids.filter((id) => id !== from));
    const [a, b] = this.prng.chance(0.5) ? [from, to] : [to, from];
    const until = this.cluster.clock.tick + this.cutTicks();
    const label = `one-way cut ${a} -> ${b}`;
    this.cluster.network.cut([a], [b], until, label);
    this.cluster.trace(`${label} until t=${until}`);
  }

  /** One replica (often the leader) can only send, or only receive. */
  private asymmetric(): void {
    const ids = this.started().map((r) => r.id);
    if (ids.length < 2) return;
    const leader = this.cluster.leader();
    const victim = leader !== null && this.prng.chance(0.5) ? leader.id : this.prng.pick(ids);
    const others = ids.filter((id) => id !== victim);
    const until = this.cluster.clock.tick + this.cutTicks();
    const deaf = this.prng.chance(0.5);
    const label = deaf ? `${victim} cannot receive` : `${victim} cannot send`;
    if (deaf) this.cluster.network.cut(others, [victim], until, label);
    else this.cluster.network.cut([victim], others, until, label);
    this.cluster.trace(`${label} until t=${until}`);
  }

  /** Crashes a replica unless half the pool is down already; a crashed leader's followers hear of it. */
  private crash(victim: SimReplica | null): void {
    if (victim === null || !victim.isUp) return;
    const started = this.started();
    const down = started.filter((r) => r.state === "down").length;
    if (down + 1 > Math.floor(started.length / 2)) return;
    const wasLeader = victim.status()?.role === "leader";
    const followers = wasLeader
      ? started.filter((r) => r.isUp && r.id !== victim.id && r.status()?.leader === victim.id)
      : [];
    this.cluster.crash(victim);
    const now = this.cluster.clock.tick;
    const restartAt = now + 5 + this.prng.nextInt(this.mix.downTicksMax);
    this.schedule(restartAt, { kind: "restart", replica: victim.id });
    this.cluster.trace(`crash ${victim.id}${wasLeader ? " (the leader)" : ""}, restart at t=${restartAt}`);
    for (const follower of followers) {
      this.schedule(now + 1 + this.prng.nextInt(2), {
        kind: "leader-lost",
        replica: follower.id,
        incarnation: follower.incarnation,
      });
    }
  }

  private slowDisk(): void {
    const replica = this.pickUp();
    if (replica === null) return;
    replica.disk.persistDelayTicksMax = 1 + this.prng.nextInt(this.mix.persistDelayTicksMax);
    const until = this.cluster.clock.tick + 50 + this.prng.nextInt(350);
    this.schedule(until, { kind: "disk-fast", replica: replica.id });
    this.cluster.trace(
      `disk of ${replica.id} slow (0..${replica.disk.persistDelayTicksMax} ticks per write) until t=${until}`,
    );
  }

  /** The transport wrongly reports the leader gone to one follower: it costs an election at most. */
  private falseLeaderLost(): void {
    const followers = this.cluster.replicas().filter((r) => {
      const status = r.status();
      return status !== null && status.role === "follower" && status.leader !== "";
    });
    if (followers.length === 0) return;
    const follower = this.prng.pick(followers);
    this.cluster.trace(`${follower.id} told (falsely): connection to the leader lost`);
    follower.reportLeaderConnectionLost();
  }

  private transferLeadership(): void {
    const leader = this.cluster.leader();
    const status = leader?.status();
    if (leader === null || status === null || status === undefined) return;
    const others = status.conf.voters.filter((id) => id !== leader.id);
    if (others.length === 0) return;
    const to = this.prng.pick(others);
    this.cluster.trace(`transfer leadership ${leader.id} -> ${to}`);
    leader.transferLeadership(to);
  }

  private membership(): void {
    const leader = this.cluster.leader();
    const status = leader?.status();
    if (leader === null || status === null || status === undefined) return;
    const change = nextMembershipChange(status, this.cluster.membershipCandidates(), this.prng);
    if (change !== null) this.cluster.proposeMembership(leader, change);
  }

  private lossyNetwork(): void {
    const network = this.cluster.network;
    network.conditions = {
      ...network.conditions,
      lossRate: this.mix.lossRateMax,
      duplicateRate: this.mix.duplicateRateMax,
      delayTicksMax: this.mix.delayTicksMax,
    };
    const until = this.cluster.clock.tick + 50 + this.prng.nextInt(250);
    this.schedule(until, { kind: "network-calm" });
    this.cluster.trace(
      `lossy network (loss=${this.mix.lossRateMax}, dup=${this.mix.duplicateRateMax}) until t=${until}`,
    );
  }

  private clockDrift(): void {
    const started = this.started();
    if (started.length === 0 || this.mix.clockDriftMax === 0) return;
    const replica = this.prng.pick(started);
    replica.clockDrift = (this.prng.nextFloat() * 2 - 1) * this.mix.clockDriftMax;
    const until = this.cluster.clock.tick + 100 + this.prng.nextInt(400);
    this.schedule(until, { kind: "clock-exact", replica: replica.id });
    const percent = (replica.clockDrift * 100).toFixed(1);
    this.cluster.trace(
      `clock of ${replica.id} drifts ${replica.clockDrift >= 0 ? "+" : ""}${percent}% until t=${until}`,
    );
  }
}

function shuffle<T>(items: readonly T[], prng: Prng): T[] {
  const copy = items.slice();
  for (let i = copy.length - 1; i > 0; i--) {
    const j = prng.nextInt(i + 1);
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  return copy;
}
