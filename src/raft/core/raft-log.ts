import { assert } from "../../lib/assert.js";
import type { LogStorage } from "./log-storage.js";
import type { Entry, Snapshot } from "./types.js";
import { entryBytes } from "./types.js";
import { Unstable } from "./unstable.js";

/**
 * The replica's whole log: the durable part through LogStorage and the unstable tail in memory.
 * Invariants: applied <= committed <= lastIndex(); committed >= firstIndex() - 1.
 */
export class RaftLog {
  readonly storage: LogStorage;
  readonly unstable: Unstable;
  /** Highest index known to be committed by a quorum. */
  committed: number;
  /** Highest index handed to the application and acknowledged by advance(). */
  applied: number;

  constructor(storage: LogStorage, committed: number) {
    this.storage = storage;
    this.unstable = new Unstable(storage.lastIndex() + 1);
    // Entries kept behind the snapshot (for slow followers) are already in the state it restores.
    const snapshotIndex = storage.snapshot().meta.index;
    assert(committed >= snapshotIndex, `persisted commit ${committed} below the snapshot index ${snapshotIndex}`);
    assert(
      committed <= storage.lastIndex(),
      `persisted commit ${committed} beyond the persisted log ${storage.lastIndex()}`,
    );
    this.committed = committed;
    // A restart replays everything after the snapshot: state = snapshot + replay.
    this.applied = snapshotIndex;
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  /** Term of entry `index`, or undefined when it is compacted away or beyond the log. */
  term(index: number): number | undefined {
    if (index < this.firstIndex() - 1 || index > this.lastIndex()) return undefined;
    const unstableTerm = this.unstable.maybeTerm(index);
    if (unstableTerm !== undefined) return unstableTerm;
    return this.storage.term(index);
  }

  lastTerm(): number {
    const term = this.term(this.lastIndex());
    assert(term !== undefined, "last term unknown");
    return term;
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /** Entries from `lo` to the end, at most `bytesMax` (but at least one); undefined if `lo` is compacted. */
  entriesFrom(lo: number, bytesMax: number): Entry[] | undefined {
    if (lo > this.lastIndex()) return [];
    if (lo < this.firstIndex()) return undefined;
    return this.slice(lo, this.lastIndex() + 1, bytesMax);
  }

  slice(lo: number, hi: number, bytesMax: number): Entry[] {
    assert(lo >= this.firstIndex() && hi <= this.lastIndex() + 1 && lo <= hi, `log.slice(${lo}, ${hi}) out of range`);
    const result: Entry[] = [];
    const stableHi = Math.min(hi, this.unstable.offset);
    if (lo < stableHi) {
      for (const entry of this.storage.entries(lo, stableHi, bytesMax)) result.push(entry);
      if (result.length < stableHi - lo) return result;
    }
    const unstableLo = Math.max(lo, this.unstable.offset);
    if (unstableLo < hi) {
      let bytes = 0;
      for (const entry of result) bytes += entryBytes(entry);
      for (const entry of this.unstable.slice(unstableLo, hi)) {
        bytes += entryBytes(entry);
        if (result.length > 0 && bytes > bytesMax) break;
        result.push(entry);
      }
    }
    return result;
  }

  /**
   * The follower side of AppendEntries: if our log matches (prevIndex, prevTerm), append the
   * entries (dropping a conflicting suffix) and return the index of the last new entry.
   */
  maybeAppend(
    prevIndex: number,
    prevTerm: number,
    leaderCommit: number,
    entries: readonly Entry[],
  ): number | undefined {
    if (!this.matchTerm(prevIndex, prevTerm)) return undefined;
    const lastNewIndex = prevIndex + entries.length;
    const conflictIndex = this.findConflict(entries);
    if (conflictIndex !== 0) {
      assert(conflictIndex > this.committed, `entry ${conflictIndex} conflicts with committed ${this.committed}`);
      this.append(entries.slice(conflictIndex - entries[0].index));
    }
    this.commitTo(Math.min(leaderCommit, lastNewIndex));
    return lastNewIndex;
  }

  /** Index of the first entry that is new or disagrees with our log; 0 when all are present. */
  findConflict(entries: readonly Entry[]): number {
    for (const entry of entries) {
      if (!this.matchTerm(entry.index, entry.term)) return entry.index;
    }
    return 0;
  }

  /**
   * The largest index <= `index` whose term is <= `term`, with that term (0 if compacted).
   * Lets a rejecting follower skip a whole term of mismatched entries at once.
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    let i = Math.min(index, this.lastIndex());
    for (;;) {
      const t = this.term(i);
      if (t === undefined) return { index: i, term: 0 };
      if (t <= term) return { index: i, term: t };
      i--;
    }
  }

  append(entries: readonly Entry[]): number {
    if (entries.length === 0) return this.lastIndex();
    assert(
      entries[0].index - 1 >= this.committed,
      `append at ${entries[0].index} would overwrite committed ${this.committed}`,
    );
    this.unstable.truncateAndAppend(entries);
    return this.lastIndex();
  }

  commitTo(index: number): void {
    if (index <= this.committed) return;
    assert(index <= this.lastIndex(), `commit ${index} beyond last index ${this.lastIndex()}`);
    this.committed = index;
  }

  appliedTo(index: number): void {
    if (index === 0) return;
    assert(index <= this.committed, `applied ${index} beyond committed ${this.committed}`);
    if (index > this.applied) this.applied = index;
  }

  restore(snapshot: Snapshot): void {
    this.committed = snapshot.meta.index;
    this.unstable.restore(snapshot);
  }

  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  unstableEntries(): Entry[] {
    return this.unstable.entries.slice();
  }

  /** Committed entries not yet applied, up to `bytesMax`. */
  nextCommittedEntries(bytesMax: number): Entry[] {
    const lo = Math.max(this.applied + 1, this.firstIndex());
    if (this.committed < lo) return [];
    return this.slice(lo, this.committed + 1, bytesMax);
  }

  hasNextCommittedEntries(): boolean {
    return this.committed >= Math.max(this.applied + 1, this.firstIndex());
  }
}
