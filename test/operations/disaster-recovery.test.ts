import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnLogged, type LoggedChild } from "../../dev/local-cluster/spawn-logged.js";
import { serverEntry } from "../../dev/local-cluster/process-cluster.js";
import { decodeSnapshot } from "../../src/fsm/index.js";
import { readSnapshotFile } from "../../src/lib/snapshot-file.js";
import { orchctl, TestCluster, waitFor } from "../cluster/harness.js";
import { orchctlJson, readLog, trackPid } from "./harness.js";

/**
 * A backup taken under write load holds every write acknowledged before it started, and the
 * writes go on meanwhile; --force-new-cluster on the last replica standing after two of three
 * were SIGKILLed keeps every acknowledged write and takes new ones.
 */
describe("snapshot under load, and recovery from a lost majority", () => {
  let cluster: TestCluster;
  let survivorProcess: LoggedChild | undefined;
  /** Every deployment whose deploy was acknowledged, with when (performance.now()). */
  const acknowledged: { name: string; atMs: number }[] = [];

  beforeAll(async () => {
    cluster = await TestCluster.start({ name: "disaster-recovery" });
    await cluster.waitForLeader();
  }, 60_000);

  afterAll(async () => {
    if (survivorProcess !== undefined) {
      survivorProcess.child.kill("SIGKILL");
      await survivorProcess.exited;
    }
    await cluster?.close();
  }, 60_000);

  /** Deploys w-0, w-1, ... one after another until `stop` says so, recording each acknowledgement. */
  async function writeUntil(stop: () => boolean): Promise<void> {
    for (let i = acknowledged.length; !stop(); i++) {
      const name = `w-${i}`;
      const result = await orchctl(["--endpoints", cluster.endpoints(), "deploy", name, "--image", "app:1"]);
      if (result.code === 0) acknowledged.push({ name, atMs: performance.now() });
    }
  }

  it("saves under write load a snapshot holding every write acknowledged before the save started", async () => {
    let done = false;
    const writer = writeUntil(() => done);
    await waitFor("some writes", () => acknowledged.length >= 20, { timeoutMs: 60_000 });
    const file = path.join(cluster.root, "under-load.snap");
    const startedMs = performance.now();
    const saved = await orchctl(["--endpoints", cluster.endpoints(), "snapshot", "save", file]);
    expect(saved.code, saved.stderr).toBe(0);
    // Writes are still acknowledged after the save: it did not stop them.
    const countAtSave = acknowledged.length;
    await waitFor("a write acknowledged after the save", () => acknowledged.length > countAtSave, {
      timeoutMs: 30_000,
    });
    done = true;
    await writer;
    const read = await readSnapshotFile(file);
    if (!read.ok) throw new Error(read.error);
    const inSnapshot = new Set(decodeSnapshot(read.value.body).deployments.keys());
    const before = acknowledged.filter((w) => w.atMs < startedMs);
    expect(before.length).toBeGreaterThanOrEqual(20);
    expect(before.filter((w) => !inSnapshot.has(w.name))).toEqual([]);
  }, 120_000);

  it("keeps every acknowledged write after two of three are SIGKILLed and the survivor forces a new cluster", async () => {
    const { leaderId } = await cluster.waitForLeader();
    const survivor = cluster.followersOf(leaderId)[0];
    let done = false;
    const writer = writeUntil(() => done);
    await waitFor("more writes", () => acknowledged.length >= 40, { timeoutMs: 60_000 });
    done = true;
    await writer;
    // The survivor has applied everything acknowledged (a linearizable read served by it alone).
    await cluster.call(survivor, "listDeployments", { stale: false });
    for (const id of cluster.ids()) if (id !== survivor) await cluster.kill(id, "SIGKILL");
    await cluster.kill(survivor, "SIGKILL");

    const replica = cluster.cluster.replica(survivor);
    const oldLog = await cluster.log(survivor);
    const oldClusterId = /"clusterId":"([0-9a-f]+)"/.exec(oldLog)?.[1];
    expect(oldClusterId).toBeDefined();
    survivorProcess = spawnLogged({
      command: process.execPath,
      args: [
        serverEntry(),
        "--id",
        survivor,
        "--peers",
        `${survivor}=${replica.raftAddress}`,
        "--peer-apis",
        `${survivor}=${replica.apiAddress}`,
        "--metrics",
        replica.metricsAddress,
        "--data-dir",
        replica.dataDir,
        "--force-new-cluster",
      ],
      log: { file: path.join(cluster.root, "survivor.log") },
    });
    trackPid(survivorProcess.child.pid);
    const endpoint = replica.apiAddress;
    const listed = (await waitFor(
      "the survivor to lead its new cluster and list",
      async () => orchctlJson(endpoint, ["list"]),
      { timeoutMs: 60_000, intervalMs: 250 },
    )) as { deployments: { name: string }[] };
    const names = new Set(listed.deployments.map((d) => d.name));
    expect(acknowledged.filter((w) => !names.has(w.name)).map((w) => w.name)).toEqual([]);
    // It takes new writes, alone.
    const write = await orchctl(["--endpoints", endpoint, "deploy", "after-recovery", "--image", "app:2"]);
    expect(write.code, write.stderr).toBe(0);
    const status = (await orchctlJson(endpoint, ["cluster"])) as { members: { id: string }[]; role: string };
    expect(status.role).toBe("leader");
    // A new identity: the replicas it left behind could never rejoin with their old logs.
    const newLog = await readLog(cluster.root, "survivor");
    const newClusterId = /"clusterId":"([0-9a-f]+)","peers"/.exec(newLog)?.[1];
    expect(newClusterId).toMatch(/^[0-9a-f]{32}$/);
    expect(newClusterId).not.toBe(oldClusterId);
  }, 180_000);
});
