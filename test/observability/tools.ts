import { spawn } from "node:child_process";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { findExecutable } from "../../dev/local-cluster/process-prometheus.js";

/**
 * The external tools the observability suites run (promtool, prometheus, docker-compose), and
 * the rule for when they are missing: the test FAILS and says how to install them (CI installs
 * them through .ci/run), unless the matching SKIP_* variable is set to 1, which skips the
 * suites that need them.
 */

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const prometheusDir = path.join(repoRoot, "prometheus");
export const grafanaDir = path.join(repoRoot, "grafana");

/** SKIP_PROMETHEUS=1 skips every suite that needs prometheus or promtool. */
export const skipPrometheus = process.env.SKIP_PROMETHEUS === "1";
/** SKIP_COMPOSE=1 skips the docker-compose check. */
export const skipCompose = process.env.SKIP_COMPOSE === "1";

const installHints: Readonly<Record<string, string>> = {
  prometheus:
    "install Debian's prometheus package (apt-get install -y prometheus; .ci/run does), or set SKIP_PROMETHEUS=1 to skip the Prometheus tests",
  promtool:
    "install Debian's prometheus package, which ships promtool (apt-get install -y prometheus; .ci/run does), or set SKIP_PROMETHEUS=1 to skip the Prometheus tests",
  "docker-compose":
    "install Debian's docker-compose package (apt-get install -y docker-compose; .ci/run does; no Docker engine is needed for `config`), or set SKIP_COMPOSE=1 to skip this check",
};

/** The tool's absolute path; throws a message that says how to install it when it is not on PATH. */
export function requireTool(name: keyof typeof installHints & string): string {
  const found = findExecutable(name);
  if (found === null)
    throw new Error(`${name} is not installed (not found on PATH=${process.env.PATH ?? ""}): ${installHints[name]}.`);
  return found;
}

export interface ToolResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to completion (bounded), feeding `input` on stdin; never throws on a non-zero exit. */
export function runTool(
  command: string,
  args: readonly string[],
  options: { input?: string; cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd ?? repoRoot,
      env: options.env ?? process.env,
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 30_000);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? "");
  });
}

/** A readable account of a failed command, for assertion messages. */
export function describeRun(command: string, args: readonly string[], result: ToolResult): string {
  return `${command} ${args.join(" ")} exited ${result.code}\n--- stdout ---\n${result.stdout}\n--- stderr ---\n${result.stderr}`;
}
