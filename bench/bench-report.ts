/** Shared by the cluster benchmarks: machine facts, the results file, and plain-text tables. */
import { readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import * as os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export interface MachineInfo {
  readonly nodeVersion: string;
  readonly machineCores: number;
  readonly cpuModel: string;
  readonly platform: string;
  /** os.loadavg() when the benchmark started: [1, 5, 15] minutes. */
  readonly loadAverageAtStart: readonly number[];
}

export function machineInfo(): MachineInfo {
  return {
    nodeVersion: process.version,
    machineCores: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? "unknown",
    platform: `${os.platform()} ${os.release()}`,
    loadAverageAtStart: loadAverage(),
  };
}

export function loadAverage(): number[] {
  return os.loadavg().map((v) => Math.round(v * 100) / 100);
}

/** bench/results next to the sources (dist/bench/.. -> bench/results). */
export function resultsDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const root = path.basename(path.dirname(here)) === "dist" ? path.resolve(here, "../..") : path.resolve(here, "..");
  return path.join(root, "bench", "results");
}

export async function writeResult(name: string, result: unknown): Promise<string> {
  const dir = resultsDir();
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `${name}.json`);
  await writeFile(file, `${JSON.stringify(result, null, 2)}\n`);
  return file;
}

/** A right-aligned plain-text table (first column left-aligned). */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

export function fixed(value: number | null | undefined, digits = 1): string {
  if (value === null || value === undefined || Number.isNaN(value)) return "-";
  return value.toFixed(digits);
}

export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** CPU seconds (user + system) a process has used so far, from /proc; null where /proc is missing. */
export function processCpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may contain spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticksPerSecond = 100;
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
  } catch {
    return null;
  }
}

export interface CpuSample {
  readonly clientSeconds: number;
  readonly processSeconds: ReadonlyMap<number, number | null>;
}

export function sampleCpu(pids: readonly number[]): CpuSample {
  const usage = process.cpuUsage();
  return {
    clientSeconds: (usage.user + usage.system) / 1e6,
    processSeconds: new Map(pids.map((pid) => [pid, processCpuSeconds(pid)])),
  };
}

/** CPU milliseconds per write between two samples: the load generator, the leader, the other members. */
export function cpuPerWrite(
  before: CpuSample,
  after: CpuSample,
  leaderPid: number,
  writes: number,
): { clientMs: number; leaderMs: number | null; followersMs: number | null; totalMs: number | null } | null {
  if (writes === 0) return null;
  const delta = (pid: number) => {
    const a = before.processSeconds.get(pid);
    const b = after.processSeconds.get(pid);
    return a === null || a === undefined || b === null || b === undefined ? null : b - a;
  };
  const clientMs = ((after.clientSeconds - before.clientSeconds) * 1000) / writes;
  const leader = delta(leaderPid);
  let followers: number | null = 0;
  for (const pid of before.processSeconds.keys()) {
    if (pid === leaderPid) continue;
    const d = delta(pid);
    followers = d === null || followers === null ? null : followers + d;
  }
  const leaderMs = leader === null ? null : (leader * 1000) / writes;
  const followersMs = followers === null ? null : (followers * 1000) / writes;
  return {
    clientMs: round(clientMs, 3),
    leaderMs: leaderMs === null ? null : round(leaderMs, 3),
    followersMs: followersMs === null ? null : round(followersMs, 3),
    totalMs: leaderMs === null || followersMs === null ? null : round(clientMs + leaderMs + followersMs, 3),
  };
}
