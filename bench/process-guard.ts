import { rmSync } from "node:fs";

/**
 * Every process a benchmark starts (replicas, etcd members) is registered here by a function that
 * lists its current PIDs, so that whatever way the benchmark ends — normally, by an exception, or
 * by Ctrl-C — each of them is killed by PID. Processes are never looked up by name.
 */

type PidSource = () => readonly number[];

const sources = new Set<PidSource>();
const tempDirs = new Set<string>();
let installed = false;

/** SIGKILLs every registered PID that is still alive and removes registered temporary directories; safe to call more than once. */
export function killTracked(): void {
  for (const source of sources) {
    for (const pid of source()) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
  }
  for (const dir of tempDirs) {
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    } catch {
      // Best effort: a dying process may still hold a file for a moment.
    }
  }
  tempDirs.clear();
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on("exit", killTracked);
  const onSignal = (signal: NodeJS.Signals) => {
    process.stderr.write(`\nbench: ${signal}: killing the benchmark's processes\n`);
    killTracked();
    process.exit(signal === "SIGINT" ? 130 : 143);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  process.on("uncaughtException", (error) => {
    process.stderr.write(`bench: uncaught exception: ${error.stack ?? String(error)}\n`);
    killTracked();
    process.exit(1);
  });
  process.on("unhandledRejection", (reason) => {
    process.stderr.write(
      `bench: unhandled rejection: ${reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)}\n`,
    );
    killTracked();
    process.exit(1);
  });
}

/** Registers a source of PIDs to kill on exit; returns a function that unregisters it. */
export function trackProcesses(source: PidSource): () => void {
  install();
  sources.add(source);
  return () => sources.delete(source);
}

/** Registers a temporary directory to delete if the benchmark ends abruptly; returns a function that unregisters it. */
export function trackTempDir(dir: string): () => void {
  install();
  tempDirs.add(dir);
  return () => tempDirs.delete(dir);
}
