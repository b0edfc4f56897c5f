#!/usr/bin/env node
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { CliIo } from "./io.js";
import { run } from "./run.js";

/**
 * The orchctl binary: binds run() to the real process. Ctrl-C aborts the command (watch ends
 * with status 0; anything else reports "interrupted"); a second Ctrl-C exits at once.
 */
export { run };

async function main(): Promise<void> {
  const interrupt = new AbortController();
  process.once("SIGINT", () => {
    interrupt.abort();
    process.once("SIGINT", () => process.exit(130));
  });
  const io: CliIo = {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    signal: interrupt.signal,
    progressTerminal: process.stderr.isTTY ? process.stderr : undefined,
  };
  const code = await run(process.argv.slice(2), io);
  // Exit as soon as the output is flushed: a connection still being attempted to a replica that
  // is gone (a killed leader's black-holed address) must not hold the finished command open.
  process.stdout.write("", () => process.stderr.write("", () => process.exit(code)));
}

/** True when this module is the program node was asked to run (also through npm's bin symlink). */
function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) await main();
