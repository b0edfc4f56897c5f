import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { setImmediate } from "node:timers/promises";
import { crc32 } from "node:zlib";
import type { Result } from "../../lib/errors.js";
import { err, ok } from "../../lib/errors.js";

/**
 * Snapshot data lives in plain files next to the LevelDB directory: it can be hundreds of
 * megabytes, far beyond what belongs in a LevelDB value. A file becomes visible atomically
 * (temp file, fsync, rename, fsync the directory) and is only trusted through the synced
 * metadata record that names it with its size and checksum.
 */

const TEMP_SUFFIX = ".tmp";
const SNAPSHOT_FILE_PATTERN = /^snapshot-\d+-\d+-[0-9a-f]+\.bin(\.tmp)?$/;
/** CRC over this many bytes at a time keeps each synchronous slice of work short. */
const CRC_CHUNK_BYTES = 8 * 1024 * 1024;

export interface WrittenSnapshotFile {
  readonly fileName: string;
  readonly bytes: number;
  readonly crc: number;
}

/**
 * A fresh name per write: a name is never reused, so a write can never clobber the file the
 * current metadata points at, even for a snapshot at the same index.
 */
export function snapshotFileName(index: number, term: number): string {
  return `snapshot-${index}-${term}-${randomBytes(4).toString("hex")}.bin`;
}

export function isSnapshotFileName(name: string): boolean {
  return SNAPSHOT_FILE_PATTERN.test(name);
}

/** CRC-32 of `data`, yielding to the event loop between chunks so a large snapshot does not stall ticks. */
export async function checksum(data: Uint8Array): Promise<number> {
  let crc = 0;
  for (let at = 0; at < data.byteLength; at += CRC_CHUNK_BYTES) {
    if (at > 0) await setImmediate();
    crc = crc32(data.subarray(at, Math.min(at + CRC_CHUNK_BYTES, data.byteLength)), crc);
  }
  return crc;
}

/** Writes `data` durably as `dir/fileName`: once this resolves the file survives a crash. */
export async function writeSnapshotFile(dir: string, fileName: string, data: Uint8Array): Promise<WrittenSnapshotFile> {
  const finalPath = path.join(dir, fileName);
  const tempPath = finalPath + TEMP_SUFFIX;
  const handle = await fs.open(tempPath, "w");
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.rename(tempPath, finalPath);
  await fsyncDirectory(dir);
  return { fileName, bytes: data.byteLength, crc: await checksum(data) };
}

/** Reads a snapshot file and checks it against its metadata; the error completes "the snapshot file ...". */
export async function readSnapshotFile(
  filePath: string,
  bytes: number,
  crc: number,
): Promise<Result<Uint8Array, string>> {
  let size: number;
  try {
    size = (await fs.stat(filePath)).size;
  } catch (e) {
    if (isErrnoException(e) && e.code === "ENOENT") return err("is missing");
    throw e;
  }
  if (size !== bytes) {
    const how = size < bytes ? "is truncated" : "is longer than recorded";
    return err(`${how}: it has ${size} bytes but its metadata records ${bytes}`);
  }
  const buf = await fs.readFile(filePath);
  const data = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  if ((await checksum(data)) !== crc) return err("fails its checksum");
  return ok(data);
}

/** Makes a rename or create in `dir` durable. */
export async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await fs.open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Deletes a file that is no longer referenced; a failure only leaves garbage that the next open removes. */
export async function removeQuietly(filePath: string): Promise<void> {
  try {
    await fs.unlink(filePath);
  } catch {
    // Left for the cleanup on the next open.
  }
}

/** Snapshot files (and interrupted temp files) in `dir` other than `keep`. */
export async function staleSnapshotFiles(dir: string, keep: string): Promise<string[]> {
  const names = await fs.readdir(dir);
  return names.filter((name) => isSnapshotFileName(name) && name !== keep);
}

export function isErrnoException(e: unknown): e is NodeJS.ErrnoException {
  return e instanceof Error && "code" in e;
}
