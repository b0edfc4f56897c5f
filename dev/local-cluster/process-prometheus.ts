import type { ChildProcess } from "node:child_process";
import { accessSync, constants, existsSync, mkdirSync } from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { spawnLogged } from "./spawn-logged.js";

/**
 * A Prometheus server as a child process, for `npm run cluster -- --with-prometheus` and the
 * observability tests: started on a given address with a given configuration, ready once it
 * answers /-/ready, stopped by PID.
 */

export interface PrometheusProcessOptions {
  /** The prometheus.yml; its rule_files are relative to its directory. */
  readonly configFile: string;
  /** The TSDB directory (created if missing). */
  readonly dataDir: string;
  /** host:port of the web UI and HTTP API. */
  readonly listenAddress: string;
  /** The binary (default: `prometheus` found on PATH). */
  readonly binary?: string;
  /** Write Prometheus' log here as prometheus.log; "inherit" passes it through; null discards it. */
  readonly logDir?: string | "inherit" | null;
  readonly logLevel?: "debug" | "info" | "warn" | "error";
  /** How long to wait for /-/ready. */
  readonly readyTimeoutMs?: number;
}

/** The binary is not installed: the message says how to get it. */
export class PrometheusNotInstalledError extends Error {
  constructor(binary: string) {
    super(
      `cannot find the ${binary} binary on PATH. Install Prometheus (Debian/Ubuntu: apt-get install prometheus, ` +
        `which also installs promtool; elsewhere https://prometheus.io/download/) and try again.`,
    );
    this.name = "PrometheusNotInstalledError";
  }
}

const stopGraceMs = 5_000;
const readyTimeoutMsDefault = 30_000;
const readyPollMs = 100;
/** Log lines kept to explain a Prometheus that exits before it is ready. */
const logTailLinesMax = 20;

export class PrometheusProcess {
  private constructor(
    readonly child: ChildProcess,
    readonly listenAddress: string,
    readonly exited: Promise<number | null>,
    /** Prometheus' last log lines, to explain an exit before it is ready. */
    private readonly logTail: readonly string[],
  ) {}

  /** Starts Prometheus and waits until it is ready; throws (with its last log lines) if it exits first. */
  static async start(options: PrometheusProcessOptions): Promise<PrometheusProcess> {
    const binary = options.binary ?? "prometheus";
    const resolved = findExecutable(binary);
    if (resolved === null) throw new PrometheusNotInstalledError(binary);
    mkdirSync(options.dataDir, { recursive: true });
    const args = [
      `--config.file=${options.configFile}`,
      `--storage.tsdb.path=${options.dataDir}`,
      `--web.listen-address=${options.listenAddress}`,
      `--log.level=${options.logLevel ?? "info"}`,
    ];
    const logDir = options.logDir ?? null;
    const logTail: string[] = [];
    const { child, exited } = spawnLogged({
      command: resolved,
      args,
      log: logDir === "inherit" ? "inherit" : logDir === null ? null : { file: path.join(logDir, "prometheus.log") },
      onStderrLine: (line) => {
        logTail.push(line);
        if (logTail.length > logTailLinesMax) logTail.shift();
      },
    });
    const prometheus = new PrometheusProcess(child, options.listenAddress, exited, logTail);
    try {
      await prometheus.waitReady(options.readyTimeoutMs ?? readyTimeoutMsDefault);
    } catch (error) {
      await prometheus.stop();
      throw error;
    }
    return prometheus;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** The base URL of the web UI and HTTP API. */
  get url(): string {
    const host = this.listenAddress.startsWith("0.0.0.0:")
      ? `127.0.0.1:${this.listenAddress.slice("0.0.0.0:".length)}`
      : this.listenAddress;
    return `http://${host}`;
  }

  /** SIGTERM (SIGKILL after a grace period) and wait for the process to exit. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill("SIGTERM");
      const timer = setTimeout(() => this.child.kill("SIGKILL"), stopGraceMs);
      await this.exited;
      clearTimeout(timer);
    }
  }

  private async waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let exitCode: number | null | undefined;
    void this.exited.then((code) => (exitCode = code));
    for (;;) {
      if (exitCode !== undefined)
        throw new Error(
          `prometheus exited (code ${exitCode}) before it was ready on ${this.listenAddress}:\n${this.logTail.join("\n")}`,
        );
      try {
        const response = await fetch(`${this.url}/-/ready`, { signal: AbortSignal.timeout(1_000) });
        if (response.ok) return;
      } catch {
        // Not listening yet.
      }
      if (Date.now() >= deadline)
        throw new Error(
          `prometheus was not ready on ${this.listenAddress} after ${timeoutMs} ms:\n${this.logTail.join("\n")}`,
        );
      await new Promise((resolve) => setTimeout(resolve, readyPollMs));
    }
  }
}

/** The absolute path of `name` (a bare name is looked up on PATH), or null when there is none. */
export function findExecutable(name: string, envPath: string = process.env.PATH ?? ""): string | null {
  const candidates = name.includes(path.sep)
    ? [path.resolve(name)]
    : envPath
        .split(path.delimiter)
        .filter((dir) => dir !== "")
        .map((dir) => path.join(dir, name));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here.
    }
  }
  return null;
}

/** The repository's prometheus/ directory (configuration, rules, rule tests), from sources or from dist/. */
export function prometheusConfigDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  // dist/dev/local-cluster -> repository root is three up; dev/local-cluster (vitest) two up.
  for (const root of [path.resolve(here, "../../.."), path.resolve(here, "../..")]) {
    const dir = path.join(root, "prometheus");
    if (existsSync(path.join(dir, "prometheus.yml"))) return dir;
  }
  throw new Error(`cannot find the prometheus/ directory with prometheus.yml above ${here}`);
}
