import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdirSync } from "node:fs";
import * as path from "node:path";
import { finished } from "node:stream/promises";

/**
 * Where a child's log goes: "inherit" passes its stdout and stderr through to ours; a file
 * path appends its stderr (our processes log JSON lines there) to that file; null discards it.
 */
export type ChildLog = "inherit" | { readonly file: string } | null;

export interface SpawnLoggedOptions {
  readonly command: string;
  readonly args: readonly string[];
  readonly log: ChildLog;
  readonly env?: NodeJS.ProcessEnv;
  /** Hears every non-empty stderr line (not with "inherit"), e.g. to explain an early exit. */
  readonly onStderrLine?: (line: string) => void;
}

export interface LoggedChild {
  readonly child: ChildProcess;
  /**
   * The exit code (null after a signal), once the process has exited and its log is on disk:
   * "close" waits for stderr to drain, and the file stream is flushed, so a log read after
   * `exited` sees the last lines.
   */
  readonly exited: Promise<number | null>;
}

/** The one way the local-cluster tooling starts a child process and keeps its log. */
export function spawnLogged(options: SpawnLoggedOptions): LoggedChild {
  const inherit = options.log === "inherit";
  const child = spawn(options.command, options.args, {
    stdio: ["ignore", inherit ? "inherit" : "ignore", inherit ? "inherit" : "pipe"],
    env: { ...process.env, ...options.env },
  });
  const closed = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
  let flushed: Promise<void> = Promise.resolve();
  const stderr = child.stderr;
  if (stderr !== null) {
    const log = options.log;
    if (log !== null && log !== "inherit") {
      mkdirSync(path.dirname(log.file), { recursive: true });
      const stream = createWriteStream(log.file, { flags: "a" });
      stderr.pipe(stream);
      flushed = finished(stream).catch(() => undefined);
    }
    if (options.onStderrLine !== undefined) {
      const onLine = options.onStderrLine;
      stderr.setEncoding("utf8");
      stderr.on("data", (chunk: string) => {
        for (const line of chunk.split("\n")) if (line.trim() !== "") onLine(line);
      });
    } else if (log === null) {
      stderr.resume();
    }
  }
  return { child, exited: closed.then(async (code) => (await flushed, code)) };
}
