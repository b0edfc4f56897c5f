import { assert } from "../../lib/assert.js";
import { encodeConfChange } from "./conf-change-codec.js";
import type { ConfState, Entry, HardState, ReplicaId, Snapshot } from "./types.js";
import { EMPTY_HARD_STATE, entryBytes } from "./types.js";

/**
 * The durable part of the log as the core sees it: read-only, synchronous, and only ever
 * containing what the application has already persisted. The unstable tail lives in the core.
 */
export interface LogStorage {
  /** The hard state and configuration to start from after a restart. */
  initialState(): { hardState: HardState; confState: ConfState };
  /** Index of the first entry still in the log (the snapshot's index + 1). */
  firstIndex(): number;
  lastIndex(): number;
  /** Term of entry `index`, for index in [firstIndex - 1, lastIndex]; undefined outside. */
  term(index: number): number | undefined;
  /** Entries [lo, hi), stopping once `bytesMax` is exceeded (but always at least one). */
  entries(lo: number, hi: number, bytesMax: number): Entry[];
  /** The most recent snapshot. */
  snapshot(): Snapshot;
}

export function emptySnapshot(conf: ConfState = { voters: [], learners: [] }): Snapshot {
  return { meta: { index: 0, term: 0, conf }, data: new Uint8Array(0) };
}

/**
 * An in-memory LogStorage. The io driver keeps one as a mirror of what is on disk; the
 * simulator uses it as the simulated disk itself.
 */
export class MemoryLogStorage implements LogStorage {
  private hardState: HardState = EMPTY_HARD_STATE;
  private snap: Snapshot;
  /** Index and term of the last entry dropped from memory (the log's "dummy" entry). */
  private offset = 0;
  private offsetTerm = 0;
  /** Entries after the offset: log[i] has index offset + 1 + i. */
  private log: Entry[] = [];

  /**
   * `initialConf` puts a fixed membership in the index-0 snapshot: enough for tests whose
   * membership never grows. A cluster that may add replicas starts with bootstrap() instead.
   */
  constructor(initialConf: ConfState = { voters: [], learners: [] }) {
    this.snap = emptySnapshot(initialConf);
  }

  /**
   * A new cluster's first log: one committed "add-voter" entry per initial voter (term 1),
   * identical on every initial replica. The configuration then lives in the log, so a replica
   * that joins later with an empty log learns the whole membership by replaying it.
   */
  static bootstrap(voters: readonly ReplicaId[]): MemoryLogStorage {
    const storage = new MemoryLogStorage();
    storage.append(bootstrapEntries(voters));
    storage.setHardState({ term: 1, vote: "", commit: voters.length });
    return storage;
  }

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: this.hardState, confState: this.snap.meta.conf };
  }

  firstIndex(): number {
    return this.offset + 1;
  }

  lastIndex(): number {
    return this.offset + this.log.length;
  }

  term(index: number): number | undefined {
    if (index === this.offset) return this.offsetTerm;
    if (index < this.offset || index > this.lastIndex()) return undefined;
    return this.log[index - this.offset - 1].term;
  }

  entries(lo: number, hi: number, bytesMax: number): Entry[] {
    assert(lo >= this.firstIndex(), `entries(${lo}) below firstIndex ${this.firstIndex()}`);
    assert(hi <= this.lastIndex() + 1, `entries(..${hi}) beyond lastIndex ${this.lastIndex()}`);
    const result: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i < hi; i++) {
      const entry = this.log[i - this.offset - 1];
      bytes += entryBytes(entry);
      if (result.length > 0 && bytes > bytesMax) break;
      result.push(entry);
    }
    return result;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /** The hard state as last persisted (for restarts). */
  persistedHardState(): HardState {
    return this.hardState;
  }

  // ---- writes, done by the application once they are durable ----

  setHardState(hs: HardState): void {
    this.hardState = hs;
  }

  /** Appends entries, discarding any conflicting suffix first. */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = entries[0].index;
    assert(first >= this.firstIndex(), `append at ${first} below firstIndex ${this.firstIndex()}`);
    assert(first <= this.lastIndex() + 1, `append at ${first} leaves a gap after ${this.lastIndex()}`);
    this.log.length = first - this.firstIndex();
    for (const entry of entries) this.log.push(entry);
  }

  /** Replaces the whole log with a snapshot received from the leader. */
  applySnapshot(snap: Snapshot): void {
    assert(snap.meta.index >= this.snap.meta.index, "snapshot older than the current one");
    this.snap = snap;
    this.offset = snap.meta.index;
    this.offsetTerm = snap.meta.term;
    this.log = [];
  }

  /** Records a snapshot the application took of its state at `index` (<= applied). */
  createSnapshot(index: number, conf: ConfState, data: Uint8Array): Snapshot {
    assert(index > this.snap.meta.index, "snapshot index must advance");
    const term = this.term(index);
    assert(term !== undefined, `snapshot index ${index} outside the log`);
    this.snap = { meta: { index, term, conf }, data };
    return this.snap;
  }

  /** Drops entries up to and including `index`, which a snapshot must already cover. */
  compact(index: number): void {
    assert(index <= this.snap.meta.index, "compact beyond the snapshot");
    if (index <= this.offset) return;
    const term = this.term(index);
    assert(term !== undefined, `compact index ${index} outside the log`);
    this.log = this.log.slice(index - this.offset);
    this.offset = index;
    this.offsetTerm = term;
  }

  /** A deep-enough copy: entries are immutable, so sharing them is safe. */
  clone(): MemoryLogStorage {
    const copy = new MemoryLogStorage(this.snap.meta.conf);
    copy.hardState = this.hardState;
    copy.snap = this.snap;
    copy.offset = this.offset;
    copy.offsetTerm = this.offsetTerm;
    copy.log = this.log.slice();
    return copy;
  }
}

/** The bootstrap entries of a new cluster: the same bytes on every initial replica. */
export function bootstrapEntries(voters: readonly ReplicaId[]): Entry[] {
  assert(voters.length > 0, "a cluster needs at least one voter");
  assert(new Set(voters).size === voters.length, "duplicate voter in bootstrap");
  return [...voters].sort().map((replica, i) => ({
    term: 1,
    index: i + 1,
    type: "conf-change" as const,
    data: encodeConfChange({ type: "add-voter", replica }),
  }));
}
