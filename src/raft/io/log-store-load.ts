import { promises as fs } from "node:fs";
import * as path from "node:path";
import type { ClassicLevel } from "classic-level";
import type { Result } from "../../lib/errors.js";
import type { ConfState, Entry, HardState } from "../core/types.js";
import { EMPTY_HARD_STATE } from "../core/types.js";
import { bootstrapEntries } from "../core/log-storage.js";
import type { FormatRecord, LogBounds, SnapshotRecord } from "./log-store-codec.js";
import {
  ENTRY_KEY_END,
  ENTRY_KEY_MIN,
  META_KEYS,
  STORE_FORMAT_VERSION,
  decodeEntry,
  decodeFormat,
  decodeHardState,
  decodeLogBounds,
  decodeSnapshotRecord,
  decodeClusterId,
  encodeClusterId,
  encodeEntry,
  encodeFormat,
  encodeHardState,
  encodeLogBounds,
  encodeSnapshotRecord,
  entryIndexFromKey,
  entryKey,
} from "./log-store-codec.js";
import { ClusterIdMismatchError, CorruptStoreError } from "./log-store-errors.js";
import { foundingClusterId, isValidClusterId, randomClusterId } from "./cluster-id.js";
import {
  fsyncDirectory,
  isSnapshotFileName,
  readSnapshotFile,
  staleSnapshotFiles,
} from "./log-store-snapshot-files.js";

/**
 * Opening a store: read every record, trust none of them. Each check that fails becomes a
 * CorruptStoreError naming the record and the problem; a replica never starts from a log it
 * cannot vouch for, because serving a damaged log can break Raft's safety for the whole cluster.
 */

export type LogDb = ClassicLevel<Buffer, Buffer>;

export interface StorePaths {
  /** The replica's data directory, e.g. ./data/r1. */
  readonly dataDir: string;
  /** The LevelDB directory holding entries and metadata. */
  readonly logDir: string;
  /** Where snapshot data files live. */
  readonly snapshotDir: string;
}

/** Everything on disk, checked and decoded. */
export interface LoadedStore {
  readonly createdNew: boolean;
  readonly format: FormatRecord;
  readonly hardState: HardState;
  readonly snapshot: SnapshotRecord;
  readonly snapshotData: Uint8Array;
  readonly bounds: LogBounds;
  /** All entries on disk, [bounds.firstIndex, bounds.lastIndex], including those kept before the snapshot. */
  readonly entries: readonly Entry[];
  /** Key plus value bytes of each entry in `entries`. */
  readonly entrySizes: readonly number[];
  readonly clusterId: string;
}

/** Which cluster a store belongs to (see cluster-id.ts). */
export interface StoreIdentity {
  /** The identity this replica was told (a joiner, a restore): a new store takes it, an existing one must hold it. */
  readonly clusterId?: string;
  /**
   * The identity founding replicas derive from --peers: a new store takes it when no clusterId is
   * given, and so does a store written before identities existed.
   */
  readonly foundingClusterId?: string;
}

/** How many entries to pull from LevelDB per iterator call when reading the log. */
const READ_BATCH_ENTRIES = 1024;

export async function loadStore(
  db: LogDb,
  paths: StorePaths,
  initialConf: ConfState,
  identity: StoreIdentity = {},
): Promise<LoadedStore> {
  const formatValue = await db.get(META_KEYS.format);
  if (formatValue === undefined) return createStore(db, paths, initialConf, newStoreClusterId(initialConf, identity));
  const format = decoded(paths, decodeFormat(formatValue), META_KEYS.format, "the store's format record");
  if (format.formatVersion !== STORE_FORMAT_VERSION) {
    throw corruptLog(
      paths,
      `the store has format version ${format.formatVersion} but this build reads version ${STORE_FORMAT_VERSION}`,
    );
  }
  const hardState = await readMeta(db, paths, META_KEYS.hardState, decodeHardState, "the hard state record");
  const snapshot = await readMeta(db, paths, META_KEYS.snapshot, decodeSnapshotRecord, "the snapshot record");
  const bounds = await readMeta(db, paths, META_KEYS.logBounds, decodeLogBounds, "the log bounds record");
  if (bounds.firstIndex < 1 || bounds.firstIndex > bounds.lastIndex + 1) {
    throw corruptLog(
      paths,
      `the log bounds record says the log spans ${bounds.firstIndex}..${bounds.lastIndex}, which is impossible`,
    );
  }
  const { entries, entrySizes } = await readEntries(db, paths, bounds);
  checkSnapshotFitsLog(paths, snapshot, bounds, entries);
  checkHardState(paths, hardState, snapshot, bounds, entries);
  const snapshotData = await readSnapshotData(paths, snapshot);
  const clusterId = await loadClusterId(db, paths, format, identity);
  return { createdNew: false, format, hardState, snapshot, snapshotData, bounds, entries, entrySizes, clusterId };
}

/** A new store's identity: the one it is told, else the founding derivation, else (a joiner told nothing) a fresh one. */
function newStoreClusterId(initialConf: ConfState, identity: StoreIdentity): string {
  if (identity.clusterId !== undefined) return identity.clusterId;
  if (identity.foundingClusterId !== undefined) return identity.foundingClusterId;
  if (initialConf.voters.length > 0) return foundingClusterId(initialConf.voters);
  return randomClusterId();
}

/**
 * The stored identity, checked against the one this replica was told. A store written before
 * identities existed gets the founding derivation (every founding replica computes the same one)
 * and keeps it from then on.
 */
async function loadClusterId(
  db: LogDb,
  paths: StorePaths,
  format: FormatRecord,
  identity: StoreIdentity,
): Promise<string> {
  const value = await db.get(META_KEYS.clusterId);
  if (value === undefined) {
    const clusterId = identity.clusterId ?? identity.foundingClusterId ?? foundingClusterId(format.createdWith.voters);
    await db.put(META_KEYS.clusterId, encodeClusterId(clusterId), { sync: true });
    return clusterId;
  }
  const stored = decoded(paths, decodeClusterId(value), META_KEYS.clusterId, "the cluster id record");
  if (!isValidClusterId(stored))
    throw corruptLog(paths, `the cluster id record holds ${JSON.stringify(stored)}, which is not a cluster id`);
  if (identity.clusterId !== undefined && identity.clusterId !== stored)
    throw new ClusterIdMismatchError(paths.dataDir, stored, identity.clusterId);
  return stored;
}

/** Initialises an empty LevelDB; refuses if it is not empty, or if snapshot files suggest a lost log. */
async function createStore(
  db: LogDb,
  paths: StorePaths,
  initialConf: ConfState,
  clusterId: string,
): Promise<LoadedStore> {
  for await (const key of db.keys({ limit: 1 })) {
    throw corruptLog(
      paths,
      `the store's format record (key m/format) is missing although the store holds data (first key ${key.toString("hex")})`,
    );
  }
  const orphans = (await staleSnapshotFiles(paths.snapshotDir, "")).filter((name) => !name.endsWith(".tmp"));
  if (orphans.length > 0) {
    throw new CorruptStoreError(
      paths.dataDir,
      `the raft log is empty but snapshot files exist (${orphans.join(", ")}): the LevelDB directory was probably deleted or replaced`,
      paths.logDir,
      `LevelDB at ${paths.logDir}`,
    );
  }
  const format: FormatRecord = { formatVersion: STORE_FORMAT_VERSION, createdWith: initialConf };
  // A founding member's log starts with the bootstrap entries (the membership lives in the log,
  // so later joiners learn it by replay); a joiner (no voters given) starts empty.
  const entries = initialConf.voters.length > 0 ? bootstrapEntries(initialConf.voters) : [];
  const hardState: HardState = entries.length > 0 ? { term: 1, vote: "", commit: entries.length } : EMPTY_HARD_STATE;
  const snapshot: SnapshotRecord = {
    index: 0,
    term: 0,
    conf: { voters: [], learners: initialConf.learners },
    fileName: "",
    bytes: 0,
    crc: 0,
  };
  const bounds: LogBounds = { firstIndex: 1, lastIndex: entries.length };
  const entryValues = entries.map((entry) => encodeEntry(entry));
  await db.batch(
    [
      { type: "put", key: META_KEYS.format, value: encodeFormat(format) },
      { type: "put", key: META_KEYS.hardState, value: encodeHardState(hardState) },
      { type: "put", key: META_KEYS.snapshot, value: encodeSnapshotRecord(snapshot) },
      { type: "put", key: META_KEYS.logBounds, value: encodeLogBounds(bounds) },
      { type: "put", key: META_KEYS.clusterId, value: encodeClusterId(clusterId) },
      ...entries.map((entry, i) => ({ type: "put" as const, key: entryKey(entry.index), value: entryValues[i] })),
    ],
    { sync: true },
  );
  await fsyncDirectory(paths.dataDir);
  return {
    createdNew: true,
    format,
    hardState,
    snapshot,
    snapshotData: new Uint8Array(0),
    bounds,
    entries,
    entrySizes: entryValues.map((value) => value.byteLength),
    clusterId,
  };
}

async function readMeta<T>(
  db: LogDb,
  paths: StorePaths,
  key: Buffer,
  decode: (value: Uint8Array) => Result<T, string>,
  what: string,
): Promise<T> {
  const value = await db.get(key);
  if (value === undefined) throw corruptLog(paths, `${what} (key ${key.toString("latin1")}) is missing`);
  return decoded(paths, decode(value), key, what);
}

function decoded<T>(paths: StorePaths, result: Result<T, string>, key: Buffer, what: string): T {
  if (!result.ok) throw corruptLog(paths, `${what} (key ${key.toString("latin1")}) ${result.error}`);
  return result.value;
}

/** Reads every entry, checking checksums, that keys match contents, contiguity and term order. */
async function readEntries(
  db: LogDb,
  paths: StorePaths,
  bounds: LogBounds,
): Promise<{ entries: Entry[]; entrySizes: number[] }> {
  const entries: Entry[] = [];
  const entrySizes: number[] = [];
  let expected = bounds.firstIndex;
  let previousTerm = 0;
  const iterator = db.iterator({ gte: ENTRY_KEY_MIN, lt: ENTRY_KEY_END });
  try {
    for (;;) {
      const batch = await iterator.nextv(READ_BATCH_ENTRIES);
      if (batch.length === 0) break;
      for (const [key, value] of batch) {
        const index = entryIndexFromKey(key);
        if (index === undefined) throw corruptLog(paths, `the log holds a malformed entry key ${key.toString("hex")}`);
        const entry = checkEntry(paths, index, value, expected, bounds, previousTerm);
        entries.push(entry);
        entrySizes.push(key.byteLength + value.byteLength);
        expected = index + 1;
        previousTerm = entry.term;
      }
    }
  } finally {
    await iterator.close();
  }
  if (expected <= bounds.lastIndex) {
    throw corruptLog(
      paths,
      `raft log ${describeRange(expected, bounds.lastIndex)} missing: the log ends at ${expected - 1} but its bounds record says ${bounds.lastIndex} (truncated)`,
    );
  }
  return { entries, entrySizes };
}

function checkEntry(
  paths: StorePaths,
  index: number,
  value: Buffer,
  expected: number,
  bounds: LogBounds,
  previousTerm: number,
): Entry {
  if (index < expected) {
    throw corruptLog(paths, `raft log entry ${index} lies before the log's recorded start ${bounds.firstIndex}`);
  }
  if (index > bounds.lastIndex) {
    throw corruptLog(paths, `raft log entry ${index} lies beyond the log's recorded end ${bounds.lastIndex}`);
  }
  if (index > expected) {
    const context =
      index === bounds.firstIndex || expected === bounds.firstIndex
        ? `the log should start at ${bounds.firstIndex} but starts at ${index}`
        : `the log jumps from ${expected - 1} to ${index}`;
    throw corruptLog(paths, `raft log ${describeRange(expected, index - 1)} missing (${context})`);
  }
  const result = decodeEntry(value);
  if (!result.ok) throw corruptLog(paths, `raft log entry ${index} ${result.error}`);
  const entry = result.value;
  if (entry.index !== index)
    throw corruptLog(paths, `raft log entry ${index} holds the contents of entry ${entry.index}`);
  if (entry.term < previousTerm) {
    throw corruptLog(
      paths,
      `raft log entry ${index} has term ${entry.term}, lower than the term ${previousTerm} before it`,
    );
  }
  return entry;
}

/** The snapshot must sit inside or just before the log, agreeing on its term. */
function checkSnapshotFitsLog(
  paths: StorePaths,
  snapshot: SnapshotRecord,
  bounds: LogBounds,
  entries: readonly Entry[],
): void {
  if (snapshot.index < bounds.firstIndex - 1 || snapshot.index > bounds.lastIndex) {
    throw corruptLog(
      paths,
      `the snapshot at index ${snapshot.index} does not adjoin the log ${bounds.firstIndex}..${bounds.lastIndex}`,
    );
  }
  const atSnapshot = entries[snapshot.index - bounds.firstIndex];
  if (atSnapshot !== undefined && atSnapshot.term !== snapshot.term) {
    throw corruptLog(
      paths,
      `the snapshot at index ${snapshot.index} has term ${snapshot.term} but log entry ${snapshot.index} has term ${atSnapshot.term}`,
    );
  }
  const afterSnapshot = entries[snapshot.index + 1 - bounds.firstIndex];
  if (afterSnapshot !== undefined && afterSnapshot.term < snapshot.term) {
    throw corruptLog(
      paths,
      `raft log entry ${afterSnapshot.index} has term ${afterSnapshot.term}, lower than the snapshot's term ${snapshot.term}`,
    );
  }
}

function checkHardState(
  paths: StorePaths,
  hs: HardState,
  snapshot: SnapshotRecord,
  bounds: LogBounds,
  entries: readonly Entry[],
): void {
  if (hs.commit > bounds.lastIndex) {
    throw corruptLog(
      paths,
      `the hard state says entry ${hs.commit} is committed but the log ends at ${bounds.lastIndex} (committed entries are lost)`,
    );
  }
  if (hs.commit < snapshot.index) {
    throw corruptLog(
      paths,
      `the hard state says entry ${hs.commit} is committed but the snapshot already covers ${snapshot.index}`,
    );
  }
  const lastTerm = entries.length > 0 ? entries[entries.length - 1].term : snapshot.term;
  if (hs.term < lastTerm) {
    throw corruptLog(paths, `the hard state's term ${hs.term} is lower than the last log entry's term ${lastTerm}`);
  }
}

async function readSnapshotData(paths: StorePaths, snapshot: SnapshotRecord): Promise<Uint8Array> {
  if (snapshot.fileName === "") {
    if (snapshot.index !== 0 || snapshot.bytes !== 0) {
      throw corruptLog(paths, `the snapshot record at index ${snapshot.index} names no data file`);
    }
    return new Uint8Array(0);
  }
  if (!isSnapshotFileName(snapshot.fileName)) {
    throw corruptLog(paths, `the snapshot record names an invalid data file ${JSON.stringify(snapshot.fileName)}`);
  }
  const filePath = path.join(paths.snapshotDir, snapshot.fileName);
  const data = await readSnapshotFile(filePath, snapshot.bytes, snapshot.crc);
  if (!data.ok) {
    throw new CorruptStoreError(
      paths.dataDir,
      `the snapshot file for index ${snapshot.index} ${data.error}`,
      filePath,
      `file ${filePath}`,
    );
  }
  return data.value;
}

/** Removes snapshot files the metadata no longer names: leftovers of a crash or a failed delete. */
export async function removeStaleSnapshotFiles(paths: StorePaths, keep: string): Promise<void> {
  for (const name of await staleSnapshotFiles(paths.snapshotDir, keep)) {
    await fs.rm(path.join(paths.snapshotDir, name), { force: true });
  }
}

function corruptLog(paths: StorePaths, problem: string): CorruptStoreError {
  return new CorruptStoreError(paths.dataDir, problem, paths.logDir, `LevelDB at ${paths.logDir}`);
}

function describeRange(lo: number, hi: number): string {
  return lo === hi ? `entry ${lo} is` : `entries ${lo}..${hi} are`;
}
