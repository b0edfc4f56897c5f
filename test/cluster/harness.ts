import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { BufferSink } from "../../src/cli/io.js";
import { run } from "../../src/cli/run.js";
import type { RequestOf, ResponseOf, UnaryMethod } from "../../src/cli/client.js";
import {
  ClusterStatusRequest,
  OrchestratorServiceClient,
  OrchestratorServiceService,
  type ClusterStatusResponse,
} from "../../src/gen/orchestrator/v1/orchestrator.js";
import { ProcessCluster, tlsArgs } from "../../dev/local-cluster/process-cluster.js";
import { readFileSync } from "node:fs";
import { isAlive, killQuietly, pidsKilledOnExit } from "../process-pids.js";

/**
 * A real three-replica cluster for integration tests: real processes (the compiled
 * dist/src/server/main.js), real LevelDB under a temp directory, real gRPC on 127.0.0.1.
 * Everything waits for a condition with a deadline; nothing sleeps to synchronise.
 *
 * Cleanup is by PID: every replica process this module ever started is remembered until it
 * is seen to exit, close() stops them (SIGTERM, then SIGKILL), and an exit hook SIGKILLs any
 * left over if the test worker itself dies.
 */

/** PIDs of replica processes started here and not yet seen to exit. */
const livePids = pidsKilledOnExit();

export interface WaitOptions {
  readonly timeoutMs?: number;
  readonly intervalMs?: number;
}

/**
 * Polls `probe` until it returns something other than undefined/false, and returns that.
 * Errors thrown by the probe count as "not yet"; the last one is reported on timeout.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  options: WaitOptions = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const intervalMs = options.intervalMs ?? 50;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    last = undefined;
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() >= deadline) {
      const why = last === undefined ? "" : `; last error: ${last instanceof Error ? last.message : String(last)}`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Resolves with `promise`, or rejects after `ms` naming `what`. */
export async function within<T>(what: string, ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** orchctl in-process: run(argv, io) with captured output. */
export async function orchctl(args: readonly string[]): Promise<CliResult> {
  const stdout = new BufferSink();
  const stderr = new BufferSink();
  const code = await run(args, { stdout, stderr, env: {} });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

/** A failed gRPC call, as the tests look at it. */
export interface GrpcFailure {
  readonly code: grpc.status;
  readonly details: string;
  readonly metadata: grpc.Metadata | undefined;
}

export function isGrpcFailure(error: unknown): error is GrpcFailure {
  return (
    typeof error === "object" &&
    error !== null &&
    typeof (error as { code?: unknown }).code === "number" &&
    "details" in error
  );
}

export interface CallOptions {
  readonly timeoutMs?: number;
  readonly metadata?: grpc.Metadata;
}

/** One log line of a replica (pino JSON). */
export interface LogLine {
  readonly time: string;
  readonly msg: string;
  readonly [field: string]: unknown;
}

export interface ClusterStartOptions {
  /** Names the temp directory, for people looking at leftovers. */
  readonly name: string;
  readonly extraArgs?: readonly string[];
  /** An `orchctl pki init` directory: replicas serve mutual TLS; client() and orchctl() use admin.pem. */
  readonly tlsDir?: string;
}

export interface LeaderView {
  readonly leaderId: string;
  readonly term: number;
}

export class TestCluster {
  private readonly clients = new Map<string, OrchestratorServiceClient>();
  private closed = false;

  private constructor(
    readonly cluster: ProcessCluster,
    /** The temp directory holding data/ and logs/; removed by close(). */
    readonly root: string,
    readonly tlsDir?: string,
  ) {}

  /** Credentials of the test's own clients: the admin certificate with TLS, plaintext without. */
  private credentials(): grpc.ChannelCredentials {
    if (this.tlsDir === undefined) return grpc.credentials.createInsecure();
    const read = (name: string) => readFileSync(path.join(this.tlsDir ?? "", name));
    return grpc.credentials.createSsl(read("ca.pem"), read("admin-key.pem"), read("admin.pem"));
  }

  static async start(options: ClusterStartOptions): Promise<TestCluster> {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), `orch-${options.name}-`));
    let cluster: ProcessCluster;
    try {
      cluster = await ProcessCluster.start({
        ports: "random",
        dataRoot: path.join(root, "data"),
        logDir: path.join(root, "logs"),
        wipe: true,
        extraArgs: options.extraArgs ?? [],
        ...(options.tlsDir !== undefined ? { tlsDir: options.tlsDir } : {}),
      });
    } catch (error) {
      await fs.rm(root, { recursive: true, force: true });
      throw error;
    }
    const test = new TestCluster(cluster, root, options.tlsDir);
    test.track();
    return test;
  }

  ids(): string[] {
    return this.cluster.replicas.map((r) => r.id);
  }

  /** Replicas whose process is running. */
  running(): string[] {
    return this.cluster.replicas.filter((r) => r.child !== null).map((r) => r.id);
  }

  endpoints(): string {
    return this.cluster.endpoints();
  }

  apiAddress(id: string): string {
    return this.cluster.replica(id).apiAddress;
  }

  dataDir(id: string): string {
    return this.cluster.replica(id).dataDir;
  }

  pid(id: string): number | undefined {
    return this.cluster.replica(id).child?.pid;
  }

  /** Sends `signal` and waits (bounded) for the process to exit; returns its exit code (null after a signal). */
  async kill(id: string, signal: NodeJS.Signals = "SIGKILL", timeoutMs = 20_000): Promise<number | null> {
    const pid = this.pid(id);
    try {
      return await within(`replica ${id} to exit after ${signal}`, timeoutMs, this.cluster.kill(id, signal));
    } catch (error) {
      if (pid !== undefined) killQuietly(pid, "SIGKILL");
      throw error;
    }
  }

  restart(id: string): void {
    this.cluster.restart(id);
    this.track();
  }

  /** Lays out a new member (free ports) without starting it; see startJoiner. */
  async addReplica(id: string): Promise<{ raftAddress: string; apiAddress: string }> {
    const replica = await this.cluster.addReplica(id);
    return { raftAddress: replica.raftAddress, apiAddress: replica.apiAddress };
  }

  /** Starts member `id` with --join at `endpoints` (default: the other replicas' API addresses). */
  startJoiner(
    id: string,
    endpoints: string = this.ids()
      .filter((r) => r !== id)
      .map((r) => this.apiAddress(r))
      .join(","),
  ): void {
    this.cluster.startJoiner(id, endpoints);
    this.track();
  }

  /** Waits (bounded) for a replica that is expected to exit on its own; returns its exit code. */
  async exitOf(id: string, timeoutMs = 30_000): Promise<number | null> {
    return within(`replica ${id} to exit`, timeoutMs, this.cluster.replica(id).exited);
  }

  client(id: string): OrchestratorServiceClient {
    let client = this.clients.get(id);
    if (client === undefined) {
      client = new OrchestratorServiceClient(this.apiAddress(id), this.credentials(), {
        "grpc.initial_reconnect_backoff_ms": 100,
        "grpc.max_reconnect_backoff_ms": 500,
      });
      this.clients.set(id, client);
    }
    return client;
  }

  /** One unary call to replica `id`, no retries, no redirects: what that replica answers. */
  call<K extends UnaryMethod>(
    id: string,
    method: K,
    request: RequestOf<K>,
    options: CallOptions = {},
  ): Promise<ResponseOf<K>> {
    const definition = OrchestratorServiceService[method] as unknown as {
      path: string;
      requestSerialize: (value: RequestOf<K>) => Buffer;
      responseDeserialize: (bytes: Buffer) => ResponseOf<K>;
    };
    return new Promise((resolve, reject) => {
      this.client(id).makeUnaryRequest(
        definition.path,
        definition.requestSerialize,
        definition.responseDeserialize,
        request,
        options.metadata ?? new grpc.Metadata(),
        { deadline: Date.now() + (options.timeoutMs ?? 5_000) },
        (error, response) => {
          if (error !== null) reject(error);
          else if (response === undefined) reject(new Error(`${method}: empty response`));
          else resolve(response);
        },
      );
    });
  }

  /** The call's gRPC failure; fails the test if the call succeeds. */
  async failure<K extends UnaryMethod>(
    id: string,
    method: K,
    request: RequestOf<K>,
    options: CallOptions = {},
  ): Promise<GrpcFailure> {
    try {
      await this.call(id, method, request, options);
    } catch (error) {
      if (isGrpcFailure(error)) return error;
      throw error;
    }
    throw new Error(`${method} on ${id} succeeded, but a failure was expected`);
  }

  status(id: string): Promise<ClusterStatusResponse> {
    return this.call(id, "clusterStatus", ClusterStatusRequest.fromPartial({}), { timeoutMs: 2_000 });
  }

  /**
   * Waits until every replica in `among` (default: the running ones) names the same leader in
   * the same term, the leader itself says it leads, and the leader is one of `among`.
   */
  async waitForLeader(
    options: { among?: readonly string[]; notId?: string; minTerm?: number; timeoutMs?: number } = {},
  ): Promise<LeaderView> {
    const among = options.among ?? this.running();
    return waitFor(
      `one leader agreed on by ${among.join(", ")}${options.notId === undefined ? "" : ` (not ${options.notId})`}`,
      async () => {
        const statuses = await Promise.all(among.map((id) => this.status(id)));
        const first = statuses[0];
        if (first.leaderId === "" || !among.includes(first.leaderId) || first.leaderId === options.notId)
          return undefined;
        if (first.term < (options.minTerm ?? 0)) return undefined;
        if (!statuses.every((s) => s.leaderId === first.leaderId && s.term === first.term)) return undefined;
        if (statuses.find((s) => s.replicaId === first.leaderId)?.role !== "leader") return undefined;
        return { leaderId: first.leaderId, term: first.term };
      },
      { timeoutMs: options.timeoutMs ?? 30_000 },
    );
  }

  /** The running replicas other than `leaderId`. */
  followersOf(leaderId: string): string[] {
    return this.running().filter((id) => id !== leaderId);
  }

  /** orchctl against the given replicas (default: all). */
  orchctl(args: readonly string[], endpoints: string = this.endpoints()): Promise<CliResult> {
    const tls = tlsArgs(this.tlsDir, "admin");
    return orchctl(["--endpoints", endpoints, ...tls, ...args]);
  }

  async log(id: string): Promise<string> {
    const file = this.cluster.replica(id).logFile;
    if (file === null) return "";
    try {
      return await fs.readFile(file, "utf8");
    } catch {
      return "";
    }
  }

  /** The replica's JSON log lines (other lines, like `error: ...` from main, are skipped). */
  async logLines(id: string): Promise<LogLine[]> {
    const lines: LogLine[] = [];
    for (const text of (await this.log(id)).split("\n")) {
      if (!text.startsWith("{")) continue;
      try {
        lines.push(JSON.parse(text) as LogLine);
      } catch {
        // A line cut short by SIGKILL.
      }
    }
    return lines;
  }

  /** A sample of `name` (without labels other than `replica`) from the replica's /metrics. */
  async metric(id: string, name: string): Promise<number> {
    const response = await fetch(`http://${this.cluster.replica(id).metricsAddress}/metrics`, {
      signal: AbortSignal.timeout(2_000),
    });
    const body = await response.text();
    for (const line of body.split("\n")) {
      const match = /^([a-z_:]+)(\{[^}]*\})?\s+(\S+)$/.exec(line);
      if (match !== null && match[1] === name) return Number(match[3]);
    }
    throw new Error(`metric ${name} not found on ${id}`);
  }

  /** Prints the tail of every replica's log: called when a test failed. */
  async dumpLogs(lines = 40): Promise<void> {
    for (const id of this.ids()) {
      const text = (await this.log(id)).trimEnd().split("\n").slice(-lines).join("\n");
      process.stderr.write(
        `\n----- last ${lines} log lines of ${id} (${this.cluster.replica(id).logFile}) -----\n${text}\n`,
      );
    }
  }

  /** Stops every replica (SIGTERM, SIGKILL after a grace period), makes sure no PID survives, removes the temp directory. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
    const pids = this.cluster.pids();
    try {
      await within("the cluster to stop", 15_000, this.cluster.stop());
    } catch {
      // Whatever did not stop in time is killed below.
    }
    for (const pid of pids) {
      if (isAlive(pid)) killQuietly(pid, "SIGKILL");
    }
    await waitFor("every replica process to be gone", () => pids.every((pid) => !isAlive(pid)), { timeoutMs: 10_000 });
    for (const pid of pids) livePids.delete(pid);
    await fs.rm(this.root, { recursive: true, force: true });
  }

  /** Remembers the PIDs of the running replicas and forgets each when it exits. */
  private track(): void {
    for (const replica of this.cluster.replicas) {
      const pid = replica.child?.pid;
      if (pid === undefined || livePids.has(pid)) continue;
      livePids.add(pid);
      void replica.exited.then(() => livePids.delete(pid));
    }
  }
}

/** The gRPC status name, for readable assertion messages. */
export function statusName(code: number): string {
  return grpc.status[code] ?? String(code);
}

/**
 * A message a person can act on: a sentence of some length that names the subject of the
 * problem and says what to do or what is allowed.
 */
export function expectActionable(message: string, mentions: RegExp): void {
  if (message.length < 25) throw new Error(`message too short to act on: ${JSON.stringify(message)}`);
  if (!mentions.test(message)) throw new Error(`message ${JSON.stringify(message)} does not match ${mentions}`);
  if (/internal error|undefined|\[object Object\]|NaN/.test(message))
    throw new Error(`message leaks internals: ${JSON.stringify(message)}`);
}
