import { promises as fs } from "node:fs";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { ClassicLevel } from "classic-level";
import { assert } from "../../lib/assert.js";
import { MemoryLogStorage } from "../core/log-storage.js";
import type { ConfState, Entry, HardState, Snapshot } from "../core/types.js";
import type { LogBounds, SnapshotRecord } from "./log-store-codec.js";
import {
  META_KEYS,
  encodeEntry,
  encodeHardState,
  encodeLogBounds,
  encodeSnapshotRecord,
  encodeClusterId,
  entryKey,
} from "./log-store-codec.js";
import { isValidClusterId } from "./cluster-id.js";
import { CorruptStoreError, StoreFailedError, StoreInUseError } from "./log-store-errors.js";
import type { LoadedStore, LogDb, StorePaths } from "./log-store-load.js";
import { loadStore, removeStaleSnapshotFiles } from "./log-store-load.js";
import { removeQuietly, snapshotFileName, writeSnapshotFile } from "./log-store-snapshot-files.js";

export { ClusterIdMismatchError, CorruptStoreError, StoreFailedError, StoreInUseError } from "./log-store-errors.js";

/**
 * The replica's durable Raft log: entries, hard state and snapshot metadata in LevelDB
 * (`<dataDir>/raft-log`), snapshot data in files (`<dataDir>/raft-snapshots`).
 *
 * The core reads `storage`, an in-memory mirror that only ever holds what has reached disk:
 * every write goes to LevelDB as one synced batch first and into the mirror after.
 * Writes are serialised, so a persist and a saveSnapshot never interleave their batches.
 *
 * Restart semantics: the mirror starts at the snapshot (entries kept on disk before it for slow
 * followers are not loaded), so the core re-delivers exactly the entries after the snapshot and
 * the state machine is rebuilt as snapshot + replay.
 */

export const LOG_DIR_NAME = "raft-log";
export const SNAPSHOT_DIR_NAME = "raft-snapshots";

export interface LevelDbLogStoreOptions {
  /** The configuration of a brand-new store; an existing store keeps the one it was created with. */
  readonly initialConf: ConfState;
  /** Told the duration of every synced LevelDB write (orchestrator_raft_log_fsync_duration_seconds). */
  readonly onSyncDurationSeconds?: (seconds: number) => void;
  /**
   * The cluster this replica was told it belongs to (a joiner, a restored replica): a new store
   * takes it; an existing store holding another one is refused (ClusterIdMismatchError).
   */
  readonly clusterId?: string;
  /**
   * The founding identity derived from --peers (cluster-id.ts foundingClusterId): taken by a new
   * store when `clusterId` is absent, and by a store written before identities existed.
   */
  readonly foundingClusterId?: string;
}

/** What resetToSnapshot installs: the whole log becomes this snapshot. */
export interface SnapshotReset {
  readonly snapshot: Snapshot;
  /** Term and vote to keep; the commit index becomes the snapshot's index. */
  readonly term: number;
  readonly clusterId: string;
}

/** The durable parts of a Ready. */
export interface PersistUpdate {
  readonly hardState: HardState | null;
  readonly entries: readonly Entry[];
  readonly snapshot: Snapshot | null;
}

export interface LogStoreStats {
  /** The core's view: first and last index it can read. */
  readonly firstIndex: number;
  readonly lastIndex: number;
  /** First index on disk; below firstIndex after a restart that found entries kept before the snapshot. */
  readonly diskFirstIndex: number;
  readonly entriesOnDisk: number;
  /** Key and value bytes of the entries on disk (LevelDB's own overhead and compression aside). */
  readonly entryBytes: number;
  readonly snapshotIndex: number;
  readonly snapshotTerm: number;
  readonly snapshotBytes: number;
  /** The configuration recorded with the snapshot. */
  readonly conf: ConfState;
  /** The configuration the store was created with (initialConf of its first open). */
  readonly createdWith: ConfState;
}

type BatchOp = { type: "put"; key: Buffer; value: Buffer } | { type: "del"; key: Buffer };

export class LevelDbLogStore {
  /** The core's view of what is durable (give it to RawNode). */
  readonly storage: MemoryLogStorage;
  /** Whether this open created the store (otherwise `initialConf` was ignored). */
  readonly createdNew: boolean;
  readonly createdWith: ConfState;
  /** The cluster this store belongs to (cluster-id.ts); the transport refuses peers with another. */
  get clusterId(): string {
    return this.identity;
  }

  private identity: string;
  private bounds: LogBounds;
  private snapRecord: SnapshotRecord;
  /** Size of each entry on disk, parallel to [bounds.firstIndex, bounds.lastIndex]. */
  private readonly sizes: EntrySizes;
  /** Serialises writes: each one starts once the previous one settled. */
  private tail: Promise<void> = Promise.resolve();
  private failure: unknown = undefined;
  private closed = false;
  /**
   * The mirror's hard state has a commit index the disk does not have yet: commit-only updates
   * are not written on their own (Raft may lose the commit index; re-learning it is cheap, an
   * extra LevelDB write per commit is not), but ride along with the next batch and with close.
   */
  private hardStateDirty = false;

  private constructor(
    private readonly db: LogDb,
    private readonly paths: StorePaths,
    private readonly onSyncDurationSeconds: ((seconds: number) => void) | undefined,
    loaded: LoadedStore,
  ) {
    this.createdNew = loaded.createdNew;
    this.createdWith = loaded.format.createdWith;
    this.identity = loaded.clusterId;
    this.bounds = loaded.bounds;
    this.snapRecord = loaded.snapshot;
    this.sizes = new EntrySizes(loaded.entrySizes);
    this.storage = buildMirror(loaded);
  }

  /**
   * Opens (creating if needed) the store in `dir`, verifying everything. Throws CorruptStoreError
   * on a damaged store and StoreInUseError when another process has it open.
   */
  static async open(dir: string, options: LevelDbLogStoreOptions): Promise<LevelDbLogStore> {
    const paths: StorePaths = {
      dataDir: dir,
      logDir: path.join(dir, LOG_DIR_NAME),
      snapshotDir: path.join(dir, SNAPSHOT_DIR_NAME),
    };
    await fs.mkdir(paths.snapshotDir, { recursive: true });
    for (const id of [options.clusterId, options.foundingClusterId])
      assert(id === undefined || isValidClusterId(id), `invalid cluster id ${JSON.stringify(id)}`);
    const db = await openLevelDb(paths);
    try {
      const loaded = await loadStore(db, paths, options.initialConf, {
        ...(options.clusterId !== undefined ? { clusterId: options.clusterId } : {}),
        ...(options.foundingClusterId !== undefined ? { foundingClusterId: options.foundingClusterId } : {}),
      });
      await removeStaleSnapshotFiles(paths, loaded.snapshot.fileName);
      return new LevelDbLogStore(db, paths, options.onSyncDurationSeconds, loaded);
    } catch (e) {
      await db.close();
      throw e;
    }
  }

  /**
   * Persists a Ready's durable parts in one synced LevelDB batch, then mirrors them into
   * `storage`. Order: snapshot (replaces the log), entries (truncating a conflicting suffix),
   * hard state. An update that only moves the commit index writes nothing by itself: it goes
   * to disk with the next batch (see hardStateDirty).
   */
  persist(update: PersistUpdate): Promise<void> {
    if (update.hardState === null && update.entries.length === 0 && update.snapshot === null)
      return this.exclusive(async () => {});
    return this.exclusive(async () => {
      // Decided in the queue, against the hard state of every earlier write.
      const current = this.storage.persistedHardState();
      const hardState = update.hardState;
      if (
        update.entries.length === 0 &&
        update.snapshot === null &&
        hardState !== null &&
        hardState.term === current.term &&
        hardState.vote === current.vote
      ) {
        this.storage.setHardState(hardState);
        this.hardStateDirty = true;
        return;
      }
      await this.persistNow(update);
    });
  }

  /**
   * Stores a snapshot the application took of its state at `index` (<= applied) and compacts
   * the log, keeping the `keepEntries` entries before `index` for slow followers. If a newer
   * snapshot arrived from the leader meanwhile, this one is dropped and the current one returned.
   */
  async saveSnapshot(index: number, conf: ConfState, data: Uint8Array, keepEntries: number): Promise<Snapshot> {
    assert(
      Number.isSafeInteger(keepEntries) && keepEntries >= 0,
      `keepEntries must be a non-negative integer, got ${keepEntries}`,
    );
    this.checkUsable();
    if (index <= this.snapRecord.index) return this.storage.snapshot();
    const term = this.termOf(index);
    // The (possibly large) file is written outside the write queue so persists keep flowing.
    const file = await writeSnapshotFile(this.paths.snapshotDir, snapshotFileName(index, term), data);
    return this.exclusive(async () => {
      if (index <= this.snapRecord.index) {
        await removeQuietly(path.join(this.paths.snapshotDir, file.fileName));
        return this.storage.snapshot();
      }
      return this.compactNow({ index, term, conf, ...file }, data, keepEntries);
    });
  }

  /**
   * Replaces the whole log with `reset.snapshot` (committed: the commit index becomes its index)
   * and the cluster identity with `reset.clusterId`, in one synced batch. For `orchestrator
   * restore` (a new store) and --force-new-cluster (before the node starts), never while the
   * core runs on this store.
   */
  resetToSnapshot(reset: SnapshotReset): Promise<void> {
    assert(isValidClusterId(reset.clusterId), `invalid cluster id ${JSON.stringify(reset.clusterId)}`);
    const { index, term, conf } = reset.snapshot.meta;
    assert(reset.term >= term, `hard state term ${reset.term} below the snapshot's term ${term}`);
    return this.exclusive(async () => {
      const file = await writeSnapshotFile(this.paths.snapshotDir, snapshotFileName(index, term), reset.snapshot.data);
      const record: SnapshotRecord = { index, term, conf, ...file };
      const bounds: LogBounds = { firstIndex: index + 1, lastIndex: index };
      const hardState = { term: reset.term, vote: "", commit: index };
      const ops: BatchOp[] = [];
      this.planDelete(ops, this.bounds.firstIndex, this.bounds.lastIndex);
      ops.push(
        { type: "put", key: META_KEYS.snapshot, value: encodeSnapshotRecord(record) },
        { type: "put", key: META_KEYS.logBounds, value: encodeLogBounds(bounds) },
        { type: "put", key: META_KEYS.hardState, value: encodeHardState(hardState) },
        { type: "put", key: META_KEYS.clusterId, value: encodeClusterId(reset.clusterId) },
      );
      await this.write(ops, true);
      this.hardStateDirty = false;
      const previous = this.snapRecord;
      this.sizes.clear();
      this.bounds = bounds;
      this.snapRecord = record;
      this.identity = reset.clusterId;
      this.storage.applySnapshot(reset.snapshot);
      this.storage.setHardState(hardState);
      await this.removeSnapshotFile(previous);
    });
  }

  stats(): LogStoreStats {
    return {
      firstIndex: this.storage.firstIndex(),
      lastIndex: this.storage.lastIndex(),
      diskFirstIndex: this.bounds.firstIndex,
      entriesOnDisk: this.bounds.lastIndex - this.bounds.firstIndex + 1,
      entryBytes: this.sizes.totalBytes,
      snapshotIndex: this.snapRecord.index,
      snapshotTerm: this.snapRecord.term,
      snapshotBytes: this.snapRecord.bytes,
      conf: this.snapRecord.conf,
      createdWith: this.createdWith,
    };
  }

  /** Waits for queued writes, then closes LevelDB. The store cannot be used afterwards. */
  async close(): Promise<void> {
    if (this.closed) return;
    // Refuse new writes at once; the ones already queued still complete.
    this.closed = true;
    await this.tail;
    if (this.hardStateDirty && this.failure === undefined) {
      await this.write(
        [{ type: "put", key: META_KEYS.hardState, value: encodeHardState(this.storage.persistedHardState()) }],
        true,
      );
      this.hardStateDirty = false;
    }
    await this.db.close();
  }

  // ---------------------------------------------------------------- writes

  private async persistNow(update: PersistUpdate): Promise<void> {
    const ops: BatchOp[] = [];
    const previous = { bounds: this.bounds, snapRecord: this.snapRecord, hardState: this.storage.persistedHardState() };
    let bounds = previous.bounds;
    let snapRecord = previous.snapRecord;
    if (update.snapshot !== null) {
      snapRecord = await this.planSnapshotRestore(ops, update.snapshot);
      bounds = { firstIndex: snapRecord.index + 1, lastIndex: snapRecord.index };
    }
    if (update.entries.length > 0) bounds = this.planAppend(ops, bounds, update.snapshot, update.entries);
    if (bounds !== previous.bounds) ops.push({ type: "put", key: META_KEYS.logBounds, value: encodeLogBounds(bounds) });
    const hardState = update.hardState ?? previous.hardState;
    if (update.hardState !== null || this.hardStateDirty)
      ops.push({ type: "put", key: META_KEYS.hardState, value: encodeHardState(hardState) });
    // The checks open() makes, made before writing, so a core bug never reaches the disk.
    assert(
      hardState.commit <= bounds.lastIndex,
      `commit ${hardState.commit} beyond the log's last index ${bounds.lastIndex}`,
    );
    assert(
      hardState.commit >= snapRecord.index,
      `commit ${hardState.commit} below the snapshot index ${snapRecord.index}`,
    );
    const sync =
      update.snapshot !== null ||
      update.entries.length > 0 ||
      hardState.term !== previous.hardState.term ||
      hardState.vote !== previous.hardState.vote;
    await this.write(ops, sync);
    this.hardStateDirty = false;

    if (update.snapshot !== null) this.storage.applySnapshot(update.snapshot);
    this.storage.append(update.entries);
    if (update.hardState !== null) this.storage.setHardState(update.hardState);
    this.bounds = bounds;
    this.snapRecord = snapRecord;
    if (snapRecord !== previous.snapRecord) await this.removeSnapshotFile(previous.snapRecord);
  }

  /** Writes a received snapshot's file and plans replacing the whole log with it. */
  private async planSnapshotRestore(ops: BatchOp[], snapshot: Snapshot): Promise<SnapshotRecord> {
    const { index, term, conf } = snapshot.meta;
    assert(
      index >= this.snapRecord.index,
      `received snapshot ${index} is older than the stored one ${this.snapRecord.index}`,
    );
    const file = await writeSnapshotFile(this.paths.snapshotDir, snapshotFileName(index, term), snapshot.data);
    const record: SnapshotRecord = { index, term, conf, ...file };
    this.planDelete(ops, this.bounds.firstIndex, this.bounds.lastIndex);
    this.sizes.clear();
    ops.push({ type: "put", key: META_KEYS.snapshot, value: encodeSnapshotRecord(record) });
    return record;
  }

  /**
   * Plans writing `entries`, deleting whatever conflicting suffix they do not overwrite.
   * `restored` is the snapshot of this same update, which the mirror does not reflect yet.
   */
  private planAppend(
    ops: BatchOp[],
    bounds: LogBounds,
    restored: Snapshot | null,
    entries: readonly Entry[],
  ): LogBounds {
    const first = entries[0].index;
    const last = entries[entries.length - 1].index;
    const firstAllowed = restored === null ? this.storage.firstIndex() : restored.meta.index + 1;
    assert(first >= firstAllowed, `append at ${first} below the first index ${firstAllowed}`);
    assert(first <= bounds.lastIndex + 1, `append at ${first} leaves a gap after ${bounds.lastIndex}`);
    let previousTerm = restored === null ? this.storage.term(first - 1) : restored.meta.term;
    assert(previousTerm !== undefined, `term of entry ${first - 1} unknown`);
    this.planDelete(ops, last + 1, bounds.lastIndex);
    this.sizes.truncateFrom(first - bounds.firstIndex);
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i];
      assert(entry.index === first + i, `entries not contiguous at ${entry.index}`);
      assert(entry.term >= previousTerm, `entry ${entry.index} has term ${entry.term} below ${previousTerm}`);
      previousTerm = entry.term;
      const key = entryKey(entry.index);
      const value = encodeEntry(entry);
      ops.push({ type: "put", key, value });
      this.sizes.push(key.byteLength + value.byteLength);
    }
    return { firstIndex: bounds.firstIndex, lastIndex: last };
  }

  private planDelete(ops: BatchOp[], lo: number, hi: number): void {
    for (let index = lo; index <= hi; index++) ops.push({ type: "del", key: entryKey(index) });
  }

  /** Records a snapshot the application took and drops entries it covers beyond `keepEntries`. */
  private async compactNow(record: SnapshotRecord, data: Uint8Array, keepEntries: number): Promise<Snapshot> {
    const hardState = this.storage.persistedHardState();
    assert(
      record.index <= hardState.commit,
      `snapshot index ${record.index} is not committed (commit ${hardState.commit})`,
    );
    const previous = this.snapRecord;
    const compactTo = Math.max(record.index - keepEntries, this.bounds.firstIndex - 1);
    const ops: BatchOp[] = [{ type: "put", key: META_KEYS.snapshot, value: encodeSnapshotRecord(record) }];
    this.planDelete(ops, this.bounds.firstIndex, compactTo);
    const bounds = { firstIndex: compactTo + 1, lastIndex: this.bounds.lastIndex };
    ops.push({ type: "put", key: META_KEYS.logBounds, value: encodeLogBounds(bounds) });
    // The snapshot is at or below the mirror's commit, which must reach the disk with it.
    if (this.hardStateDirty) ops.push({ type: "put", key: META_KEYS.hardState, value: encodeHardState(hardState) });
    await this.write(ops, true);
    this.hardStateDirty = false;

    this.sizes.dropFirst(compactTo + 1 - this.bounds.firstIndex);
    this.bounds = bounds;
    this.snapRecord = record;
    const snapshot = this.storage.createSnapshot(record.index, record.conf, data);
    this.storage.compact(compactTo);
    await this.removeSnapshotFile(previous);
    return snapshot;
  }

  private async write(ops: BatchOp[], sync: boolean): Promise<void> {
    const started = performance.now();
    await this.db.batch(ops, { sync });
    if (sync) this.onSyncDurationSeconds?.((performance.now() - started) / 1000);
  }

  private async removeSnapshotFile(record: SnapshotRecord): Promise<void> {
    if (record.fileName !== "" && record.fileName !== this.snapRecord.fileName) {
      await removeQuietly(path.join(this.paths.snapshotDir, record.fileName));
    }
  }

  private termOf(index: number): number {
    const term = this.storage.term(index);
    assert(
      term !== undefined,
      `snapshot index ${index} is outside the log ${this.storage.firstIndex()}..${this.storage.lastIndex()}`,
    );
    return term;
  }

  // ---------------------------------------------------------------- the write queue

  /** Runs `fn` after every earlier write; a failed write poisons the store (the mirror may lag the disk). */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    try {
      this.checkUsable();
    } catch (e) {
      return Promise.reject(e);
    }
    const run = this.tail.then(async () => {
      this.checkNotFailed();
      try {
        return await fn();
      } catch (e) {
        this.failure ??= e;
        throw e;
      }
    });
    this.tail = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private checkUsable(): void {
    assert(!this.closed, "raft store used after close()");
    this.checkNotFailed();
  }

  private checkNotFailed(): void {
    if (this.failure !== undefined) throw new StoreFailedError(this.paths.dataDir, this.failure);
  }
}

async function openLevelDb(paths: StorePaths): Promise<LogDb> {
  const db: LogDb = new ClassicLevel<Buffer, Buffer>(paths.logDir, { keyEncoding: "buffer", valueEncoding: "buffer" });
  try {
    await db.open({ createIfMissing: true });
  } catch (e) {
    const cause = levelErrorCause(e);
    if (cause.code === "LEVEL_LOCKED") throw new StoreInUseError(paths.dataDir, path.join(paths.logDir, "LOCK"));
    if (cause.code === "LEVEL_CORRUPTION") {
      throw new CorruptStoreError(
        paths.dataDir,
        `LevelDB cannot read its own files: ${cause.message}`,
        paths.logDir,
        `LevelDB at ${paths.logDir}`,
      );
    }
    throw e;
  }
  return db;
}

/** abstract-level wraps the binding's error ("Database failed to open") with the real one as cause. */
function levelErrorCause(e: unknown): { code: string | undefined; message: string } {
  let current: unknown = e;
  while (current instanceof Error) {
    const code = (current as Error & { code?: unknown }).code;
    if (code === "LEVEL_LOCKED" || code === "LEVEL_CORRUPTION") return { code, message: current.message };
    current = current.cause;
  }
  return { code: undefined, message: String(e) };
}

/** The core's view after a restart: the snapshot, the entries after it, the hard state. */
function buildMirror(loaded: LoadedStore): MemoryLogStorage {
  const { snapshot, snapshotData, entries, hardState } = loaded;
  const storage = new MemoryLogStorage(snapshot.conf);
  storage.applySnapshot({
    meta: { index: snapshot.index, term: snapshot.term, conf: snapshot.conf },
    data: snapshotData,
  });
  storage.append(entries.filter((entry) => entry.index > snapshot.index));
  storage.setHardState(hardState);
  return storage;
}

/** Per-entry byte counts with a running total, for stats. */
class EntrySizes {
  private sizes: number[];
  totalBytes = 0;

  constructor(initial: readonly number[]) {
    this.sizes = initial.slice();
    for (const size of initial) this.totalBytes += size;
  }

  push(size: number): void {
    this.sizes.push(size);
    this.totalBytes += size;
  }

  /** Keeps the first `count` sizes. */
  truncateFrom(count: number): void {
    for (let i = count; i < this.sizes.length; i++) this.totalBytes -= this.sizes[i];
    this.sizes.length = Math.min(this.sizes.length, count);
  }

  dropFirst(count: number): void {
    if (count <= 0) return;
    for (let i = 0; i < count && i < this.sizes.length; i++) this.totalBytes -= this.sizes[i];
    this.sizes = this.sizes.slice(count);
  }

  clear(): void {
    this.sizes = [];
    this.totalBytes = 0;
  }
}
