import type { ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, rmSync } from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "./free-port.js";
import { spawnLogged } from "./spawn-logged.js";

/** One replica process of a local cluster. */
export interface ReplicaProcess {
  readonly id: string;
  readonly raftAddress: string;
  readonly apiAddress: string;
  readonly metricsAddress: string;
  readonly dataDir: string;
  readonly logFile: string | null;
  child: ChildProcess | null;
  exited: Promise<number | null>;
  /** A member added later: started with --join at these API endpoints instead of --peers. */
  join?: string;
}

export interface ProcessClusterOptions {
  readonly replicas?: number;
  /** "default" uses docs/architecture.md's ports (Raft 700i, API 5005i, HTTP 808(i-1)); "random" picks free ones. */
  readonly ports?: "default" | "random";
  readonly host?: string;
  /** Each replica keeps its data under dataRoot/<id>. */
  readonly dataRoot: string;
  /** Delete existing data first. */
  readonly wipe?: boolean;
  /** Write each replica's stderr log here as <id>.log; "inherit" passes it through; null discards it. */
  readonly logDir?: string | "inherit" | null;
  readonly extraArgs?: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  /** A directory made by `orchctl pki init`: every replica serves mutual TLS with ca.pem and its <id>.pem. */
  readonly tlsDir?: string;
}

/** The --tls-* flags for certificate `name` of an `orchctl pki` directory. */
export function tlsArgs(tlsDir: string | undefined, name: string): string[] {
  if (tlsDir === undefined) return [];
  return [
    "--tls-ca",
    path.join(tlsDir, "ca.pem"),
    "--tls-cert",
    path.join(tlsDir, `${name}.pem`),
    "--tls-key",
    path.join(tlsDir, `${name}-key.pem`),
  ];
}

const stopGraceMs = 5_000;

/** Starts, kills and restarts replica processes on this machine; used by `npm run cluster`, tests and benchmarks. */
export class ProcessCluster {
  readonly replicas: ReplicaProcess[] = [];

  private constructor(private readonly options: ProcessClusterOptions) {}

  static async start(options: ProcessClusterOptions): Promise<ProcessCluster> {
    const cluster = new ProcessCluster(options);
    await cluster.layout();
    for (const replica of cluster.replicas) cluster.spawnReplica(replica);
    return cluster;
  }

  endpoints(): string {
    return this.replicas.map((r) => r.apiAddress).join(",");
  }

  replica(id: string): ReplicaProcess {
    const replica = this.replicas.find((r) => r.id === id);
    if (replica === undefined) throw new Error(`no replica ${id}`);
    return replica;
  }

  /** Sends `signal` and waits for the process to exit. */
  async kill(id: string, signal: NodeJS.Signals = "SIGKILL"): Promise<number | null> {
    const replica = this.replica(id);
    if (replica.child === null) return null;
    replica.child.kill(signal);
    const code = await replica.exited;
    replica.child = null;
    return code;
  }

  restart(id: string): void {
    const replica = this.replica(id);
    if (replica.child !== null) throw new Error(`replica ${id} is still running`);
    this.spawnReplica(replica);
  }

  /** SIGTERM every replica (SIGKILL after a grace period) and wait for all to exit. */
  async stop(): Promise<void> {
    await Promise.all(
      this.replicas.map(async (replica) => {
        const child = replica.child;
        if (child === null) return;
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), stopGraceMs);
        await replica.exited;
        clearTimeout(timer);
        replica.child = null;
      }),
    );
  }

  pids(): number[] {
    return this.replicas.flatMap((r) => (r.child?.pid === undefined ? [] : [r.child.pid]));
  }

  /**
   * Lays out a new member `id` (free ports, its data directory) without starting it: add it with
   * `orchctl member add` at its addresses, then startJoiner().
   */
  async addReplica(id: string): Promise<ReplicaProcess> {
    if (this.replicas.some((r) => r.id === id)) throw new Error(`replica ${id} exists`);
    const replica = await this.newReplica(id, this.replicas.length + 1);
    this.replicas.push(replica);
    return replica;
  }

  /** Starts (or restarts) member `id` with --join at `endpoints` (API host:port list). */
  startJoiner(id: string, endpoints: string): void {
    const replica = this.replica(id);
    if (replica.child !== null) throw new Error(`replica ${id} is still running`);
    replica.join = endpoints;
    this.spawnReplica(replica);
  }

  private async layout(): Promise<void> {
    const count = this.options.replicas ?? 3;
    if (this.options.wipe === true) rmSync(this.options.dataRoot, { recursive: true, force: true });
    for (let i = 1; i <= count; i++) this.replicas.push(await this.newReplica(`r${i}`, i));
  }

  private async newReplica(id: string, i: number): Promise<ReplicaProcess> {
    const host = this.options.host ?? "127.0.0.1";
    const [raftPort, apiPort, httpPort] =
      this.options.ports === "random"
        ? [await freePort(host), await freePort(host), await freePort(host)]
        : [7000 + i, 50050 + i, 8079 + i];
    const logDir = this.options.logDir;
    const logFile = typeof logDir === "string" && logDir !== "inherit" ? path.join(logDir, `${id}.log`) : null;
    return {
      id,
      raftAddress: `${host}:${raftPort}`,
      apiAddress: `${host}:${apiPort}`,
      metricsAddress: `${host}:${httpPort}`,
      dataDir: path.join(this.options.dataRoot, id),
      logFile,
      child: null,
      exited: Promise.resolve(null),
    };
  }

  private spawnReplica(replica: ReplicaProcess): void {
    // The founding members only: a member added later is in the replicated membership instead.
    const founders = this.replicas.filter((r) => r.join === undefined);
    const peers = founders.map((r) => `${r.id}=${r.raftAddress}`).join(",");
    const peerApis = founders.map((r) => `${r.id}=${r.apiAddress}`).join(",");
    mkdirSync(replica.dataDir, { recursive: true });
    const membership =
      replica.join === undefined
        ? ["--peers", peers, "--peer-apis", peerApis]
        : ["--join", replica.join, "--raft", replica.raftAddress];
    const args = [
      serverEntry(),
      "--id",
      replica.id,
      ...membership,
      "--api",
      replica.apiAddress,
      "--metrics",
      replica.metricsAddress,
      "--data-dir",
      replica.dataDir,
      ...tlsArgs(this.options.tlsDir, replica.id),
      ...(this.options.extraArgs ?? []),
    ];
    const { child, exited } = spawnLogged({
      command: process.execPath,
      args,
      log: this.options.logDir === "inherit" ? "inherit" : replica.logFile === null ? null : { file: replica.logFile },
      env: this.options.env,
    });
    replica.child = child;
    replica.exited = exited.then((code) => {
      // A replica that exits on its own (refused its data, crashed) can be restarted.
      if (replica.child === child) replica.child = null;
      return code;
    });
  }
}

/** The compiled `orchestrator` entry (dist/src/server/main.js), from dist/dev/local-cluster or from the sources. */
export function serverEntry(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const compiled = path.resolve(here, "../../src/server/main.js");
  if (existsSync(compiled)) return compiled;
  // Running from TypeScript sources (vitest): use the build output.
  const fromSource = path.resolve(here, "../../dist/src/server/main.js");
  if (existsSync(fromSource)) return fromSource;
  throw new Error(`cannot find the compiled orchestrator (looked at ${compiled} and ${fromSource}); run npm run build`);
}
