/**
 * A small in-memory cluster of RawNodes for the scenario scripts. Each replica has a
 * MemoryLogStorage as its disk, which holds only what earlier Readies persisted, and an inbox
 * of messages in flight to it. Nothing moves unless a command says so: ticks, Ready handling and
 * message delivery are all explicit, and randomness comes from one seeded Prng.
 *
 * Besides driving the core, the cluster checks it: invariants after every input, the applied
 * entries of all replicas against each other, one leader per term, and the configuration the
 * core applied against one recomputed here from the committed conf-change entries.
 */
import { Prng } from "../../../src/lib/prng.js";
import { raftConfig } from "../../../src/raft/core/config.js";
import type { DeliberateBugs, RaftConfig } from "../../../src/raft/core/config.js";
import { decodeConfChange } from "../../../src/raft/core/conf-change-codec.js";
import type { MemoryLogStorage } from "../../../src/raft/core/log-storage.js";
import { RawNode } from "../../../src/raft/core/raw-node.js";
import type { Ready } from "../../../src/raft/core/ready.js";
import type { ConfState, Entry, Message, ReplicaId } from "../../../src/raft/core/types.js";
import { formatConf, formatEntry, formatMessage, formatReady } from "./format.js";

export interface ReplicaOptions {
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly readOnly: "safe" | "lease";
  /** Overrides the append payload limit; 1 sends one entry per append. */
  readonly messageBytesMax: number | undefined;
  /** Deliberate bugs of the core, for scripts that show the cluster's safety checks at work. */
  readonly bugs: DeliberateBugs;
}

interface Replica {
  readonly id: ReplicaId;
  readonly options: ReplicaOptions;
  readonly disk: MemoryLogStorage;
  /** Undefined while crashed. */
  node: RawNode | undefined;
  inbox: Message[];
  /** Index of the last entry (or snapshot) this replica's state machine applied. */
  appliedIndex: number;
  /** The configuration after each applied change, recomputed here as an oracle for the core's. */
  confHistory: { index: number; conf: ConfState }[];
}

export interface DeliveryFilter {
  readonly from?: ReplicaId;
  readonly type?: Message["type"];
}

/** Rounds of Ready handling and delivery before `stabilize` gives up on a cluster that never goes quiet. */
const stabilizeRoundsMax = 200;
/** Ticks `campaign` waits for a replica to start an election: well beyond twice the election timeout. */
const campaignTicksMax = 1_000;

export class Cluster {
  private readonly replicas = new Map<ReplicaId, Replica>();
  private prng: Prng;
  private seeded = false;
  /** Partition groups; a message between replicas of different groups is dropped. Empty when healed. */
  private groups: ReplicaId[][] = [];
  /** Cluster-wide record of what was applied at each index, to catch divergent state machines. */
  private readonly appliedByIndex = new Map<number, string>();
  private readonly leaderByTerm = new Map<number, ReplicaId>();
  /** Lines printed by the commands since the last drain. */
  private out: string[] = [];

  constructor(seed: number) {
    this.prng = new Prng(seed);
  }

  drainOutput(): string[] {
    const lines = this.out;
    this.out = [];
    return lines;
  }

  print(...lines: string[]): void {
    this.out.push(...lines);
  }

  ids(): ReplicaId[] {
    return [...this.replicas.keys()];
  }

  has(id: ReplicaId): boolean {
    return this.replicas.has(id);
  }

  /** Reseeds the cluster's randomness; only before the first replica exists, so a script replays. */
  reseed(seed: number): void {
    if (this.seeded || this.replicas.size > 0) throw new Error("seed= is allowed only on the first add-nodes");
    this.prng = new Prng(seed);
    this.seeded = true;
  }

  /**
   * Adds a replica whose disk starts as `disk`: a fixed membership in the index-0 snapshot
   * (`new MemoryLogStorage(conf)`), a new cluster's bootstrap log (`MemoryLogStorage.bootstrap`),
   * or an empty disk for a replica that joins a running cluster.
   */
  addReplica(id: ReplicaId, disk: MemoryLogStorage, options: ReplicaOptions): void {
    if (this.replicas.has(id)) throw new Error(`${id} already exists`);
    const replica: Replica = { id, options, disk, node: undefined, inbox: [], appliedIndex: 0, confHistory: [] };
    this.replicas.set(id, replica);
    this.start(replica);
  }

  /** The RawNode of a running replica; throws (a script error) when it is down. */
  node(id: ReplicaId): RawNode {
    const node = this.replica(id).node;
    if (node === undefined) throw new Error(`${id} is down`);
    return node;
  }

  isUp(id: ReplicaId): boolean {
    return this.replica(id).node !== undefined;
  }

  disk(id: ReplicaId): MemoryLogStorage {
    return this.replica(id).disk;
  }

  inbox(id: ReplicaId): readonly Message[] {
    return this.replica(id).inbox;
  }

  /** Loses everything not yet persisted, and every message in flight to the replica. */
  crash(id: ReplicaId): void {
    const replica = this.replica(id);
    if (replica.node === undefined) throw new Error(`${id} is already down`);
    replica.node = undefined;
    replica.inbox = [];
  }

  restart(id: ReplicaId): void {
    const replica = this.replica(id);
    if (replica.node !== undefined) throw new Error(`${id} is running; crash it first`);
    this.start(replica);
  }

  partition(groups: ReplicaId[][]): void {
    for (const id of groups.flat()) this.replica(id);
    const listed = new Set(groups.flat());
    const rest = this.ids().filter((id) => !listed.has(id));
    this.groups = rest.length > 0 ? [...groups, rest] : groups;
  }

  heal(): void {
    this.groups = [];
  }

  /** Runs `input` on the replica and checks its invariants; a broken one is a crash, as in production. */
  guard(id: ReplicaId, input: (node: RawNode) => void): void {
    const node = this.node(id);
    try {
      input(node);
      node.checkInvariants();
    } catch (error) {
      this.print(`ERROR ${id}: ${error instanceof Error ? error.message : String(error)} (replica crashed)`);
      this.crash(id);
    }
  }

  tick(ids: readonly ReplicaId[], ticks: number): void {
    for (let i = 0; i < ticks; i++) {
      for (const id of ids) if (this.isUp(id)) this.guard(id, (node) => node.tick());
    }
  }

  /**
   * Ticks only `id` until it starts an election (a pre-vote or a vote); returns the ticks it took.
   * Works from a follower or a pre-candidate whose election is stuck. The replica must have no
   * pending Ready, so the first one that appears is the campaign's.
   */
  campaign(id: ReplicaId): number {
    const node = this.node(id);
    if (node.status().role === "leader") throw new Error(`${id} is the leader`);
    if (node.hasReady()) throw new Error(`${id} has a pending Ready; process it first`);
    for (let ticks = 1; ticks <= campaignTicksMax; ticks++) {
      this.tick([id], 1);
      if (!this.isUp(id) || this.node(id).hasReady()) return ticks;
    }
    throw new Error(`${id} did not campaign within ${campaignTicksMax} ticks`);
  }

  /** Handles one Ready: persist, send, apply, advance, in that order. */
  processReady(id: ReplicaId): void {
    const replica = this.replica(id);
    this.guard(id, (node) => {
      const rd = node.ready();
      this.print(...formatReady(id, rd));
      this.checkLeader(id, node, rd);
      if (rd.snapshot !== null) replica.disk.applySnapshot(rd.snapshot);
      replica.disk.append(rd.entries);
      if (rd.hardState !== null) replica.disk.setHardState(rd.hardState);
      for (const m of rd.messages) this.send(m);
      this.apply(replica, rd);
      node.advance(rd);
      this.checkConf(replica, node);
    });
  }

  /** Delivers (or drops) the messages in `id`'s inbox that match `filter`, in the order they were sent. */
  deliver(id: ReplicaId, filter: DeliveryFilter, options: { drop: boolean; echo: boolean }): number {
    const replica = this.replica(id);
    const matches = (m: Message): boolean =>
      (filter.from === undefined || m.from === filter.from) && (filter.type === undefined || m.type === filter.type);
    const batch = replica.inbox.filter(matches);
    replica.inbox = replica.inbox.filter((m) => !matches(m));
    for (const m of batch) {
      const reason = options.drop ? "dropped" : this.dropReason(m);
      if (reason !== undefined) {
        this.print(`dropped ${formatMessage(m)} (${reason})`);
        continue;
      }
      if (options.echo) this.print(formatMessage(m));
      if (this.isUp(id)) this.guard(id, (node) => node.step(m));
    }
    return batch.length;
  }

  /** Handles Readies and delivers messages among `ids` until nothing moves. */
  stabilize(ids: readonly ReplicaId[]): void {
    for (let round = 0; round < stabilizeRoundsMax; round++) {
      let moved = false;
      for (const id of ids) {
        if (!this.isUp(id) || !this.node(id).hasReady()) continue;
        this.processReady(id);
        moved = true;
      }
      for (const id of ids) {
        if (this.replica(id).inbox.length === 0) continue;
        this.deliver(id, {}, { drop: false, echo: false });
        moved = true;
      }
      if (!moved) return;
    }
    throw new Error(`cluster did not stabilize within ${stabilizeRoundsMax} rounds`);
  }

  /** The configuration as of log index `index`, recomputed from applied conf changes. */
  confAt(id: ReplicaId, index: number): ConfState {
    const history = this.replica(id).confHistory;
    let conf = history[0].conf;
    for (const record of history) if (record.index <= index) conf = record.conf;
    return conf;
  }

  appliedIndex(id: ReplicaId): number {
    return this.replica(id).appliedIndex;
  }

  private replica(id: ReplicaId): Replica {
    const replica = this.replicas.get(id);
    if (replica === undefined) throw new Error(`unknown replica ${id}`);
    return replica;
  }

  private start(replica: Replica): void {
    const snapshot = replica.disk.snapshot();
    replica.appliedIndex = snapshot.meta.index;
    replica.confHistory = [{ index: snapshot.meta.index, conf: snapshot.meta.conf }];
    replica.node = new RawNode(this.config(replica), replica.disk);
  }

  private config(replica: Replica): RaftConfig {
    const { options } = replica;
    return raftConfig({
      id: replica.id,
      random: this.prng.fork(),
      preVote: options.preVote,
      checkQuorum: options.checkQuorum,
      readOnly: options.readOnly,
      bugs: options.bugs,
      ...(options.messageBytesMax === undefined ? {} : { messageBytesMax: options.messageBytesMax }),
    });
  }

  private send(m: Message): void {
    const target = this.replicas.get(m.to);
    if (target === undefined) {
      this.print(`dropped ${formatMessage(m)} (no such replica)`);
      return;
    }
    // A message sent across a partition or to a crashed replica is lost at once; one already in
    // flight when the partition or crash happens is lost when it would be delivered.
    const reason = this.dropReason(m);
    if (reason !== undefined) this.print(`dropped ${formatMessage(m)} (${reason})`);
    else target.inbox.push(m);
  }

  private dropReason(m: Message): string | undefined {
    if (!this.isUp(m.to)) return `${m.to} down`;
    if (this.groups.length === 0) return undefined;
    const groupOf = (id: ReplicaId): number => this.groups.findIndex((g) => g.includes(id));
    return groupOf(m.from) === groupOf(m.to) ? undefined : "partition";
  }

  private apply(replica: Replica, rd: Ready): void {
    if (rd.snapshot !== null) {
      replica.appliedIndex = rd.snapshot.meta.index;
      replica.confHistory.push({ index: rd.snapshot.meta.index, conf: rd.snapshot.meta.conf });
    }
    for (const entry of rd.committedEntries) {
      if (entry.index !== replica.appliedIndex + 1) {
        this.print(`ERROR ${replica.id}: applies ${formatEntry(entry)} after ${replica.appliedIndex}`);
      }
      replica.appliedIndex = entry.index;
      this.checkApplied(replica.id, entry);
      if (entry.type === "conf-change") this.recordConfChange(replica, entry);
    }
  }

  private checkApplied(id: ReplicaId, entry: Entry): void {
    const text = formatEntry(entry);
    const before = this.appliedByIndex.get(entry.index);
    if (before === undefined) this.appliedByIndex.set(entry.index, text);
    else if (before !== text) this.print(`SAFETY ${id}: applied ${text} where another replica applied ${before}`);
  }

  /** Applies a conf change to the harness's own copy of the configuration (the oracle). */
  private recordConfChange(replica: Replica, entry: Entry): void {
    const change = decodeConfChange(entry.data);
    const last = replica.confHistory[replica.confHistory.length - 1].conf;
    if (change === undefined) {
      this.print(`ERROR ${replica.id}: undecodable conf change at ${entry.index}`);
      return;
    }
    const voters = last.voters.filter((id) => id !== change.replica);
    const learners = last.learners.filter((id) => id !== change.replica);
    const addsVoter = change.type === "add-voter" || change.type === "promote-learner";
    if (addsVoter || (change.type === "add-learner" && last.voters.includes(change.replica))) {
      voters.push(change.replica);
    } else if (change.type === "add-learner") {
      learners.push(change.replica);
    }
    replica.confHistory.push({ index: entry.index, conf: { voters, learners } });
  }

  private checkConf(replica: Replica, node: RawNode): void {
    const expected = replica.confHistory[replica.confHistory.length - 1].conf;
    const actual = node.status().conf;
    const same = (a: readonly string[], b: readonly string[]): boolean => [...a].sort().join() === [...b].sort().join();
    if (!same(expected.voters, actual.voters) || !same(expected.learners, actual.learners)) {
      this.print(
        `ERROR ${replica.id}: core has ${formatConf(actual)} but the applied log says ${formatConf(expected)}`,
      );
    }
  }

  private checkLeader(id: ReplicaId, node: RawNode, rd: Ready): void {
    if (rd.softState === null || rd.softState.role !== "leader") return;
    const term = node.status().term;
    const other = this.leaderByTerm.get(term);
    if (other !== undefined && other !== id) this.print(`SAFETY ${id}: second leader of term ${term} (after ${other})`);
    this.leaderByTerm.set(term, id);
  }
}
