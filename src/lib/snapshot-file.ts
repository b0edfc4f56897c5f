import { createHash, type Hash } from "node:crypto";
import { promises as fs, constants as fsConstants } from "node:fs";
import * as path from "node:path";
import { assert } from "./assert.js";
import { err, ok, type Result } from "./errors.js";

/**
 * A backup file of the cluster state (`orchctl snapshot save`), read by `orchctl snapshot
 * inspect` and `orchestrator restore`:
 *
 *   "ORCHSNAP" | u32 file format | u32 header bytes | header (JSON) | body | SHA-256 (32 bytes)
 *
 * The body is the FSM snapshot (an orchestrator.v1.FsmSnapshot). The SHA-256 covers everything
 * before it, header included, so a flipped bit anywhere is found; the header states the body's
 * length, so a truncated file is told apart from a corrupted one. The file format comes before
 * the header, so a file from a newer build is refused as such, not as garbage.
 */
export const snapshotFileFormat = 1;
const magic = Buffer.from("ORCHSNAP", "latin1");
const prefixBytes = magic.byteLength + 4 + 4;
const checksumBytes = 32;
/** A header is a few hundred bytes; anything this large means the length field is garbage. */
const headerBytesMax = 1024 * 1024;

export interface SnapshotFileMember {
  readonly id: string;
  readonly raft: string;
  readonly api: string;
}

export interface SnapshotFileHeader {
  /** The committed Raft index the state is at, and the term of that entry. */
  readonly index: number;
  readonly term: number;
  readonly voters: readonly string[];
  readonly learners: readonly string[];
  /** Addresses of the members, where the leader knew them ("" when not). */
  readonly members: readonly SnapshotFileMember[];
  readonly clusterId: string;
  /** ISO 8601, when orchctl wrote the file. */
  readonly createdAt: string;
  /** FsmSnapshot.format_version of the body. */
  readonly fsmFormatVersion: number;
  readonly bodyBytes: number;
  /** The replica that served the snapshot. */
  readonly leaderId: string;
}

export interface SnapshotFileContents {
  readonly header: SnapshotFileHeader;
  readonly body: Uint8Array;
  /** Hex SHA-256 of the file (header and body), as stored in it. */
  readonly checksum: string;
  readonly fileBytes: number;
}

/**
 * Writes a backup file without ever leaving a partial one under its name: FILE.tmp is written,
 * fsynced and renamed over FILE (and the directory fsynced), so FILE is either absent, the old
 * file or the whole new one. Refuses an existing FILE unless `overwrite`.
 */
export class SnapshotFileWriter {
  private bodyWritten = 0;
  private readonly hash: Hash = createHash("sha256");

  private constructor(
    private readonly file: string,
    private readonly handle: fs.FileHandle,
    private readonly header: SnapshotFileHeader,
    private readonly overwrite: boolean,
  ) {}

  static async create(file: string, header: SnapshotFileHeader, overwrite: boolean): Promise<SnapshotFileWriter> {
    await refuseExisting(file, overwrite);
    const handle = await fs.open(tmpPath(file), "w");
    const writer = new SnapshotFileWriter(file, handle, header, overwrite);
    try {
      await writer.put(encodeHead(header));
    } catch (error) {
      await writer.abort();
      throw error;
    }
    return writer;
  }

  async writeBody(chunk: Uint8Array): Promise<void> {
    assert(this.bodyWritten + chunk.byteLength <= this.header.bodyBytes, "more body than the header announced");
    this.bodyWritten += chunk.byteLength;
    await this.put(chunk);
  }

  /** Seals the file and moves it into place; returns its checksum. */
  async finish(): Promise<string> {
    assert(this.bodyWritten === this.header.bodyBytes, "less body than the header announced");
    const checksum = this.hash.digest();
    await this.handle.write(checksum);
    await this.handle.sync();
    await this.handle.close();
    await refuseExisting(this.file, this.overwrite);
    await fs.rename(tmpPath(this.file), this.file);
    const dir = await fs.open(path.dirname(path.resolve(this.file)), "r");
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
    return checksum.toString("hex");
  }

  /** Drops the partial FILE.tmp. */
  async abort(): Promise<void> {
    await this.handle.close().catch(() => undefined);
    await fs.rm(tmpPath(this.file), { force: true });
  }

  private async put(bytes: Uint8Array): Promise<void> {
    this.hash.update(bytes);
    await this.handle.write(bytes);
  }
}

/** Reads and checks a backup file; the error says what is wrong in words a person can act on. */
export async function readSnapshotFile(file: string): Promise<Result<SnapshotFileContents, string>> {
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(file);
  } catch (error) {
    return err(`cannot read ${file}: ${(error as Error).message}`);
  }
  return parseSnapshotFile(bytes, file);
}

export function parseSnapshotFile(bytes: Buffer, file: string): Result<SnapshotFileContents, string> {
  const refused = (problem: string) => err(`${file} is not a usable snapshot: ${problem}`);
  if (bytes.byteLength < prefixBytes || !bytes.subarray(0, magic.byteLength).equals(magic)) {
    return bytes.byteLength < magic.byteLength && magic.subarray(0, bytes.byteLength).equals(bytes)
      ? refused(`it is truncated (${bytes.byteLength} bytes)`)
      : refused("it is not an orchestrator snapshot file (wrong magic bytes)");
  }
  const format = bytes.readUInt32BE(magic.byteLength);
  if (format > snapshotFileFormat)
    return refused(
      `it has file format ${format}, written by a newer orchestrator; this build reads format ${snapshotFileFormat} (upgrade orchctl/orchestrator to read it)`,
    );
  if (format < 1) return refused(`it has an invalid file format ${format}`);
  const headerBytes = bytes.readUInt32BE(magic.byteLength + 4);
  if (headerBytes > headerBytesMax) return refused(`its header length ${headerBytes} is impossible (corrupted)`);
  if (bytes.byteLength < prefixBytes + headerBytes)
    return refused(`it is truncated (${bytes.byteLength} bytes, within its header)`);
  const header = parseHeader(bytes.subarray(prefixBytes, prefixBytes + headerBytes));
  if (!header.ok) return refused(`its header ${header.error} (corrupted)`);
  const expectedBytes = prefixBytes + headerBytes + header.value.bodyBytes + checksumBytes;
  if (bytes.byteLength < expectedBytes)
    return refused(
      `it is truncated: ${bytes.byteLength} bytes, the header announces ${expectedBytes} (copy the file again or take a new snapshot)`,
    );
  if (bytes.byteLength > expectedBytes)
    return refused(`it has ${bytes.byteLength - expectedBytes} bytes after its end (corrupted or concatenated)`);
  const sealed = bytes.byteLength - checksumBytes;
  const checksum = createHash("sha256").update(bytes.subarray(0, sealed)).digest();
  if (!checksum.equals(bytes.subarray(sealed)))
    return refused("its SHA-256 checksum does not match its contents (corrupted); use another copy");
  return ok({
    header: header.value,
    body: bytes.subarray(prefixBytes + headerBytes, sealed),
    checksum: checksum.toString("hex"),
    fileBytes: bytes.byteLength,
  });
}

function encodeHead(header: SnapshotFileHeader): Buffer {
  const json = Buffer.from(JSON.stringify(header), "utf8");
  assert(json.byteLength <= headerBytesMax, "snapshot header too large");
  const prefix = Buffer.alloc(prefixBytes);
  magic.copy(prefix, 0);
  prefix.writeUInt32BE(snapshotFileFormat, magic.byteLength);
  prefix.writeUInt32BE(json.byteLength, magic.byteLength + 4);
  return Buffer.concat([prefix, json]);
}

function parseHeader(bytes: Buffer): Result<SnapshotFileHeader, string> {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString("utf8"));
  } catch {
    return err("is not valid JSON");
  }
  if (typeof value !== "object" || value === null) return err("is not an object");
  const h = value as Record<string, unknown>;
  const count = (name: string) => typeof h[name] === "number" && Number.isSafeInteger(h[name]) && h[name] >= 0;
  const text = (name: string) => typeof h[name] === "string";
  const texts = (name: string) => Array.isArray(h[name]) && h[name].every((item) => typeof item === "string");
  for (const name of ["index", "term", "fsmFormatVersion", "bodyBytes"]) if (!count(name)) return err(`lacks ${name}`);
  for (const name of ["clusterId", "createdAt", "leaderId"]) if (!text(name)) return err(`lacks ${name}`);
  for (const name of ["voters", "learners"]) if (!texts(name)) return err(`lacks ${name}`);
  if (!Array.isArray(h["members"])) return err("lacks members");
  return ok(value as SnapshotFileHeader);
}

async function refuseExisting(file: string, overwrite: boolean): Promise<void> {
  if (overwrite) return;
  try {
    await fs.access(file, fsConstants.F_OK);
  } catch {
    return;
  }
  throw new SnapshotFileExistsError(file);
}

function tmpPath(file: string): string {
  return `${file}.tmp`;
}

/** orchctl never overwrites a file it was not told to. */
export class SnapshotFileExistsError extends Error {
  constructor(readonly file: string) {
    super(`${file} already exists; choose another name or pass --force to replace it`);
    this.name = "SnapshotFileExistsError";
  }
}
