/**
 * Runs one scenario script against a fresh cluster and renders it back with the actual
 * outputs. Comparing the rendering with the file is the test; writing it is the rewrite.
 */
import { Cluster } from "./cluster.js";
import { runCommand } from "./commands.js";
import { parseScript, renderScript } from "./script.js";

/** The default seed of a script's randomness; `add-nodes ... seed=N` overrides it. */
const defaultSeed = 1;

export function runScript(text: string, file: string): string {
  const segments = parseScript(text, file);
  const cluster = new Cluster(defaultSeed);
  const outputs: string[][] = [];
  for (const segment of segments) {
    if (segment.kind !== "block") continue;
    const lines: string[] = [];
    for (const command of segment.block.commands) {
      try {
        runCommand(cluster, command);
      } catch (error) {
        // A script mistake, not a core bug: show it where it happened and carry on.
        cluster.print(`script error: ${error instanceof Error ? error.message : String(error)}`);
      }
      lines.push(...cluster.drainOutput());
    }
    // A blank line ends a block's output, so an empty output is written as `ok`.
    outputs.push(lines.length === 0 ? ["ok"] : lines.map((line) => (line.trim() === "" ? "." : line)));
  }
  return renderScript(segments, outputs);
}
