import { promises as fs } from "node:fs";
import * as path from "node:path";
import { ClassicLevel } from "classic-level";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ListDeploymentsRequest } from "../../src/gen/orchestrator/v1/orchestrator.js";
import { LOG_DIR_NAME, SNAPSHOT_DIR_NAME } from "../../src/raft/io/leveldb-log-store.js";
import { ENTRY_KEY_END, ENTRY_KEY_MIN, entryIndexFromKey } from "../../src/raft/io/log-store-codec.js";
import { TestCluster, waitFor } from "./harness.js";
import { deployMany } from "./write-load.js";

/**
 * Coming back: a replica restarts from its own disk; the whole cluster survives a simultaneous
 * crash; a replica that missed more than the leader keeps in its log catches up by snapshot; and
 * a replica whose data was damaged refuses to start, saying what is wrong and what to do.
 *
 * Snapshots every 50 entries, keeping only 10 behind each, so a short outage outruns the log.
 */

const snapshotEveryEntries = 50;
const snapshotKeepEntries = 10;

let cluster: TestCluster;
/** Every deployment the cluster acknowledged in this file. */
const acknowledged: string[] = [];

beforeAll(async () => {
  cluster = await TestCluster.start({
    name: "recovery",
    extraArgs: ["--snapshot-every", String(snapshotEveryEntries), "--snapshot-keep", String(snapshotKeepEntries)],
  });
  await cluster.waitForLeader();
}, 60_000);

afterEach(async (context) => {
  if (context.task.result?.state === "fail" && context.task.fails !== true) await cluster.dumpLogs();
});

afterAll(async () => {
  await cluster?.close();
}, 60_000);

async function deployWithOrchctl(name: string): Promise<void> {
  const result = await cluster.orchctl(["deploy", name, "--image", "nginx:1.27", "--cpu", "100m", "--memory", "64Mi"]);
  expect(result.code, result.stderr).toBe(0);
  acknowledged.push(name);
}

async function staleNames(id: string): Promise<Set<string>> {
  const list = await cluster.call(id, "listDeployments", ListDeploymentsRequest.fromPartial({ stale: true }));
  return new Set(list.deployments.map((d) => d.spec!.name));
}

/** Waits until replica `id` holds every acknowledged deployment and has applied what the leader had committed. */
async function waitCaughtUp(id: string, leaderId: string, timeoutMs = 30_000): Promise<void> {
  const commit = (await cluster.status(leaderId)).commitIndex;
  await waitFor(
    `replica ${id} to catch up to commit ${commit} with all ${acknowledged.length} acknowledged deployments`,
    async () => {
      const status = await cluster.status(id);
      if (status.appliedIndex < commit) return false;
      const have = await staleNames(id);
      return acknowledged.every((n) => have.has(n));
    },
    { timeoutMs, intervalMs: 100 },
  );
}

/** Flips one bit of the last byte of the newest raft log entry on disk; returns its index. Call it again to undo. */
async function flipNewestEntry(dataDir: string, index?: number): Promise<number> {
  const db = new ClassicLevel<Buffer, Buffer>(path.join(dataDir, LOG_DIR_NAME), {
    keyEncoding: "buffer",
    valueEncoding: "buffer",
  });
  await db.open();
  try {
    let key: Buffer | undefined;
    let value: Buffer | undefined;
    for await (const [k, v] of db.iterator({ gte: ENTRY_KEY_MIN, lt: ENTRY_KEY_END, reverse: true })) {
      if (index === undefined || entryIndexFromKey(k) === index) {
        key = k;
        value = v;
        break;
      }
    }
    if (key === undefined || value === undefined)
      throw new Error(`no raft log entry ${index ?? ""} on disk in ${dataDir}`);
    value[value.byteLength - 1] ^= 0x01;
    await db.put(key, value);
    return entryIndexFromKey(key)!;
  } finally {
    await db.close();
  }
}

describe("recovery", () => {
  it("a killed follower restarts from its own disk and catches up", async () => {
    const { leaderId, term } = await cluster.waitForLeader();
    const follower = cluster.followersOf(leaderId)[0];
    for (let i = 0; i < 5; i++) await deployWithOrchctl(`disk-a-${i}`);
    await waitCaughtUp(follower, leaderId);

    expect(await cluster.kill(follower, "SIGKILL")).toBeNull();
    for (let i = 0; i < 5; i++) await deployWithOrchctl(`disk-b-${i}`);
    cluster.restart(follower);
    await waitCaughtUp(follower, leaderId);

    // It started from its own hard state (a wiped replica would start in term 1).
    const started = (await cluster.logLines(follower)).filter((l) => l.msg === "replica started");
    expect(started).toHaveLength(2);
    expect(started[1].term).toBeGreaterThanOrEqual(term);
    await waitFor(
      `${follower} to report ready`,
      async () => (await fetch(`http://${cluster.cluster.replica(follower).metricsAddress}/readyz`)).status === 200,
    );
    // And it rejoined as a follower without disturbing the leader.
    expect(await cluster.waitForLeader({ among: cluster.ids() })).toEqual({ leaderId, term });
  });

  it("a SIGKILL of every replica at once loses nothing acknowledged", async () => {
    await Promise.all(cluster.ids().map((id) => cluster.kill(id, "SIGKILL")));
    expect(cluster.running()).toEqual([]);
    for (const id of cluster.ids()) cluster.restart(id);
    const { leaderId } = await cluster.waitForLeader({ among: cluster.ids() });
    const result = await cluster.orchctl(["list", "-o", "json"]);
    expect(result.code, result.stderr).toBe(0);
    const listed = new Set(
      (JSON.parse(result.stdout) as { deployments: { name: string }[] }).deployments.map((d) => d.name),
    );
    expect(acknowledged.filter((n) => !listed.has(n))).toEqual([]);
    for (const id of cluster.ids()) await waitCaughtUp(id, leaderId);
  });

  it("a follower that was down while the log was compacted catches up by snapshot", async () => {
    const { leaderId } = await cluster.waitForLeader({ among: cluster.ids() });
    const follower = cluster.followersOf(leaderId)[0];
    const appliedAtKill = await cluster.metric(follower, "orchestrator_raft_applied_index");
    expect(await cluster.kill(follower, "SIGKILL")).toBeNull();

    await deployMany(cluster, leaderId, "snap", 220, (name, response) => {
      expect(response.created).toBe(true);
      acknowledged.push(name);
    });
    // The leader compacted its log past everything the follower has.
    const leaderSnapshot = await cluster.metric(leaderId, "orchestrator_raft_snapshot_index");
    expect(leaderSnapshot - snapshotKeepEntries).toBeGreaterThan(appliedAtKill);
    expect((await cluster.logLines(leaderId)).some((l) => l.msg === "snapshot taken, log compacted")).toBe(true);

    cluster.restart(follower);
    await waitCaughtUp(follower, leaderId);

    // The leader streamed it a snapshot newer than anything it had...
    const sent = await waitFor(
      `a "snapshot sent" to ${follower} past index ${appliedAtKill} in the leader's log`,
      async () =>
        (await cluster.logLines(leaderId)).find(
          (l) => l.msg === "snapshot sent" && l.peer === follower && Number(l.index) > appliedAtKill,
        ),
    );
    // ...which the follower installed: its snapshot is at least that new.
    expect(await cluster.metric(follower, "orchestrator_raft_snapshot_index")).toBeGreaterThanOrEqual(
      Number(sent.index),
    );
    for (const id of cluster.ids()) await waitCaughtUp(id, leaderId);
  });

  it("refuses to start from a log entry that fails its checksum, naming the entry and what to do", async () => {
    const { leaderId } = await cluster.waitForLeader({ among: cluster.ids() });
    const follower = cluster.followersOf(leaderId)[0];
    expect(await cluster.kill(follower, "SIGTERM")).toBe(0);
    const dataDir = cluster.dataDir(follower);
    const index = await flipNewestEntry(dataDir);

    cluster.restart(follower);
    const code = await cluster.exitOf(follower);
    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
    const log = await cluster.log(follower);
    expect(log).toContain(
      `error: replica data in ${dataDir} is corrupt: raft log entry ${index} fails its checksum (LevelDB at ${path.join(dataDir, LOG_DIR_NAME)}). Not starting, so no bad data is served.`,
    );
    expect(log).toContain(
      `Keep it for inspection (mv ${dataDir} ${dataDir}.corrupt). Do not restart this replica with an empty directory`,
    );

    // The other two keep serving.
    await deployWithOrchctl("while-one-is-corrupt");
    await flipNewestEntry(dataDir, index); // undo, for the next test
  });

  it("refuses a truncated snapshot file, naming the file and what to do", async () => {
    const [follower] = stoppedReplicas();
    expect(follower, "the replica stopped by the previous test").toBeDefined();
    const dataDir = cluster.dataDir(follower);
    const snapshotDir = path.join(dataDir, SNAPSHOT_DIR_NAME);
    const files = (await fs.readdir(snapshotDir)).filter((f) => f.endsWith(".bin"));
    expect(files).toHaveLength(1);
    const file = path.join(snapshotDir, files[0]);
    const bytes = (await fs.stat(file)).size;
    await fs.truncate(file, Math.floor(bytes / 2));

    cluster.restart(follower);
    const code = await cluster.exitOf(follower);
    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
    const log = await cluster.log(follower);
    expect(log).toMatch(
      new RegExp(
        `error: replica data in ${escape(dataDir)} is corrupt: the snapshot file for index \\d+ is truncated: it has ${Math.floor(bytes / 2)} bytes but its metadata records ${bytes} \\(file ${escape(file)}\\)`,
      ),
    );
    expect(log).toContain(`mv ${dataDir} ${dataDir}.corrupt`);
    await deployWithOrchctl("while-one-has-a-bad-snapshot");
  });
});

function stoppedReplicas(): string[] {
  const running = cluster.running();
  return cluster.ids().filter((id) => !running.includes(id));
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
