import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ClassicLevel } from "classic-level";
import type { LevelDbLogStoreOptions } from "../../src/raft/io/leveldb-log-store.js";
import { LOG_DIR_NAME, LevelDbLogStore } from "../../src/raft/io/leveldb-log-store.js";
import type { ConfState, Entry } from "../../src/raft/core/types.js";

/** Shared fixtures for the LevelDB log store tests: temp dirs, entries, raw LevelDB access. */

export const CONF_R1: ConfState = { voters: ["r1"], learners: [] };
export const CONF_R123: ConfState = { voters: ["r1", "r2", "r3"], learners: [] };

export class TempDirs {
  private readonly dirs: string[] = [];

  async make(): Promise<string> {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "log-store-"));
    this.dirs.push(dir);
    return path.join(dir, "r1");
  }

  async cleanup(): Promise<void> {
    for (const dir of this.dirs.splice(0)) await fs.rm(dir, { recursive: true, force: true });
  }
}

export function entry(index: number, term: number, text = `cmd-${index}@${term}`): Entry {
  return { index, term, type: "normal", data: new TextEncoder().encode(text) };
}

export function entries(lo: number, hi: number, term: number): Entry[] {
  const result: Entry[] = [];
  for (let i = lo; i <= hi; i++) result.push(entry(i, term));
  return result;
}

export function openStore(dir: string, options: Partial<LevelDbLogStoreOptions> = {}): Promise<LevelDbLogStore> {
  return LevelDbLogStore.open(dir, { initialConf: CONF_R1, ...options });
}

/** Opens the store's LevelDB directly (the store must be closed), to simulate bit rot and lost writes. */
export async function withRawDb(dir: string, fn: (db: ClassicLevel<Buffer, Buffer>) => Promise<void>): Promise<void> {
  const db = new ClassicLevel<Buffer, Buffer>(path.join(dir, LOG_DIR_NAME), {
    keyEncoding: "buffer",
    valueEncoding: "buffer",
  });
  await db.open();
  try {
    await fn(db);
  } finally {
    await db.close();
  }
}

/** The mirror's entries as plain objects, for comparisons. */
export function mirrorEntries(store: LevelDbLogStore): Entry[] {
  const { storage } = store;
  if (storage.lastIndex() < storage.firstIndex()) return [];
  return storage.entries(storage.firstIndex(), storage.lastIndex() + 1, Number.MAX_SAFE_INTEGER);
}

export function text(e: Entry): string {
  return new TextDecoder().decode(e.data);
}
