import { promises as fs } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serverEntry, type ProcessCluster } from "../../dev/local-cluster/process-cluster.js";
import { freePort } from "../../dev/local-cluster/free-port.js";
import { spawnLogged } from "../../dev/local-cluster/spawn-logged.js";
import { decodeSnapshot } from "../../src/fsm/index.js";
import { readSnapshotFile, snapshotFileFormat } from "../../src/lib/snapshot-file.js";
import { orchctl, waitFor } from "../cluster/harness.js";
import { SchedulerCluster } from "../scheduler-e2e/harness.js";
import {
  everyList,
  labelledMetric,
  orchctlJson,
  orchestratorCommand,
  readLog,
  startOnPreparedDirs,
  stopCluster,
  trackPid,
} from "./harness.js";

/**
 * Backup and restore end to end: a real cluster with agents and deployments (one rolled out to
 * a second version), `orchctl snapshot save`, `orchestrator restore` into three new directories,
 * and a new cluster started on them that lists exactly what the old one listed. Then: the
 * restored cluster cannot talk to the old one, and damaged files are refused.
 */
describe("snapshot save and restore", () => {
  let old: SchedulerCluster;
  let restored: ProcessCluster | undefined;
  let work: string;
  let snapshotFile: string;
  const peersOf = (cluster: ProcessCluster) => cluster.replicas.map((r) => `${r.id}=${r.raftAddress}`).join(",");

  beforeAll(async () => {
    old = await SchedulerCluster.start({ name: "snapshot-restore", nodesPerRegion: 2 });
    work = path.join(old.cluster.root, "restore");
    await fs.mkdir(work, { recursive: true });
    snapshotFile = path.join(work, "backup.snap");
    const endpoints = old.cluster.endpoints();
    for (const [name, replicas] of [
      ["web", 3],
      ["api", 2],
    ] as const)
      await orchctlJson(endpoints, ["deploy", name, "--image", `${name}:1`, "--replicas", String(replicas), "--wait"]);
    // A second version of web, so the rollout history holds two.
    await orchctlJson(endpoints, ["deploy", "web", "--image", "web:2", "--replicas", "3", "--min-healthy-time", "0s"]);
    const status = await orchctl(["--endpoints", endpoints, "--timeout", "90", "rollout", "status", "web"]);
    expect(status.code, status.stderr).toBe(0);
  }, 180_000);

  afterAll(async () => {
    if (restored !== undefined) await stopCluster(restored);
    await old?.close();
  }, 60_000);

  it("restores into three new directories a cluster that lists exactly the same state", async () => {
    const endpoints = old.cluster.endpoints();
    // The state settles once every container is running and healthy; save it while it is quiet,
    // and make sure it was quiet all along (the lists before and after the save agree).
    let before: Record<string, unknown> = {};
    await waitFor(
      "the old cluster's state to hold still across a save",
      async () => {
        before = await everyList(endpoints);
        const saved = await orchctl(["--endpoints", endpoints, "snapshot", "save", snapshotFile, "--force"]);
        if (saved.code !== 0) throw new Error(saved.stderr);
        const now = await everyList(endpoints);
        for (const key of Object.keys(before))
          if (JSON.stringify(now[key]) !== JSON.stringify(before[key]))
            throw new Error(`${key} changed: ${firstDifference(before[key], now[key])}`);
        return true;
      },
      { timeoutMs: 60_000, intervalMs: 1_000 },
    );
    expect((before["containers"] as { containers: unknown[] }).containers).toHaveLength(5);

    const inspected = (await orchctlJson(endpoints, ["snapshot", "inspect", snapshotFile])) as {
      checksumOk: boolean;
      counts: { deployments: number; containers: number; nodes: number; versions: number };
      header: { voters: string[]; clusterId: string };
    };
    expect(inspected.checksumOk).toBe(true);
    expect(inspected.counts).toMatchObject({ deployments: 2, containers: 5, nodes: 6, versions: 3 });
    expect(inspected.header.voters).toEqual(["r1", "r2", "r3"]);

    const dataRoot = path.join(work, "data");
    const newPeers = "r1=127.0.0.1:1,r2=127.0.0.1:2,r3=127.0.0.1:3";
    const clusterIds = new Set<string>();
    for (const id of ["r1", "r2", "r3"]) {
      const result = await orchestratorCommand([
        "restore",
        "--snapshot",
        snapshotFile,
        "--id",
        id,
        "--peers",
        newPeers,
        "--data-dir",
        path.join(dataRoot, id),
      ]);
      expect(result.code, result.stderr).toBe(0);
      clusterIds.add(/new cluster id ([0-9a-f]+)/.exec(result.stdout)?.[1] ?? "");
    }
    // The three agree on one new identity, which is not the old cluster's.
    expect(clusterIds.size).toBe(1);
    expect([...clusterIds][0]).toMatch(/^[0-9a-f]{32}$/);
    expect(clusterIds.has(inspected.header.clusterId)).toBe(false);
    // A second restore into a used directory is refused and changes nothing.
    const again = await orchestratorCommand([
      "restore",
      "--snapshot",
      snapshotFile,
      "--id",
      "r1",
      "--peers",
      newPeers,
      "--data-dir",
      path.join(dataRoot, "r1"),
    ]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/is not empty/);

    restored = await startOnPreparedDirs(dataRoot, path.join(work, "logs"));
    const restoredEndpoints = restored.endpoints();
    const after = await waitFor("the restored cluster to answer every list", async () => everyList(restoredEndpoints), {
      timeoutMs: 60_000,
      intervalMs: 500,
    });
    expect(after).toEqual(before);
  }, 180_000);

  it("keeps a restored replica from talking to the old cluster", async () => {
    expect(restored).toBeDefined();
    const oldReplicas = old.cluster.cluster.replicas;
    const oldTerm = (await old.cluster.status("r1")).term;
    const dataRoot = path.join(work, "rogue");
    const result = await orchestratorCommand([
      "restore",
      "--snapshot",
      snapshotFile,
      "--id",
      "r1",
      "--peers",
      "r1=127.0.0.1:1,r2=127.0.0.1:2,r3=127.0.0.1:3",
      "--data-dir",
      path.join(dataRoot, "r1"),
    ]);
    expect(result.code, result.stderr).toBe(0);
    // r1 of the restore, told the old cluster's r2 and r3 as its peers.
    const rogueRaft = `127.0.0.1:${await freePort()}`;
    const rogueApi = `127.0.0.1:${await freePort()}`;
    const rogueProcess = spawnLogged({
      command: process.execPath,
      args: [
        serverEntry(),
        "--id",
        "r1",
        "--peers",
        peersOf(old.cluster.cluster).replace(/r1=[^,]+/, `r1=${rogueRaft}`),
        "--peer-apis",
        old.cluster.cluster.replicas.map((r) => `${r.id}=${r.id === "r1" ? rogueApi : r.apiAddress}`).join(","),
        "--api",
        rogueApi,
        "--metrics",
        `127.0.0.1:${await freePort()}`,
        "--data-dir",
        path.join(dataRoot, "r1"),
      ],
      log: { file: path.join(work, "rogue.log") },
    });
    trackPid(rogueProcess.child.pid);
    try {
      await waitFor(
        "the old r2 and r3 to refuse the restored replica's streams (cluster id)",
        async () => {
          let refused = 0;
          for (const replica of oldReplicas.filter((r) => r.id !== "r1"))
            refused += await labelledMetric(
              replica.metricsAddress,
              "orchestrator_raft_messages_rejected_total",
              'reason="cluster_id"',
            );
          return refused > 0;
        },
        { timeoutMs: 30_000, intervalMs: 250 },
      );
      // Its elections reached nobody: the old cluster's term did not move and it still leads itself.
      expect((await old.cluster.status("r2")).term).toBe(oldTerm);
      await old.cluster.waitForLeader({ among: ["r1", "r2", "r3"] });
    } catch (error) {
      process.stderr.write(`rogue log:\n${(await readLog(work, "rogue")).slice(-3000)}\n`);
      throw error;
    } finally {
      rogueProcess.child.kill("SIGKILL");
      await rogueProcess.exited;
    }
    expect(await readLog(work, "rogue")).toMatch(/replica started/);
  }, 120_000);

  it("refuses truncated, corrupted and newer-format files with a message, and never overwrites", async () => {
    const bytes = await fs.readFile(snapshotFile);
    const parsed = await readSnapshotFile(snapshotFile);
    expect(parsed.ok).toBe(true);
    if (parsed.ok) expect(decodeSnapshot(parsed.value.body).deployments.size).toBe(2);
    const variants: [string, Buffer, RegExp][] = [
      ["truncated", bytes.subarray(0, bytes.byteLength - 100), /truncated/],
      ["corrupted", Buffer.from(bytes).fill(0x55, 200, 201), /checksum/],
      ["newer", Buffer.concat([bytes.subarray(0, 8), u32(snapshotFileFormat + 1), bytes.subarray(12)]), /newer/],
      ["not-a-snapshot", Buffer.from("hello world, this is not a snapshot"), /not an orchestrator snapshot/],
    ];
    for (const [name, content, message] of variants) {
      const file = path.join(work, `${name}.snap`);
      await fs.writeFile(file, content);
      const inspect = await orchctl(["snapshot", "inspect", file]);
      expect(inspect.code, name).toBe(1);
      expect(inspect.stderr, name).toMatch(message);
      const dir = path.join(work, `bad-${name}`);
      const restore = await orchestratorCommand([
        "restore",
        "--snapshot",
        file,
        "--id",
        "r1",
        "--peers",
        "r1=127.0.0.1:1",
        "--data-dir",
        dir,
      ]);
      expect(restore.code, name).toBe(1);
      expect(restore.stderr, name).toMatch(message);
      await expect(fs.readdir(dir)).rejects.toThrow();
    }
    // An existing file is kept unless --force.
    const saved = await orchctl(["--endpoints", old.cluster.endpoints(), "snapshot", "save", snapshotFile]);
    expect(saved.code).toBe(2);
    expect(saved.stderr).toMatch(/already exists/);
    expect(await fs.readFile(snapshotFile)).toEqual(bytes);
  }, 60_000);
});

function u32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(value, 0);
  return b;
}

/** Where two JSON values first differ, for a readable failure. */
function firstDifference(a: unknown, b: unknown, at = ""): string {
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null)
    return `${at}: ${JSON.stringify(a)} then ${JSON.stringify(b)}`;
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const key of keys) {
    const x = (a as Record<string, unknown>)[key];
    const y = (b as Record<string, unknown>)[key];
    if (JSON.stringify(x) !== JSON.stringify(y)) return firstDifference(x, y, `${at}.${key}`);
  }
  return at;
}
