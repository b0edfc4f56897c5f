import { spawn } from "node:child_process";
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { LOG_DIR_NAME, SNAPSHOT_DIR_NAME, StoreInUseError } from "../../src/raft/io/leveldb-log-store.js";
import { Prng } from "../../src/lib/prng.js";
import { decodeConfChange } from "../../src/raft/core/conf-change-codec.js";
import { raftConfig } from "../../src/raft/core/config.js";
import { MemoryLogStorage } from "../../src/raft/core/log-storage.js";
import { RawNode } from "../../src/raft/core/raw-node.js";
import type { ConfState, Snapshot } from "../../src/raft/core/types.js";
import type { LevelDbLogStore } from "../../src/raft/io/leveldb-log-store.js";
import { CONF_R1, CONF_R123, TempDirs, entries, entry, mirrorEntries, openStore, text } from "./log-store-helpers.js";

const dirs = new TempDirs();
afterEach(() => dirs.cleanup());

async function snapshotFiles(dir: string): Promise<string[]> {
  return (await fs.readdir(path.join(dir, SNAPSHOT_DIR_NAME))).sort();
}

const NO_CONF: ConfState = { voters: [], learners: [] };

/**
 * A new store of r1, r2, r3: the membership lives in the log (committed "add-voter" entries 1..3
 * in term 1, sorted by id), not in the index-0 snapshot, so a later joiner learns it by replay.
 */
function expectBootstrapLogOfR123(store: LevelDbLogStore): void {
  expect(store.storage.initialState()).toEqual({ hardState: { term: 1, vote: "", commit: 3 }, confState: NO_CONF });
  expect(store.storage.snapshot().meta).toEqual({ index: 0, term: 0, conf: NO_CONF });
  expect(store.storage.firstIndex()).toBe(1);
  expect(store.storage.lastIndex()).toBe(3);
  const log = mirrorEntries(store);
  expect(log.map((e) => ({ index: e.index, term: e.term, type: e.type, change: decodeConfChange(e.data) }))).toEqual([
    { index: 1, term: 1, type: "conf-change", change: { type: "add-voter", replica: "r1" } },
    { index: 2, term: 1, type: "conf-change", change: { type: "add-voter", replica: "r2" } },
    { index: 3, term: 1, type: "conf-change", change: { type: "add-voter", replica: "r3" } },
  ]);
  // Byte for byte the log every other founding member (and the in-memory MemoryLogStorage.bootstrap) starts from.
  const memory = MemoryLogStorage.bootstrap(["r1", "r2", "r3"]);
  expect(log.map((e) => [...e.data])).toEqual(memory.entries(1, 4, Number.MAX_SAFE_INTEGER).map((e) => [...e.data]));
  expect(store.storage.initialState()).toEqual(memory.initialState());
  expect(store.stats()).toMatchObject({
    diskFirstIndex: 1,
    firstIndex: 1,
    lastIndex: 3,
    entriesOnDisk: 3,
    snapshotIndex: 0,
    conf: NO_CONF,
  });
}

describe("LevelDbLogStore", () => {
  it("creates a founding member's store holding the bootstrap log of its voters", async () => {
    const dir = await dirs.make();
    // Unsorted on purpose: every founding member must write the same log, whatever order it was given.
    const store = await openStore(dir, { initialConf: { voters: ["r3", "r1", "r2"], learners: [] } });
    expect(store.createdNew).toBe(true);
    expectBootstrapLogOfR123(store);
    await store.close();

    // It is on disk, not only in the mirror.
    const reopened = await openStore(dir, { initialConf: CONF_R123 });
    expect(reopened.createdNew).toBe(false);
    expectBootstrapLogOfR123(reopened);
    await reopened.close();
  });

  it("round-trips hard state and entries through close and reopen", async () => {
    const dir = await dirs.make();
    const store = await openStore(dir);
    await store.persist({ hardState: { term: 2, vote: "r1", commit: 0 }, entries: entries(1, 3, 1), snapshot: null });
    await store.persist({ hardState: { term: 2, vote: "r1", commit: 5 }, entries: entries(4, 5, 2), snapshot: null });
    const before = mirrorEntries(store);
    await store.close();

    const reopened = await openStore(dir);
    expect(reopened.createdNew).toBe(false);
    expect(reopened.storage.initialState().hardState).toEqual({ term: 2, vote: "r1", commit: 5 });
    expect(mirrorEntries(reopened)).toEqual(before);
    expect(mirrorEntries(reopened).map(text)).toEqual(["cmd-1@1", "cmd-2@1", "cmd-3@1", "cmd-4@2", "cmd-5@2"]);
    expect(reopened.storage.term(0)).toBe(0);
    expect(reopened.stats()).toMatchObject({ firstIndex: 1, lastIndex: 5, entriesOnDisk: 5, snapshotIndex: 0 });
    await reopened.close();
  });

  it("keeps entry types and empty or binary payloads intact", async () => {
    const dir = await dirs.make();
    const store = await openStore(dir);
    const data = new Uint8Array(300).map((_, i) => (i * 37) & 0xff);
    await store.persist({
      hardState: { term: 1, vote: "r1", commit: 3 },
      entries: [
        { index: 1, term: 1, type: "normal", data: new Uint8Array(0) },
        { index: 2, term: 1, type: "conf-change", data: new Uint8Array([1, 2, 3]) },
        { index: 3, term: 1, type: "normal", data },
      ],
      snapshot: null,
    });
    await store.close();
    const reopened = await openStore(dir);
    const got = mirrorEntries(reopened);
    expect(got.map((e) => e.type)).toEqual(["normal", "conf-change", "normal"]);
    expect(got[0].data).toEqual(new Uint8Array(0));
    expect(got[2].data).toEqual(data);
    await reopened.close();
  });

  it("overwrites a conflicting suffix, on disk too", async () => {
    const dir = await dirs.make();
    const store = await openStore(dir, { initialConf: CONF_R123 });
    await store.persist({ hardState: { term: 1, vote: "r2", commit: 2 }, entries: entries(1, 6, 1), snapshot: null });
    // A new leader in term 3 replaces entries 4..6 with a shorter 4..5.
    await store.persist({
      hardState: { term: 3, vote: "", commit: 2 },
      entries: [entry(4, 3, "new-4"), entry(5, 3, "new-5")],
      snapshot: null,
    });
    expect(store.storage.lastIndex()).toBe(5);
    await store.close();

    const reopened = await openStore(dir);
    expect(mirrorEntries(reopened).map(text)).toEqual(["cmd-1@1", "cmd-2@1", "cmd-3@1", "new-4", "new-5"]);
    expect(reopened.storage.lastIndex()).toBe(5);
    expect(reopened.stats().entriesOnDisk).toBe(5);
    await reopened.close();
  });

  it("persists a snapshot and compaction, keeps entries for slow followers, and removes old snapshot files", async () => {
    const dir = await dirs.make();
    const store = await openStore(dir);
    await store.persist({ hardState: { term: 1, vote: "r1", commit: 20 }, entries: entries(1, 20, 1), snapshot: null });
    const first = await store.saveSnapshot(10, CONF_R1, new TextEncoder().encode("state@10"), 3);
    expect(first.meta).toEqual({ index: 10, term: 1, conf: CONF_R1 });
    expect(store.stats()).toMatchObject({ diskFirstIndex: 8, firstIndex: 8, snapshotIndex: 10, snapshotBytes: 8 });
    const filesAfterFirst = await snapshotFiles(dir);
    expect(filesAfterFirst).toHaveLength(1);

    await store.saveSnapshot(15, CONF_R123, new TextEncoder().encode("state@15"), 2);
    const filesAfterSecond = await snapshotFiles(dir);
    expect(filesAfterSecond).toHaveLength(1);
    expect(filesAfterSecond[0]).not.toBe(filesAfterFirst[0]);
    expect(store.stats()).toMatchObject({ diskFirstIndex: 14, entriesOnDisk: 7, snapshotIndex: 15 });
    await store.close();

    const reopened = await openStore(dir);
    const snap = reopened.storage.snapshot();
    expect(snap.meta).toEqual({ index: 15, term: 1, conf: CONF_R123 });
    expect(new TextDecoder().decode(snap.data)).toBe("state@15");
    // The core restarts from the snapshot: the mirror starts right after it.
    expect(reopened.storage.firstIndex()).toBe(16);
    expect(mirrorEntries(reopened).map((e) => e.index)).toEqual([16, 17, 18, 19, 20]);
    expect(reopened.storage.initialState().confState).toEqual(CONF_R123);
    // The entries kept for slow followers are still on disk and still verified.
    expect(reopened.stats()).toMatchObject({ diskFirstIndex: 14, entriesOnDisk: 7 });
    await reopened.saveSnapshot(18, CONF_R123, new Uint8Array([1]), 0);
    expect(reopened.stats()).toMatchObject({ diskFirstIndex: 19, firstIndex: 19, entriesOnDisk: 2 });
    await reopened.close();
  });

  it("replaces the whole log with a snapshot received from the leader", async () => {
    const dir = await dirs.make();
    const store = await openStore(dir, { initialConf: CONF_R123 });
    await store.persist({ hardState: { term: 1, vote: "", commit: 3 }, entries: entries(1, 5, 1), snapshot: null });
    const received: Snapshot = {
      meta: { index: 50, term: 4, conf: CONF_R123 },
      data: new TextEncoder().encode("leader-state"),
    };
    await store.persist({
      hardState: { term: 4, vote: "", commit: 50 },
      entries: entries(51, 52, 4),
      snapshot: received,
    });
    expect(store.storage.firstIndex()).toBe(51);
    await store.close();

    const reopened = await openStore(dir, { initialConf: CONF_R123 });
    expect(reopened.storage.snapshot().meta).toEqual(received.meta);
    expect(new TextDecoder().decode(reopened.storage.snapshot().data)).toBe("leader-state");
    expect(mirrorEntries(reopened).map((e) => e.index)).toEqual([51, 52]);
    expect(reopened.stats()).toMatchObject({ diskFirstIndex: 51, entriesOnDisk: 2 });
    expect(await snapshotFiles(dir)).toHaveLength(1);
    await reopened.close();
  });

  it("drops a snapshot the application took when a newer one arrived meanwhile", async () => {
    const dir = await dirs.make();
    const store = await openStore(dir, { initialConf: CONF_R123 });
    await store.persist({ hardState: { term: 1, vote: "", commit: 5 }, entries: entries(1, 5, 1), snapshot: null });
    const received: Snapshot = { meta: { index: 50, term: 4, conf: CONF_R123 }, data: new Uint8Array([9]) };
    const saving = store.saveSnapshot(5, CONF_R123, new Uint8Array([5]), 0);
    await store.persist({ hardState: { term: 4, vote: "", commit: 50 }, entries: [], snapshot: received });
    expect((await saving).meta.index).toBe(50);
    expect(await snapshotFiles(dir)).toHaveLength(1);
    await store.close();
  });

  it("keeps the configuration it was created with when reopened with another", async () => {
    const dir = await dirs.make();
    const store = await openStore(dir, { initialConf: CONF_R123 });
    await store.close();
    const reopened = await openStore(dir, { initialConf: CONF_R1 });
    expect(reopened.createdNew).toBe(false);
    expect(reopened.createdWith).toEqual(CONF_R123);
    // Reopening never bootstraps again: the log still adds r1, r2 and r3, not r1 alone.
    expectBootstrapLogOfR123(reopened);
    // The core learns that membership by applying the bootstrap entries in its first Ready.
    const node = new RawNode(raftConfig({ id: "r1", random: new Prng(1) }), reopened.storage);
    expect(node.status().conf).toEqual(NO_CONF);
    const rd = node.ready();
    expect(rd.committedEntries.map((e) => e.index)).toEqual([1, 2, 3]);
    await reopened.persist(rd);
    node.advance(rd);
    expect(node.status()).toMatchObject({ applied: 3, commit: 3, conf: CONF_R123 });
    await reopened.close();
  });

  it("refuses a second open of a directory in use", async () => {
    const dir = await dirs.make();
    const store = await openStore(dir);
    const second = openStore(dir);
    await expect(second).rejects.toBeInstanceOf(StoreInUseError);
    await expect(second).rejects.toThrow(/in use by another replica process/);
    await store.close();
    // Once the first one is closed the directory opens again.
    const again = await openStore(dir);
    await again.close();
  });

  it("refuses a directory whose LevelDB another process holds", async () => {
    const dir = await dirs.make();
    await (await openStore(dir)).close();
    const holder = `import { ClassicLevel } from "classic-level";
      const db = new ClassicLevel(${JSON.stringify(path.join(dir, LOG_DIR_NAME))});
      await db.open();
      process.stdout.write("locked\\n");
      process.stdin.on("end", () => db.close().then(() => process.exit(0)));
      process.stdin.resume();`;
    const child = spawn(process.execPath, ["--input-type=module", "-e", holder], {
      cwd: process.cwd(),
      stdio: ["pipe", "pipe", "inherit"],
    });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.once("data", () => resolve());
        child.once("exit", (code) => reject(new Error(`lock holder exited with ${code}`)));
      });
      const error = await openStore(dir).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(StoreInUseError);
      expect((error as Error).message).toBe(
        `replica data in ${dir} is in use by another replica process (it holds the lock ${path.join(dir, LOG_DIR_NAME, "LOCK")}). ` +
          "Stop that process first, or give this replica its own --data-dir.",
      );
    } finally {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.stdin.end();
      await exited;
    }
  });

  it("finishes queued writes on close and refuses writes after it", async () => {
    const dir = await dirs.make();
    const store = await openStore(dir);
    const writes = [1, 2, 3].map((i) =>
      store.persist({ hardState: { term: 1, vote: "r1", commit: 0 }, entries: [entry(i, 1)], snapshot: null }),
    );
    await store.close();
    await Promise.all(writes);
    await expect(store.persist({ hardState: null, entries: [entry(4, 1)], snapshot: null })).rejects.toThrow(
      /after close/,
    );
    const reopened = await openStore(dir);
    expect(reopened.storage.lastIndex()).toBe(3);
    await reopened.close();
  });

  it("reports the duration of synced writes only", async () => {
    const dir = await dirs.make();
    const durations: number[] = [];
    const store = await openStore(dir, { onSyncDurationSeconds: (s) => durations.push(s) });
    await store.persist({ hardState: { term: 1, vote: "r1", commit: 0 }, entries: [entry(1, 1)], snapshot: null });
    expect(durations).toHaveLength(1);
    // A commit-only change is not synced: Raft can recompute a lost commit index.
    await store.persist({ hardState: { term: 1, vote: "r1", commit: 1 }, entries: [], snapshot: null });
    expect(durations).toHaveLength(1);
    await store.persist({ hardState: null, entries: [], snapshot: null });
    expect(durations).toHaveLength(1);
    expect(durations[0]).toBeGreaterThan(0);
    await store.close();
  });

  it("writes a commit-only change with the next batch, a compaction, or at close", async () => {
    const dir = await dirs.make();
    const store = await openStore(dir);
    await store.persist({ hardState: { term: 1, vote: "r1", commit: 0 }, entries: entries(1, 4, 1), snapshot: null });
    await store.persist({ hardState: { term: 1, vote: "r1", commit: 2 }, entries: [], snapshot: null });
    // The mirror (what the core reads) has it at once.
    expect(store.storage.persistedHardState().commit).toBe(2);
    await store.persist({ hardState: null, entries: [entry(5, 1)], snapshot: null });
    await store.persist({ hardState: { term: 1, vote: "r1", commit: 4 }, entries: [], snapshot: null });
    // The snapshot is above the commit on disk (2) but not above the mirror's (4): the batch carries both.
    await store.saveSnapshot(4, CONF_R1, new TextEncoder().encode("state@4"), 0);
    await store.persist({ hardState: { term: 1, vote: "r1", commit: 5 }, entries: [], snapshot: null });
    await store.close();

    const reopened = await openStore(dir);
    expect(reopened.storage.initialState().hardState).toEqual({ term: 1, vote: "r1", commit: 5 });
    expect(reopened.stats()).toMatchObject({ snapshotIndex: 4, lastIndex: 5 });
    await reopened.close();
  });

  it("writes a thousand entries as one batch", async () => {
    const dir = await dirs.make();
    const durations: number[] = [];
    const store = await openStore(dir, { onSyncDurationSeconds: (s) => durations.push(s) });
    await store.persist({
      hardState: { term: 1, vote: "r1", commit: 1000 },
      entries: entries(1, 1000, 1),
      snapshot: null,
    });
    expect(durations).toHaveLength(1);
    await store.close();
    const reopened = await openStore(dir);
    expect(reopened.storage.lastIndex()).toBe(1000);
    await reopened.close();
  });

  it("refuses writes that would break the log's shape before they reach the disk", async () => {
    const dir = await dirs.make();
    const store = await openStore(dir);
    await store.persist({ hardState: { term: 1, vote: "r1", commit: 0 }, entries: entries(1, 3, 1), snapshot: null });
    await expect(store.persist({ hardState: null, entries: [entry(5, 1)], snapshot: null })).rejects.toThrow(
      /leaves a gap/,
    );
    await expect(store.persist({ hardState: null, entries: [], snapshot: null })).rejects.toThrow(
      /failed an earlier write/,
    );
    await store.close();
  });
});
