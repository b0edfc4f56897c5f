import { promises as fs } from "node:fs";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { CorruptStoreError, LOG_DIR_NAME, SNAPSHOT_DIR_NAME } from "../../src/raft/io/leveldb-log-store.js";
import { META_KEYS, encodeHardState, entryKey } from "../../src/raft/io/log-store-codec.js";
import { CONF_R1, TempDirs, entries, openStore, withRawDb } from "./log-store-helpers.js";

/**
 * Each test builds a healthy store, damages it behind the store's back (bit rot, a lost
 * write, a truncated file), and checks that open refuses it with a message naming the problem.
 */

const dirs = new TempDirs();
afterEach(() => dirs.cleanup());

/** A closed store with entries 1..10 in term 1, commit 8, and (optionally) a snapshot at 5 keeping 2 entries. */
async function healthyStore(options: { snapshot: boolean }): Promise<string> {
  const dir = await dirs.make();
  const store = await openStore(dir);
  await store.persist({ hardState: { term: 1, vote: "r1", commit: 8 }, entries: entries(1, 10, 1), snapshot: null });
  if (options.snapshot) await store.saveSnapshot(5, CONF_R1, new TextEncoder().encode("x".repeat(1000)), 2);
  await store.close();
  return dir;
}

async function openError(dir: string): Promise<CorruptStoreError> {
  try {
    const store = await openStore(dir);
    await store.close();
  } catch (e) {
    expect(e).toBeInstanceOf(CorruptStoreError);
    return e as CorruptStoreError;
  }
  throw new Error("open succeeded on a damaged store");
}

async function snapshotFile(dir: string): Promise<string> {
  const names = await fs.readdir(path.join(dir, SNAPSHOT_DIR_NAME));
  expect(names).toHaveLength(1);
  return path.join(dir, SNAPSHOT_DIR_NAME, names[0]);
}

describe("LevelDbLogStore corruption detection", () => {
  it("refuses an entry whose value fails its checksum", async () => {
    const dir = await healthyStore({ snapshot: false });
    await withRawDb(dir, async (db) => {
      const value = (await db.get(entryKey(7)))!;
      value[value.byteLength - 1] ^= 0x01;
      await db.put(entryKey(7), value);
    });
    const error = await openError(dir);
    expect(error.problem).toBe("raft log entry 7 fails its checksum");
    expect(error.path).toBe(path.join(dir, LOG_DIR_NAME));
    expect(error.message).toContain(
      `replica data in ${dir} is corrupt: raft log entry 7 fails its checksum (LevelDB at ${path.join(dir, LOG_DIR_NAME)})`,
    );
    expect(error.message).toContain(`mv ${dir} ${dir}.corrupt`);
    expect(error.message).toContain("Do not restart this replica with an empty directory under the same id");
  });

  it("refuses a log with an entry missing in the middle", async () => {
    const dir = await healthyStore({ snapshot: false });
    await withRawDb(dir, (db) => db.del(entryKey(4)));
    expect((await openError(dir)).problem).toBe("raft log entry 4 is missing (the log jumps from 3 to 5)");
  });

  it("refuses a log whose first entries are missing", async () => {
    const dir = await healthyStore({ snapshot: false });
    await withRawDb(dir, (db) =>
      db.batch([
        { type: "del", key: entryKey(1) },
        { type: "del", key: entryKey(2) },
      ]),
    );
    expect((await openError(dir)).problem).toBe(
      "raft log entries 1..2 are missing (the log should start at 1 but starts at 3)",
    );
  });

  it("refuses a log whose tail was lost", async () => {
    const dir = await healthyStore({ snapshot: false });
    await withRawDb(dir, (db) =>
      db.batch([
        { type: "del", key: entryKey(10) },
        { type: "del", key: entryKey(9) },
      ]),
    );
    expect((await openError(dir)).problem).toMatch(
      /raft log entries 9\.\.10 are missing: the log ends at 8 but its bounds record says 10/,
    );
  });

  it("refuses an entry stored under another index", async () => {
    const dir = await healthyStore({ snapshot: false });
    await withRawDb(dir, async (db) => db.put(entryKey(6), (await db.get(entryKey(5)))!));
    expect((await openError(dir)).problem).toBe("raft log entry 6 holds the contents of entry 5");
  });

  it("refuses a hard state that commits beyond the log", async () => {
    const dir = await healthyStore({ snapshot: false });
    await withRawDb(dir, (db) => db.put(META_KEYS.hardState, encodeHardState({ term: 1, vote: "r1", commit: 15 })));
    expect((await openError(dir)).problem).toBe(
      "the hard state says entry 15 is committed but the log ends at 10 (committed entries are lost)",
    );
  });

  it("refuses a hard state record that fails its checksum", async () => {
    const dir = await healthyStore({ snapshot: false });
    await withRawDb(dir, async (db) => {
      const value = (await db.get(META_KEYS.hardState))!;
      value[6] ^= 0x40;
      await db.put(META_KEYS.hardState, value);
    });
    expect((await openError(dir)).problem).toBe("the hard state record (key m/hard-state) fails its checksum");
  });

  it("refuses a store whose metadata is gone", async () => {
    const dir = await healthyStore({ snapshot: false });
    await withRawDb(dir, (db) => db.del(META_KEYS.format));
    expect((await openError(dir)).problem).toMatch(
      /format record \(key m\/format\) is missing although the store holds data/,
    );
  });

  it("refuses a truncated snapshot file", async () => {
    const dir = await healthyStore({ snapshot: true });
    const file = await snapshotFile(dir);
    await fs.truncate(file, 400);
    const error = await openError(dir);
    expect(error.problem).toBe(
      "the snapshot file for index 5 is truncated: it has 400 bytes but its metadata records 1000",
    );
    expect(error.path).toBe(file);
    expect(error.message).toContain(`(file ${file})`);
  });

  it("refuses a snapshot file that fails its checksum", async () => {
    const dir = await healthyStore({ snapshot: true });
    const file = await snapshotFile(dir);
    const data = await fs.readFile(file);
    data[500] ^= 0xff;
    await fs.writeFile(file, data);
    expect((await openError(dir)).problem).toBe("the snapshot file for index 5 fails its checksum");
  });

  it("refuses a missing snapshot file", async () => {
    const dir = await healthyStore({ snapshot: true });
    await fs.rm(await snapshotFile(dir));
    expect((await openError(dir)).problem).toBe("the snapshot file for index 5 is missing");
  });

  it("refuses snapshot files without their raft log", async () => {
    const dir = await healthyStore({ snapshot: true });
    await fs.rm(path.join(dir, LOG_DIR_NAME), { recursive: true });
    expect((await openError(dir)).problem).toMatch(/the raft log is empty but snapshot files exist/);
  });

  it("opens a healthy store after a crash left a temp snapshot file behind, and removes it", async () => {
    const dir = await healthyStore({ snapshot: true });
    const leftover = path.join(dir, SNAPSHOT_DIR_NAME, "snapshot-9-1-deadbeef.bin.tmp");
    await fs.writeFile(leftover, "half written");
    const store = await openStore(dir);
    await expect(fs.stat(leftover)).rejects.toThrow(/ENOENT/);
    await store.close();
  });
});
