import { spawn } from "node:child_process";
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { ProcessCluster, serverEntry } from "../../dev/local-cluster/process-cluster.js";
import { orchctl, waitFor, type CliResult } from "../cluster/harness.js";
import { isAlive, killQuietly, pidsKilledOnExit } from "../process-pids.js";

/** PIDs of replicas started here from restored or rebuilt directories, killed if the worker dies. */
const livePids = pidsKilledOnExit();

/** `orchestrator ARGS...` to completion (restore), with its output. */
export function orchestratorCommand(args: readonly string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [serverEntry(), ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** orchctl -o json against `endpoints`, parsed; fails the test with orchctl's message otherwise. */
export async function orchctlJson(endpoints: string, args: readonly string[]): Promise<unknown> {
  const result = await orchctl(["--endpoints", endpoints, "-o", "json", "--timeout", "30", ...args]);
  if (result.code !== 0) throw new Error(`orchctl ${args.join(" ")} exited ${result.code}: ${result.stderr}`);
  return JSON.parse(result.stdout);
}

/**
 * Every list a person would compare after a restore, as orchctl prints it in JSON: deployments,
 * containers, nodes, the SLO ledger and each deployment's rollout history. Fields that describe
 * the moment or the replica asked are dropped: the SLO's clock, the replica that answered, and
 * each answer's top-level `revision` (the log position it was read at: the restored cluster's
 * log moves on, its leader records its own addresses). Records keep their own revisions.
 */
export async function everyList(endpoints: string): Promise<Record<string, unknown>> {
  const list = (await orchctlJson(endpoints, ["list"])) as { deployments: { name: string }[] };
  const lists: Record<string, unknown> = {
    list: withoutRevision(list),
    containers: withoutRevision(await orchctlJson(endpoints, ["containers"])),
    nodes: withoutRevision(await orchctlJson(endpoints, ["nodes"])),
    slo: withoutRevision(withoutMoment(await orchctlJson(endpoints, ["slo"]))),
  };
  for (const { name } of list.deployments)
    lists[`rollout history ${name}`] = withoutRevision(await orchctlJson(endpoints, ["rollout", "history", name]));
  return lists;
}

function withoutRevision(value: unknown): unknown {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return value;
  return Object.fromEntries(Object.entries(value).filter(([key]) => key !== "revision"));
}

function withoutMoment(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutMoment);
  if (typeof value !== "object" || value === null) return value;
  const copy: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value))
    if (key !== "nowMs" && key !== "at" && key !== "replicaId") copy[key] = withoutMoment(inner);
  return copy;
}

/** A labelled counter sample from a replica's /metrics (0 when the label value never occurred). */
export async function labelledMetric(metricsAddress: string, name: string, label: string): Promise<number> {
  const response = await fetch(`http://${metricsAddress}/metrics`, { signal: AbortSignal.timeout(2_000) });
  for (const line of (await response.text()).split("\n"))
    if (line.startsWith(`${name}{`) && line.includes(label)) return Number(line.split(" ").pop());
  return 0;
}

/** A ProcessCluster on directories prepared beforehand (restored), tracked for cleanup. */
export async function startOnPreparedDirs(
  dataRoot: string,
  logDir: string,
  extraArgs: readonly string[] = [],
): Promise<ProcessCluster> {
  const cluster = await ProcessCluster.start({ ports: "random", dataRoot, logDir, extraArgs });
  for (const pid of cluster.pids()) livePids.add(pid);
  return cluster;
}

/** Stops a cluster started here and makes sure no PID survives. */
export async function stopCluster(cluster: ProcessCluster): Promise<void> {
  const pids = cluster.pids();
  await cluster.stop().catch(() => undefined);
  for (const pid of pids) if (isAlive(pid)) killQuietly(pid, "SIGKILL");
  await waitFor("every replica process to be gone", () => pids.every((pid) => !isAlive(pid)), { timeoutMs: 10_000 });
  for (const pid of pids) livePids.delete(pid);
}

export function trackPid(pid: number | undefined): void {
  if (pid !== undefined) livePids.add(pid);
}

export async function readLog(logDir: string, id: string): Promise<string> {
  return fs.readFile(path.join(logDir, `${id}.log`), "utf8").catch(() => "");
}
