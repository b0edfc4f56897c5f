import { crc32 } from "node:zlib";
import { assert } from "../../lib/assert.js";
import type { Result } from "../../lib/errors.js";
import { err, ok } from "../../lib/errors.js";
import type { ConfState, Entry, EntryType, HardState } from "../core/types.js";

/**
 * The LevelDB records of the raft log store, in a compact binary form of our own: the store
 * is the only reader, and a fixed layout keeps the hot path (encoding entries) allocation-light.
 *
 * Every value is sealed: a 4-byte big-endian CRC-32 of the body, then the body. Each body
 * starts with a one-byte record version so the layout can evolve. Integers are unsigned
 * 64-bit big-endian on disk and safe JavaScript integers in memory.
 *
 * Keys: entries are "e" + the 8-byte big-endian index, so LevelDB iterates them in index order;
 * metadata keys start with "m/", which sorts after every entry key.
 */

const RECORD_VERSION = 1;
const CRC_BYTES = 4;
const U64_BYTES = 8;
const TWO_POW_32 = 0x1_0000_0000;
/** Largest high word that keeps a u64 within Number.MAX_SAFE_INTEGER. */
const SAFE_HIGH_WORD_MAX = 0x1f_ffff;
/** Replica ids are short; anything longer in a record means the record is garbage. */
const STRING_BYTES_MAX = 0xffff;

export const ENTRY_KEY_PREFIX = 0x65; // "e"
export const ENTRY_KEY_BYTES = 1 + U64_BYTES;
/** Every entry key lies in [ENTRY_KEY_MIN, ENTRY_KEY_END). */
export const ENTRY_KEY_MIN = Buffer.from([ENTRY_KEY_PREFIX]);
export const ENTRY_KEY_END = Buffer.from([ENTRY_KEY_PREFIX + 1]);

export const META_KEYS = {
  /** Written once when the store is created: format version and the conf it was created with. */
  format: Buffer.from("m/format"),
  hardState: Buffer.from("m/hard-state"),
  /** The snapshot the log starts after: its metadata and where its data lives. */
  snapshot: Buffer.from("m/snapshot"),
  /** First and last entry index on disk, rewritten with every change to the entries. */
  logBounds: Buffer.from("m/log-bounds"),
  /** The cluster's identity (cluster-id.ts); absent in stores written before identities existed. */
  clusterId: Buffer.from("m/cluster-id"),
} as const;

/** The store's on-disk format; bump when the layout changes incompatibly. */
export const STORE_FORMAT_VERSION = 1;

export interface FormatRecord {
  readonly formatVersion: number;
  /** The configuration given to the very first open; later opens keep it. */
  readonly createdWith: ConfState;
}

export interface SnapshotRecord {
  readonly index: number;
  readonly term: number;
  readonly conf: ConfState;
  /** File name inside the snapshot directory; "" for the empty snapshot of a new store. */
  readonly fileName: string;
  readonly bytes: number;
  readonly crc: number;
}

/** The entries on disk are exactly [firstIndex, lastIndex]; empty when firstIndex = lastIndex + 1. */
export interface LogBounds {
  readonly firstIndex: number;
  readonly lastIndex: number;
}

// ---------------------------------------------------------------- keys

export function entryKey(index: number): Buffer {
  const key = Buffer.allocUnsafe(ENTRY_KEY_BYTES);
  key[0] = ENTRY_KEY_PREFIX;
  writeU64(key, 1, index);
  return key;
}

/** The index in an entry key, or undefined when the key is not a well-formed entry key. */
export function entryIndexFromKey(key: Uint8Array): number | undefined {
  if (key.byteLength !== ENTRY_KEY_BYTES || key[0] !== ENTRY_KEY_PREFIX) return undefined;
  return readU64(asBuffer(key), 1);
}

// ---------------------------------------------------------------- entries (the hot path)

const ENTRY_HEADER_BYTES = 1 + 1 + U64_BYTES + U64_BYTES;

export function encodeEntry(entry: Entry): Buffer {
  const value = Buffer.allocUnsafe(CRC_BYTES + ENTRY_HEADER_BYTES + entry.data.byteLength);
  let at = CRC_BYTES;
  value[at++] = RECORD_VERSION;
  value[at++] = entryTypeCode(entry.type);
  at = writeU64(value, at, entry.index);
  at = writeU64(value, at, entry.term);
  value.set(entry.data, at);
  value.writeUInt32BE(crc32(value.subarray(CRC_BYTES)), 0);
  return value;
}

export function decodeEntry(value: Uint8Array): Result<Entry, string> {
  const body = unseal(value);
  if (!body.ok) return body;
  const r = new Reader(body.value);
  const fields = r.run(() => {
    r.version();
    const type = entryTypeFromCode(r.u8());
    const index = r.u64();
    const term = r.u64();
    return { type, index, term, data: r.rest() };
  });
  if (!fields.ok) return fields;
  if (fields.value.type === undefined) return err("unknown entry type");
  return ok({ ...fields.value, type: fields.value.type });
}

function entryTypeCode(type: EntryType): number {
  return type === "normal" ? 0 : 1;
}

function entryTypeFromCode(code: number): EntryType | undefined {
  if (code === 0) return "normal";
  if (code === 1) return "conf-change";
  return undefined;
}

// ---------------------------------------------------------------- metadata records

export function encodeHardState(hs: HardState): Buffer {
  const w = new Writer();
  w.u8(RECORD_VERSION).u64(hs.term).u64(hs.commit).str(hs.vote);
  return seal(w);
}

export function decodeHardState(value: Uint8Array): Result<HardState, string> {
  return decodeSealed(value, (r) => ({ term: r.u64(), commit: r.u64(), vote: r.str() }));
}

export function encodeSnapshotRecord(rec: SnapshotRecord): Buffer {
  const w = new Writer();
  w.u8(RECORD_VERSION).u64(rec.index).u64(rec.term);
  writeConf(w, rec.conf);
  w.str(rec.fileName).u64(rec.bytes).u32(rec.crc);
  return seal(w);
}

export function decodeSnapshotRecord(value: Uint8Array): Result<SnapshotRecord, string> {
  return decodeSealed(value, (r) => ({
    index: r.u64(),
    term: r.u64(),
    conf: readConf(r),
    fileName: r.str(),
    bytes: r.u64(),
    crc: r.u32(),
  }));
}

export function encodeLogBounds(bounds: LogBounds): Buffer {
  const w = new Writer();
  w.u8(RECORD_VERSION).u64(bounds.firstIndex).u64(bounds.lastIndex);
  return seal(w);
}

export function decodeLogBounds(value: Uint8Array): Result<LogBounds, string> {
  return decodeSealed(value, (r) => ({ firstIndex: r.u64(), lastIndex: r.u64() }));
}

export function encodeFormat(rec: FormatRecord): Buffer {
  const w = new Writer();
  w.u8(RECORD_VERSION).u32(rec.formatVersion);
  writeConf(w, rec.createdWith);
  return seal(w);
}

export function decodeFormat(value: Uint8Array): Result<FormatRecord, string> {
  return decodeSealed(value, (r) => ({ formatVersion: r.u32(), createdWith: readConf(r) }));
}

export function encodeClusterId(clusterId: string): Buffer {
  const w = new Writer();
  w.u8(RECORD_VERSION).str(clusterId);
  return seal(w);
}

export function decodeClusterId(value: Uint8Array): Result<string, string> {
  return decodeSealed(value, (r) => r.str());
}

function writeConf(w: Writer, conf: ConfState): void {
  w.u16(conf.voters.length);
  for (const id of conf.voters) w.str(id);
  w.u16(conf.learners.length);
  for (const id of conf.learners) w.str(id);
}

function readConf(r: Reader): ConfState {
  const voters: string[] = [];
  for (let n = r.u16(); n > 0; n--) voters.push(r.str());
  const learners: string[] = [];
  for (let n = r.u16(); n > 0; n--) learners.push(r.str());
  return { voters, learners };
}

// ---------------------------------------------------------------- sealing

function seal(w: Writer): Buffer {
  const body = w.finish();
  const value = Buffer.allocUnsafe(CRC_BYTES + body.byteLength);
  value.writeUInt32BE(crc32(body), 0);
  body.copy(value, CRC_BYTES);
  return value;
}

function unseal(value: Uint8Array): Result<Buffer, string> {
  const buf = asBuffer(value);
  if (buf.byteLength < CRC_BYTES + 1) return err(`record is only ${buf.byteLength} bytes long`);
  const body = buf.subarray(CRC_BYTES);
  if (crc32(body) !== buf.readUInt32BE(0)) return err("fails its checksum");
  return ok(body);
}

/** Unseals a metadata record and reads its body, which must be consumed exactly. */
function decodeSealed<T>(value: Uint8Array, read: (r: Reader) => T): Result<T, string> {
  const body = unseal(value);
  if (!body.ok) return body;
  const r = new Reader(body.value);
  return r.run(() => {
    r.version();
    const result = read(r);
    r.end();
    return result;
  });
}

// ---------------------------------------------------------------- primitives

function writeU64(buf: Buffer, at: number, value: number): number {
  assert(Number.isSafeInteger(value) && value >= 0, `u64 out of range: ${value}`);
  buf.writeUInt32BE(Math.floor(value / TWO_POW_32), at);
  buf.writeUInt32BE(value >>> 0, at + 4);
  return at + U64_BYTES;
}

/** Reads a u64; undefined when it does not fit a safe integer. */
function readU64(buf: Buffer, at: number): number | undefined {
  const high = buf.readUInt32BE(at);
  if (high > SAFE_HIGH_WORD_MAX) return undefined;
  return high * TWO_POW_32 + buf.readUInt32BE(at + 4);
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Builds a small metadata body; the entry hot path writes its buffer directly instead. */
class Writer {
  private readonly parts: Buffer[] = [];

  u8(value: number): this {
    this.parts.push(Buffer.from([value]));
    return this;
  }

  u16(value: number): this {
    assert(Number.isInteger(value) && value >= 0 && value <= 0xffff, `u16 out of range: ${value}`);
    const b = Buffer.allocUnsafe(2);
    b.writeUInt16BE(value, 0);
    this.parts.push(b);
    return this;
  }

  u32(value: number): this {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32BE(value >>> 0, 0);
    this.parts.push(b);
    return this;
  }

  u64(value: number): this {
    const b = Buffer.allocUnsafe(U64_BYTES);
    writeU64(b, 0, value);
    this.parts.push(b);
    return this;
  }

  str(value: string): this {
    const bytes = Buffer.from(value, "utf8");
    assert(bytes.byteLength <= STRING_BYTES_MAX, "string too long for a record");
    this.u16(bytes.byteLength);
    this.parts.push(bytes);
    return this;
  }

  finish(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** A bounds-checked reader; a short or malformed body ends the read with a description. */
class Reader {
  private at = 0;

  constructor(private readonly buf: Buffer) {}

  run<T>(read: () => T): Result<T, string> {
    try {
      return ok(read());
    } catch (e) {
      if (e instanceof MalformedRecord) return err(e.message);
      throw e;
    }
  }

  version(): void {
    const version = this.u8();
    if (version !== RECORD_VERSION) throw new MalformedRecord(`has unknown record version ${version}`);
  }

  u8(): number {
    this.need(1);
    return this.buf[this.at++];
  }

  u16(): number {
    this.need(2);
    const value = this.buf.readUInt16BE(this.at);
    this.at += 2;
    return value;
  }

  u32(): number {
    this.need(4);
    const value = this.buf.readUInt32BE(this.at);
    this.at += 4;
    return value;
  }

  u64(): number {
    this.need(U64_BYTES);
    const value = readU64(this.buf, this.at);
    if (value === undefined) throw new MalformedRecord("holds an integer beyond 2^53");
    this.at += U64_BYTES;
    return value;
  }

  str(): string {
    const length = this.u16();
    this.need(length);
    const value = this.buf.toString("utf8", this.at, this.at + length);
    this.at += length;
    return value;
  }

  /** The remaining bytes, copied so the entry does not pin LevelDB's buffer. */
  rest(): Uint8Array {
    const data = new Uint8Array(this.buf.byteLength - this.at);
    data.set(this.buf.subarray(this.at));
    this.at = this.buf.byteLength;
    return data;
  }

  end(): void {
    if (this.at !== this.buf.byteLength)
      throw new MalformedRecord(`has ${this.buf.byteLength - this.at} unexpected trailing bytes`);
  }

  private need(bytes: number): void {
    if (this.at + bytes > this.buf.byteLength) throw new MalformedRecord("is truncated");
  }
}

class MalformedRecord extends Error {}
