/**
 * Backup and restore at scale: for 100,000 and 1,000,000 containers, the time and size of
 * `orchctl snapshot save` from a serving replica, and the time of `orchestrator restore` plus
 * the restored replica's start until it serves.
 *
 * The state is built in-process (build-state.ts: FSM commands applied directly), written as a
 * snapshot file and restored into a one-replica cluster; only the leader takes part in a save,
 * so followers would add nothing but CPU on this shared machine. That replica has no agents, so
 * the state has no nodes and every container is pending (see build-state.ts); `bytesPerContainer`
 * is that of a pending container. `containersSaved` says what the saved file held. The save starts
 * once the replica is quiet, so its start-up work is not counted.
 */
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import * as os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { spawn } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { ProcessCluster, serverEntry } from "../../dev/local-cluster/process-cluster.js";
import { BufferSink } from "../../src/cli/io.js";
import { run } from "../../src/cli/run.js";
import { decodeSnapshot, snapshotFormatVersion } from "../../src/fsm/index.js";
import { readSnapshotFile, SnapshotFileWriter } from "../../src/lib/snapshot-file.js";
import { randomClusterId } from "../../src/raft/io/cluster-id.js";
import { loadAverage, round, table } from "../bench-report.js";
import { trackProcesses, trackTempDir } from "../process-guard.js";
import { buildState } from "./build-state.js";

export interface SnapshotSizeResult {
  readonly containers: number;
  readonly buildMs: number;
  readonly snapshotBytes: number;
  readonly containersSaved: number;
  readonly bytesPerContainer: number;
  readonly saveMs: number;
  readonly restoreCommandMs: number;
  readonly restoredServingMs: number;
  readonly restoreTotalMs: number;
  readonly loadAverageAfter: readonly number[];
}

export interface SnapshotBenchResult {
  readonly sizes: readonly SnapshotSizeResult[];
  readonly targetSaveMs1M: number;
  readonly method: string;
}

const targetSaveMs1M = 3_000;
const servingTimeoutMs = 300_000;
const quietMs = 2_000;
const quietTimeoutMs = 120_000;

export async function benchSnapshot(sizes: readonly number[] = [100_000, 1_000_000]): Promise<SnapshotBenchResult> {
  const results: SnapshotSizeResult[] = [];
  for (const containers of sizes) results.push(await benchOneSize(containers));
  console.log(
    table(
      ["containers", "build s", "MB", "save s", "restore cmd s", "restored serving s"],
      results.map((r) => [
        r.containers.toLocaleString("en-US"),
        (r.buildMs / 1000).toFixed(1),
        (r.snapshotBytes / 1e6).toFixed(1),
        (r.saveMs / 1000).toFixed(2),
        (r.restoreCommandMs / 1000).toFixed(2),
        (r.restoredServingMs / 1000).toFixed(2),
      ]),
    ),
  );
  return {
    sizes: results,
    targetSaveMs1M,
    method:
      "state built in-process by applying FSM commands, restored into a one-replica cluster (real processes, LevelDB, gRPC); save = orchctl snapshot save wall time; restore = orchestrator restore + start until `orchctl list` answers",
  };
}

async function benchOneSize(containers: number): Promise<SnapshotSizeResult> {
  const root = await mkdtemp(path.join(os.tmpdir(), "orch-bench-snapshot-"));
  const untrack = trackTempDir(root);
  try {
    const seedFile = path.join(root, "seed.snap");
    const buildMs = await seed(containers, seedFile);

    const first = await restoreAndServe(seedFile, path.join(root, "first"));
    let saveMs = 0;
    const savedFile = path.join(root, "saved.snap");
    try {
      await waitQuiet(first.cluster.endpoints());
      const saveStarted = performance.now();
      await orchctl(["--endpoints", first.cluster.endpoints(), "--timeout", "120", "snapshot", "save", savedFile]);
      saveMs = performance.now() - saveStarted;
    } finally {
      await first.stop();
    }
    const snapshotBytes = (await stat(savedFile)).size;
    const saved = await readSnapshotFile(savedFile);
    if (!saved.ok) throw new Error(saved.error);
    const containersSaved = decodeSnapshot(saved.value.body).containers.size;
    const second = await restoreAndServe(savedFile, path.join(root, "second"));
    await second.stop();
    const result: SnapshotSizeResult = {
      containers,
      buildMs: round(buildMs, 0),
      snapshotBytes,
      containersSaved,
      bytesPerContainer: round(snapshotBytes / containers, 1),
      saveMs: round(saveMs, 0),
      restoreCommandMs: round(second.restoreCommandMs, 0),
      restoredServingMs: round(second.servingMs, 0),
      restoreTotalMs: round(second.restoreCommandMs + second.servingMs, 0),
      loadAverageAfter: loadAverage(),
    };
    console.log(`operations/snapshot ${containers}: ${JSON.stringify(result)}`);
    return result;
  } finally {
    await rm(root, { recursive: true, force: true });
    untrack();
  }
}

/** Builds the state and writes it as a snapshot file; the state is garbage once this returns. */
async function seed(containers: number, file: string): Promise<number> {
  const started = performance.now();
  const built = buildState(containers, false);
  await writeSeed(file, built.index, built.fsm.snapshot());
  return performance.now() - started;
}

async function writeSeed(file: string, index: number, body: Uint8Array): Promise<void> {
  const writer = await SnapshotFileWriter.create(
    file,
    {
      index,
      term: 1,
      voters: ["r1"],
      learners: [],
      members: [],
      clusterId: randomClusterId(),
      createdAt: new Date().toISOString(),
      fsmFormatVersion: snapshotFormatVersion,
      bodyBytes: body.byteLength,
      leaderId: "bench",
    },
    true,
  );
  await writer.writeBody(body);
  await writer.finish();
}

/** `orchestrator restore` into dir/data/r1, then a one-replica cluster on it until `list` answers. */
async function restoreAndServe(
  file: string,
  dir: string,
): Promise<{ cluster: ProcessCluster; restoreCommandMs: number; servingMs: number; stop: () => Promise<void> }> {
  const dataRoot = path.join(dir, "data");
  const started = performance.now();
  await runOrchestrator([
    "restore",
    "--snapshot",
    file,
    "--id",
    "r1",
    "--peers",
    "r1=127.0.0.1:7001",
    "--data-dir",
    path.join(dataRoot, "r1"),
  ]);
  const restoreCommandMs = performance.now() - started;
  const servingStarted = performance.now();
  const cluster = await ProcessCluster.start({
    replicas: 1,
    ports: "random",
    dataRoot,
    logDir: path.join(dir, "logs"),
  });
  const untrack = trackProcesses(() => cluster.pids());
  const stop = async () => {
    await cluster.stop();
    untrack();
  };
  try {
    const deadline = performance.now() + servingTimeoutMs;
    for (;;) {
      const result = await orchctl(["--endpoints", cluster.endpoints(), "--timeout", "5", "-o", "json", "list"]);
      if (result.code === 0) break;
      if (performance.now() > deadline || cluster.replicas[0].child === null) {
        const log = await readFile(path.join(dir, "logs", "r1.log"), "utf8").catch(() => "");
        throw new Error(`restored replica did not serve: ${result.stderr}\nits log ends:\n${log.slice(-2000)}`);
      }
      await sleep(100);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { cluster, restoreCommandMs, servingMs: performance.now() - servingStarted, stop };
}

/**
 * Waits until the replica's commit index holds still for quietMs: its controllers' start-up
 * work (the scheduler explaining why 1,000 deployments stay pending) is not the save's cost.
 */
async function waitQuiet(endpoints: string): Promise<void> {
  const deadline = performance.now() + quietTimeoutMs;
  let last = -1;
  let since = performance.now();
  while (performance.now() < deadline) {
    const out = await orchctl(["--endpoints", endpoints, "-o", "json", "cluster"]);
    const commit = out.code === 0 ? (JSON.parse(out.stdout) as { commitIndex: number }).commitIndex : -1;
    if (commit !== last) {
      last = commit;
      since = performance.now();
    } else if (performance.now() - since >= quietMs) return;
    await sleep(250);
  }
  throw new Error("the replica never became quiet");
}

async function orchctl(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new BufferSink();
  const stderr = new BufferSink();
  const code = await run(args, { stdout, stderr, env: {} });
  const result = { code, stdout: stdout.text(), stderr: stderr.text() };
  if (code !== 0 && args.includes("save")) throw new Error(`orchctl ${args.join(" ")}: ${result.stderr}`);
  return result;
}

function runOrchestrator(args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [serverEntry(), ...args], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0 ? resolve() : reject(new Error(`orchestrator ${args[0]} exited ${code}: ${stderr}`)),
    );
  });
}
