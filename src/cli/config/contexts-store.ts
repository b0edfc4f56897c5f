import { chmodSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import type { CliIo } from "../io.js";
import { cliLimits } from "../limits.js";
import { ContextsFileError, emptyContextsConfig, parseContextsFile, renderContextsFile } from "./contexts-file.js";
import type { ContextsConfig } from "./contexts-file.js";

/** Names the contexts file instead of the default path. */
export const CONFIG_ENV = "ORCH_CONFIG";

/**
 * Where the contexts file is: $ORCH_CONFIG, else $XDG_CONFIG_HOME/orchestrator/config.yaml, else
 * $HOME/.config/orchestrator/config.yaml. Read from the command's environment only (not the
 * process's), so an in-process run with an empty environment touches no user's file. Null when
 * none of the three is set.
 */
export function contextsFilePath(env: CliIo["env"]): string | null {
  const named = env[CONFIG_ENV];
  if (named !== undefined && named !== "") return named;
  const xdg = env["XDG_CONFIG_HOME"];
  // The XDG spec ignores a relative XDG_CONFIG_HOME.
  if (xdg !== undefined && isAbsolute(xdg)) return join(xdg, "orchestrator", "config.yaml");
  const home = env["HOME"];
  if (home !== undefined && home !== "") return join(home, ".config", "orchestrator", "config.yaml");
  return null;
}

/** The file's contexts; a missing file holds none. A broken file throws ContextsFileError. */
export function readContextsFile(path: string): ContextsConfig {
  let size: number;
  try {
    size = statSync(path).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return emptyContextsConfig;
    throw new ContextsFileError(`${path}: ${(error as Error).message}`);
  }
  if (size > cliLimits.contextsFileBytesMax)
    throw new ContextsFileError(`${path}: larger than ${cliLimits.contextsFileBytesMax} bytes; is it a contexts file?`);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new ContextsFileError(`${path}: ${(error as Error).message}`);
  }
  return parseContextsFile(text, path);
}

/**
 * Replaces the file atomically (a reader never sees half of it), 0600 because a context may hold
 * a token, in a directory made 0700 if it is new.
 */
export function writeContextsFile(path: string, config: ContextsConfig): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const scratch = `${path}.${process.pid}.tmp`;
  writeFileSync(scratch, renderContextsFile(config), { mode: 0o600 });
  // The mode of writeFileSync is filtered by the umask and ignored for an existing file.
  chmodSync(scratch, 0o600);
  renameSync(scratch, path);
}

/** Reads, changes and writes the file back; returns what was written. */
export function updateContextsFile(path: string, change: (config: ContextsConfig) => ContextsConfig): ContextsConfig {
  const next = change(readContextsFile(path));
  writeContextsFile(path, next);
  return next;
}
