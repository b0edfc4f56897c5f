import { BugIndicatingError } from "../../src/lib/assert.js";
import { Prng } from "../../src/lib/prng.js";
import type { RaftConfig } from "../../src/raft/core/config.js";
import { raftConfig } from "../../src/raft/core/config.js";
import type { Ready } from "../../src/raft/core/ready.js";
import type { ConfChange, Entry, Message, ReplicaId, Snapshot } from "../../src/raft/core/types.js";
import { SafetyMonitor, checkAckedWrites, checkHistory } from "./checkers.js";
import type { FaultCluster } from "./faults.js";
import { FaultInjector, formatFaultPlan } from "./faults.js";
import type { ApplyOutcome } from "./kv-state-machine.js";
import { formatConf } from "./kv-state-machine.js";
import type { MembershipCandidates } from "./membership.js";
import { SimClock } from "./sim-clock.js";
import { simLimits } from "./sim-limits.js";
import { SimNetwork } from "./sim-network.js";
import type { SimOptions } from "./sim-options.js";
import type { ReplicaHooks } from "./sim-replica.js";
import { SimReplica } from "./sim-replica.js";
import { Trace } from "./trace.js";
import type { Violation, ViolationKind } from "./violation.js";
import { formatViolation } from "./violation.js";
import type { WorkloadCluster } from "./workload.js";
import { Workload } from "./workload.js";

export interface SimStats {
  readonly ticks: number;
  readonly commitIndexMax: number;
  readonly leadersElected: number;
  readonly writesAcked: number;
  readonly readsServed: number;
  readonly timeouts: number;
  readonly faultEvents: number;
  readonly messagesSent: number;
}

export interface SimResult {
  readonly seed: number;
  readonly replicas: number;
  readonly violations: readonly Violation[];
  readonly violationCount: number;
  readonly trace: string;
  readonly stats: SimStats;
}

/** How often the durable logs are compared pairwise, and the trace gets a progress line. */
const logMatchingEveryTicks = 50;
const summaryEveryTicks = 250;
/** The key the liveness probe writes; clients use k0, k1, ... */
const probeKey = "live";

/** Runs one seeded simulation to the end and reports what its checkers found. */
export function runSimulation(options: SimOptions): SimResult {
  return new Simulation(options).run();
}

/**
 * The whole cluster in one deterministic loop. Each tick: faults act, due messages arrive,
 * every replica ticks, clients act, every replica handles its Readies, and the monitor looks
 * at everybody. After the fault phase everything heals and the run must make progress again.
 */
class Simulation implements ReplicaHooks, FaultCluster, WorkloadCluster {
  readonly clock = new SimClock();
  readonly network: SimNetwork;
  private readonly pool: SimReplica[] = [];
  private readonly monitor: SafetyMonitor;
  private readonly workload: Workload;
  private readonly faults: FaultInjector;
  private readonly log: Trace;
  private readonly raftPrng: Prng;
  private readonly driftPrng: Prng;
  private readonly tracedConfIndexes = new Set<number>();
  private leadersElected = 0;
  private crashed = false;

  constructor(private readonly options: SimOptions) {
    const root = new Prng(options.seed);
    this.log = new Trace(() => this.clock.tick);
    this.network = new SimNetwork(root.fork());
    this.raftPrng = root.fork();
    const diskPrng = root.fork();
    this.monitor = new SafetyMonitor(() => this.clock.tick, 2 * options.electionTimeoutTicks);
    const initial = Array.from({ length: options.replicas }, (_, i) => `r${i + 1}`);
    const spares = Array.from({ length: simLimits.spareReplicas }, (_, i) => `r${options.replicas + i + 1}`);
    const settings = {
      snapshotEveryEntries: options.snapshotEveryEntries,
      snapshotKeepEntries: options.snapshotKeepEntries,
      raftConfig: (id: ReplicaId) => this.raftConfigFor(id),
    };
    for (const id of initial) this.pool.push(new SimReplica(id, initial, settings, this, diskPrng.fork()));
    // A spare starts empty and learns the membership from the leader's log or snapshot.
    for (const id of spares) this.pool.push(new SimReplica(id, null, settings, this, diskPrng.fork()));
    const workloadSettings = {
      clients: options.clients,
      keys: options.keys,
      opTimeoutTicks: options.opTimeoutTicks,
      thinkTicksMax: 10,
      readRetryTicks: 40,
      unsafeLocalReads: options.unsafeLocalReads,
    };
    this.workload = new Workload(workloadSettings, this, root.fork());
    this.faults = new FaultInjector(options.faultMix, this, root.fork());
    this.driftPrng = root.fork();
  }

  private raftConfigFor(id: ReplicaId): RaftConfig {
    const o = this.options;
    return raftConfig({
      id,
      random: this.raftPrng.fork(),
      electionTimeoutTicks: o.electionTimeoutTicks,
      heartbeatIntervalTicks: o.heartbeatIntervalTicks,
      preVote: true,
      checkQuorum: true,
      readOnly: o.readOnly,
      lazyCommitBroadcast: o.lazyCommitBroadcast,
      bugs: o.bugs,
      ...(o.messageBytesMax !== null ? { messageBytesMax: o.messageBytesMax } : {}),
    });
  }

  run(): SimResult {
    const o = this.options;
    const bugs = Object.keys(o.bugs).filter((k) => o.bugs[k as keyof typeof o.bugs] === true);
    const extras = [
      o.readOnly === "lease" ? "lease reads" : "",
      o.lazyCommitBroadcast ? "lazy commit broadcast" : "",
      o.unsafeLocalReads ? "UNSAFE local reads" : "",
      bugs.length > 0 ? `deliberate bugs: ${bugs.join(",")}` : "",
    ].filter((x) => x !== "");
    this.trace(
      `seed ${o.seed}: ${o.replicas} replicas + ${simLimits.spareReplicas} spare, ${o.clients} clients, ${o.faultTicks} fault ticks${extras.map((x) => `, ${x}`).join("")}`,
    );
    this.trace(formatFaultPlan(this.faults.plan));
    try {
      for (const replica of this.pool.slice(0, o.replicas)) replica.start();
      this.runPhases();
    } catch (error) {
      this.crashed = true;
      const what = error instanceof BugIndicatingError ? "assertion" : "exception";
      const text =
        error instanceof Error
          ? `${error.message}\n${(error.stack ?? "").split("\n").slice(1, 6).join("\n")}`
          : String(error);
      this.report("core-assert", `${what}: ${text}`);
    }
    if (!this.crashed) this.finalChecks();
    for (const v of this.monitor.violations) this.log.log(formatViolation(v));
    this.trace(`end: ${this.monitor.violationCount} violation(s)`);
    return {
      seed: o.seed,
      replicas: o.replicas,
      violations: this.monitor.violations,
      violationCount: this.monitor.violationCount,
      trace: this.log.text(),
      stats: this.stats(),
    };
  }

  private runPhases(): void {
    const o = this.options;
    while (this.clock.tick < o.faultTicks) this.step();
    this.faults.healAll();
    this.workload.startProbe(probeKey);
    const healedAt = this.clock.tick;
    while (this.workload.probeAck() === undefined && this.clock.tick - healedAt < o.livenessTicksMax) this.step();
    const ack = this.workload.probeAck();
    if (ack === undefined) {
      this.report(
        "liveness",
        `no write committed within ${o.livenessTicksMax} ticks of healing (${this.describeLeaders()})`,
      );
      return;
    }
    this.trace(
      `liveness: probe write committed at index ${ack.index}, ${ack.ackedAtTick - healedAt} ticks after healing`,
    );
    this.workload.stopIssuing();
    const settleFrom = this.clock.tick;
    while (this.laggingMembers().length > 0 && this.clock.tick - settleFrom < o.settleTicksMax) this.step();
    const lagging = this.laggingMembers();
    if (lagging.length > 0)
      this.report("liveness", `members not caught up ${o.settleTicksMax} ticks after the probe: ${lagging.join("; ")}`);
  }

  private step(): void {
    this.clock.advance();
    const now = this.clock.tick;
    this.faults.tick();
    this.deliver(now);
    for (const replica of this.pool) if (replica.isUp) this.tickReplica(replica);
    this.workload.tick();
    for (const replica of this.pool) if (replica.isUp) replica.handleReadies(now);
    for (const replica of this.pool) if (replica.isUp) replica.checkInvariants();
    for (const { id, term } of this.monitor.observeReplicas(this.pool)) {
      this.leadersElected++;
      this.trace(`${id} leads term ${term}`);
    }
    if (now % logMatchingEveryTicks === 0) this.monitor.checkLogMatching(this.pool);
    if (now % summaryEveryTicks === 0) this.trace(this.summary());
  }

  /** A drifting clock sometimes skips a tick (slow) or ticks twice (fast). */
  private tickReplica(replica: SimReplica): void {
    const drift = replica.clockDrift;
    if (drift < 0 && this.driftPrng.chance(-drift)) return;
    replica.tick();
    if (drift > 0 && this.driftPrng.chance(drift)) replica.tick();
  }

  private deliver(now: number): void {
    for (const d of this.network.takeDue(now)) {
      const to = this.byId(d.message.to);
      const delivered = d.outcome === "deliver" && to !== undefined && to.isUp;
      if (delivered) to.step(d.message);
      const sender = this.byId(d.message.from);
      if (sender === undefined || !sender.isUp || sender.incarnation !== d.senderIncarnation) continue;
      // The sender's transport notices a dead connection, but not a message lost on the wire.
      if (!delivered && d.outcome !== "lost") sender.reportUnreachable(d.message.to);
      if (d.reportsSnapshot) sender.reportSnapshot(d.message.to, delivered);
    }
  }

  private finalChecks(): void {
    this.monitor.checkLogMatching(this.pool);
    const checked = checkAckedWrites(this.workload.acked, this.pool, (kind, message) => this.report(kind, message));
    const verdict = checkHistory(this.workload.history, (kind, message) => this.report(kind, message));
    const history = this.workload.history;
    const unknown = history.filter((e) => e.returnedAt === null).length;
    this.trace(
      `acked writes checked on ${checked} caught-up replica(s); history of ${history.length} operations (${unknown} without response): ${verdict}`,
    );
    this.trace(`final ${this.summary()}`);
  }

  /** Members of the leader's configuration that are down or behind the last acknowledged write. */
  private laggingMembers(): string[] {
    const leader = this.leader();
    const status = leader?.status();
    if (leader === null || status === null || status === undefined) return ["no leader"];
    const ackedIndexMax = this.workload.acked.reduce((max, ack) => Math.max(max, ack.index), 0);
    const lagging: string[] = [];
    for (const id of [...status.conf.voters, ...status.conf.learners].sort()) {
      const replica = this.byId(id);
      if (replica === undefined || !replica.isUp) lagging.push(`${id} down`);
      else if (replica.sm.applied < ackedIndexMax)
        lagging.push(`${id} applied ${replica.sm.applied} < ${ackedIndexMax}`);
    }
    return lagging;
  }

  private describeLeaders(): string {
    return this.pool
      .map((r) => {
        const s = r.status();
        return s === null
          ? `${r.id} ${r.state}`
          : `${r.id} ${s.role} term ${s.term} commit ${s.commit} last ${s.lastIndex} ${formatConf(s.conf)}`;
      })
      .join("; ");
  }

  private summary(): string {
    const leader = this.leader();
    const status = leader?.status();
    const leaderText = status
      ? `leader ${status.id} term ${status.term} commit ${status.commit} ${formatConf(status.conf)}`
      : "no leader";
    const w = this.workload;
    const n = this.network;
    return `summary: ${leaderText}; applied max ${this.monitor.appliedIndexMax}; writes acked ${w.writesAcked}, retried ${w.writesRetried}; reads ${w.readsServed}; timeouts ${w.timeouts}; messages ${n.sent} sent, ${n.dropped} dropped, ${n.duplicated} duplicated`;
  }

  private stats(): SimStats {
    return {
      ticks: this.clock.tick,
      commitIndexMax: this.monitor.appliedIndexMax,
      leadersElected: this.leadersElected,
      writesAcked: this.workload.writesAcked,
      readsServed: this.workload.readsServed,
      timeouts: this.workload.timeouts,
      faultEvents: this.faults.events,
      messagesSent: this.network.sent,
    };
  }

  private byId(id: ReplicaId): SimReplica | undefined {
    return this.pool.find((r) => r.id === id);
  }

  private report(kind: ViolationKind, message: string): void {
    this.monitor.report(kind, message);
  }

  // ---- FaultCluster and WorkloadCluster

  trace(line: string): void {
    this.log.log(line);
  }

  replicas(): readonly SimReplica[] {
    return this.pool;
  }

  replica(id: ReplicaId): SimReplica | undefined {
    return this.byId(id);
  }

  addressBook(): readonly SimReplica[] {
    return this.pool.filter((r) => r.state !== "not-started");
  }

  leader(): SimReplica | null {
    let best: SimReplica | null = null;
    let bestTerm = -1;
    for (const replica of this.pool) {
      const status = replica.status();
      if (status === null || status.role !== "leader" || status.term <= bestTerm) continue;
      best = replica;
      bestTerm = status.term;
    }
    return best;
  }

  crash(replica: SimReplica): void {
    replica.crash();
    this.workload.onReplicaDown(replica);
  }

  restart(replica: SimReplica): void {
    replica.start();
    const storage = replica.disk.storage;
    const hs = storage.persistedHardState();
    this.trace(
      `restart ${replica.id} from disk: term ${hs.term}, commit ${hs.commit}, snapshot ${storage.snapshot().meta.index}, last index ${storage.lastIndex()}`,
    );
  }

  membershipCandidates(): MembershipCandidates {
    return { pool: this.pool.map((r) => r.id) };
  }

  proposeMembership(leader: SimReplica, change: ConfChange): void {
    const target = this.byId(change.replica);
    if (change.type === "add-learner" && target !== undefined && target.state === "not-started") {
      target.start();
      this.trace(`start ${target.id} with an empty disk, to join`);
    }
    const result = leader.proposeConfigChange(change);
    const outcome = result.ok ? `index ${result.index}` : `refused (${result.error})`;
    this.trace(`propose ${change.type} ${change.replica} on ${leader.id}: ${outcome}`);
  }

  // ---- ReplicaHooks

  persisted(replica: SimReplica, ready: Ready, term: number): void {
    this.monitor.onPersisted(replica, ready, term);
  }

  send(replica: SimReplica, messages: readonly Message[]): void {
    this.monitor.observeSent(messages);
    for (const m of messages) this.network.send(m, this.clock.tick, replica.incarnation);
  }

  applying(replica: SimReplica, entry: Entry): void {
    this.monitor.onApplying(replica, entry);
  }

  applied(replica: SimReplica, entry: Entry, _outcome: ApplyOutcome, change: ConfChange | null): void {
    this.workload.onApplied(replica, entry);
    // The bootstrap entries (add-voter) are the same in every run; the trace skips them.
    if (change === null || change.type === "add-voter" || this.tracedConfIndexes.has(entry.index)) return;
    this.tracedConfIndexes.add(entry.index);
    this.trace(
      `conf change ${change.type} ${change.replica} applied at index ${entry.index} (first by ${replica.id}): ${formatConf(replica.sm.conf)}`,
    );
  }

  snapshotRestored(replica: SimReplica, snapshot: Snapshot): void {
    this.trace(
      `${replica.id} installs snapshot at index ${snapshot.meta.index} term ${snapshot.meta.term} (${formatConf(snapshot.meta.conf)})`,
    );
    this.monitor.onSnapshotRestored(replica, snapshot);
    this.workload.onSnapshotRestored(replica, snapshot);
  }

  readReady(replica: SimReplica, context: string): void {
    this.workload.onReadReady(replica, context);
  }

  violation(kind: ViolationKind, message: string): void {
    this.report(kind, message);
  }
}
