import { assert } from "../../src/lib/assert.js";
import type { MemoryLogStorage } from "../../src/raft/core/log-storage.js";
import type { Ready } from "../../src/raft/core/ready.js";
import type { Entry, Message, ReplicaId, Snapshot } from "../../src/raft/core/types.js";
import type { HistoryEvent } from "./linearizability.js";
import { checkLinearizable } from "./linearizability.js";
import { simLimits } from "./sim-limits.js";
import type { SimReplica } from "./sim-replica.js";
import type { Violation, ViolationKind } from "./violation.js";
import type { AckedWrite } from "./workload.js";

/** Messages only a leader sends: seeing one from X in term T means X led term T. */
const leaderOnlyMessages = new Set<Message["type"]>(["append", "heartbeat", "snapshot", "timeout-now"]);

/**
 * Watches the run for broken Raft safety properties as it happens: Election Safety, Log
 * Matching (every persisted entry against every other with its index and term), Leader
 * Completeness (a new leader's durable log against what earlier terms committed), State Machine
 * Safety (every apply against the first apply of that index anywhere), and a removed leader
 * that keeps leading.
 */
export class SafetyMonitor {
  readonly violations: Violation[] = [];
  violationCount = 0;
  private readonly leaderByTerm = new Map<number, ReplicaId>();
  /** The first entry persisted anywhere with a given index and term. */
  private readonly entryByIndexTerm = new Map<string, Entry>();
  /** The first entry applied anywhere at an index. */
  private readonly appliedByIndex = new Map<number, Entry>();
  appliedIndexMax = 0;
  /** Highest commit index seen at each term: entries up to it were committed in that term or before. */
  private readonly commitAtTerm = new Map<number, number>();
  /** Leaders already announced in the trace, as "id:term". */
  private readonly announcedLeaders = new Set<string>();
  /** Since when a replica has led without being a voter of its own configuration. */
  private readonly removedLeaderSince = new Map<ReplicaId, number>();

  constructor(
    private readonly tickNow: () => number,
    private readonly removedLeaderGraceTicks: number,
  ) {}

  report(kind: ViolationKind, message: string): void {
    this.violationCount++;
    if (this.violations.length < simLimits.violationsPerRunMax)
      this.violations.push({ kind, tick: this.tickNow(), message });
  }

  observeLeader(id: ReplicaId, term: number, evidence: string): void {
    const known = this.leaderByTerm.get(term);
    if (known === undefined) this.leaderByTerm.set(term, id);
    else if (known !== id)
      this.report("election-safety", `term ${term} has two leaders: ${known} and ${id} (${evidence})`);
  }

  leaderOfTerm(term: number): ReplicaId | undefined {
    return this.leaderByTerm.get(term);
  }

  observeSent(messages: readonly Message[]): void {
    for (const m of messages) {
      if (leaderOnlyMessages.has(m.type)) this.observeLeader(m.from, m.term, `${m.from} sent ${m.type} to ${m.to}`);
    }
  }

  observeCommit(term: number, commit: number): void {
    if (commit > (this.commitAtTerm.get(term) ?? 0)) this.commitAtTerm.set(term, commit);
  }

  onPersisted(replica: SimReplica, ready: Ready, term: number): void {
    for (const entry of ready.entries) {
      const key = `${entry.index}:${entry.term}`;
      const first = this.entryByIndexTerm.get(key);
      if (first === undefined) this.entryByIndexTerm.set(key, entry);
      else if (!sameEntry(first, entry))
        this.report(
          "log-matching",
          `${replica.id} persisted a different entry at index ${entry.index} term ${entry.term}`,
        );
    }
    if (ready.hardState !== null) this.observeCommit(ready.hardState.term, ready.hardState.commit);
    if (ready.softState?.role === "leader") this.checkLeaderComplete(replica, term);
  }

  /** Leader Completeness: everything committed before `term` and applied somewhere is in the new leader's durable log. */
  private checkLeaderComplete(replica: SimReplica, term: number): void {
    let committedBefore = 0;
    for (const [t, commit] of this.commitAtTerm) if (t < term && commit > committedBefore) committedBefore = commit;
    const storage = replica.disk.storage;
    const snap = storage.snapshot().meta;
    const snapApplied = this.appliedByIndex.get(snap.index);
    if (snapApplied !== undefined && snapApplied.term !== snap.term) {
      this.report(
        "leader-completeness",
        `${replica.id} leads term ${term} from a snapshot at ${snap.index} of term ${snap.term}, but term ${snapApplied.term} was applied there`,
      );
    }
    for (let index = storage.firstIndex(); index <= committedBefore; index++) {
      const applied = this.appliedByIndex.get(index);
      if (applied === undefined) continue;
      if (index > storage.lastIndex()) {
        this.report(
          "leader-completeness",
          `${replica.id} leads term ${term} with last index ${storage.lastIndex()}, missing committed entry ${index} (term ${applied.term})`,
        );
        return;
      }
      const have = storage.term(index);
      if (have !== applied.term) {
        this.report(
          "leader-completeness",
          `${replica.id} leads term ${term} with term ${have} at index ${index}, where committed term ${applied.term} was applied`,
        );
        return;
      }
    }
  }

  /** Returns true the first time anybody applies this index. */
  onApplying(replica: SimReplica, entry: Entry): boolean {
    const first = this.appliedByIndex.get(entry.index);
    if (first === undefined) {
      this.appliedByIndex.set(entry.index, entry);
      if (entry.index > this.appliedIndexMax) this.appliedIndexMax = entry.index;
      return true;
    }
    if (!sameEntry(first, entry)) {
      this.report(
        "state-machine-safety",
        `${replica.id} applies term ${entry.term} at index ${entry.index}, where term ${first.term} was applied before${first.term === entry.term ? " (different data)" : ""}`,
      );
    }
    return false;
  }

  onSnapshotRestored(replica: SimReplica, snapshot: Snapshot): void {
    const applied = this.appliedByIndex.get(snapshot.meta.index);
    if (applied !== undefined && applied.term !== snapshot.meta.term) {
      this.report(
        "state-machine-safety",
        `${replica.id} installs a snapshot at ${snapshot.meta.index} of term ${snapshot.meta.term}, where term ${applied.term} was applied`,
      );
    }
  }

  /** Once per tick: who leads, what is committed, and whether a removed leader lingers. Returns new leaders. */
  observeReplicas(replicas: readonly SimReplica[]): { id: ReplicaId; term: number }[] {
    const newLeaders: { id: ReplicaId; term: number }[] = [];
    for (const replica of replicas) {
      const status = replica.status();
      if (status === null) continue;
      this.observeCommit(status.term, status.commit);
      if (status.role !== "leader") {
        this.removedLeaderSince.delete(replica.id);
        continue;
      }
      this.observeLeader(replica.id, status.term, `${replica.id} reports itself leader`);
      const key = `${replica.id}:${status.term}`;
      if (!this.announcedLeaders.has(key)) {
        this.announcedLeaders.add(key);
        newLeaders.push({ id: replica.id, term: status.term });
      }
      if (status.conf.voters.includes(replica.id)) {
        this.removedLeaderSince.delete(replica.id);
        continue;
      }
      const since = this.removedLeaderSince.get(replica.id) ?? this.tickNow();
      this.removedLeaderSince.set(replica.id, since);
      if (this.tickNow() - since === this.removedLeaderGraceTicks) {
        this.report(
          "removed-leader",
          `${replica.id} still leads term ${status.term} ${this.removedLeaderGraceTicks} ticks after leaving the voters`,
        );
      }
    }
    return newLeaders;
  }

  /** Log Matching over the durable logs: where two hold the same index and term, they agree up to it. */
  checkLogMatching(replicas: readonly SimReplica[]): void {
    const logs = replicas.filter((r) => r.state !== "not-started").map((r) => ({ id: r.id, storage: r.disk.storage }));
    for (let a = 0; a < logs.length; a++) {
      for (let b = a + 1; b < logs.length; b++)
        this.compareLogs(logs[a].id, logs[a].storage, logs[b].id, logs[b].storage);
    }
  }

  private compareLogs(idA: ReplicaId, a: MemoryLogStorage, idB: ReplicaId, b: MemoryLogStorage): void {
    const lo = Math.max(a.firstIndex(), b.firstIndex());
    const hi = Math.min(a.lastIndex(), b.lastIndex());
    let matchAt = 0;
    for (let index = hi; index >= lo; index--) {
      if (a.term(index) === b.term(index)) {
        matchAt = index;
        break;
      }
    }
    if (matchAt === 0) return;
    const entriesA = a.entries(lo, matchAt + 1, Number.MAX_SAFE_INTEGER);
    const entriesB = b.entries(lo, matchAt + 1, Number.MAX_SAFE_INTEGER);
    assert(entriesA.length === entriesB.length, "entries() stopped early without a byte limit");
    for (let i = 0; i < entriesA.length; i++) {
      if (sameEntry(entriesA[i], entriesB[i])) continue;
      this.report(
        "log-matching",
        `${idA} and ${idB} agree on index ${matchAt} term ${a.term(matchAt)} but differ at index ${entriesA[i].index} (terms ${entriesA[i].term} and ${entriesB[i].term})`,
      );
      return;
    }
  }
}

export function sameEntry(a: Entry, b: Entry): boolean {
  if (a === b) return true;
  if (a.index !== b.index || a.term !== b.term || a.type !== b.type) return false;
  if (a.data.byteLength !== b.data.byteLength) return false;
  for (let i = 0; i < a.data.byteLength; i++) if (a.data[i] !== b.data[i]) return false;
  return true;
}

/** Every acknowledged write must be in the state of every replica that has applied past it. */
export function checkAckedWrites(
  acked: readonly AckedWrite[],
  replicas: readonly SimReplica[],
  report: (kind: ViolationKind, message: string) => void,
): number {
  let checkedReplicas = 0;
  const ackedIndexMax = acked.reduce((max, ack) => Math.max(max, ack.index), 0);
  for (const replica of replicas) {
    if (!replica.isUp || replica.sm.applied < ackedIndexMax) continue;
    checkedReplicas++;
    for (const ack of acked) {
      if (replica.sm.hasApplied(ack.clientId, ack.seq)) continue;
      report(
        "lost-write",
        `${replica.id} (applied ${replica.sm.applied}) lacks write ${ack.key}=${ack.value} acknowledged at t=${ack.ackedAtTick} (index ${ack.index})`,
      );
      return checkedReplicas;
    }
  }
  return checkedReplicas;
}

export function checkHistory(
  history: readonly HistoryEvent[],
  report: (kind: ViolationKind, message: string) => void,
): string {
  const result = checkLinearizable(history, { stateBudgetMax: simLimits.linearizabilityStatesMax });
  if (result.ok === true) return "linearizable";
  if (result.ok === false) {
    report("linearizability", `key ${result.key}: ${result.explanation}`);
    return "not linearizable";
  }
  return `unknown (${result.reason})`;
}
