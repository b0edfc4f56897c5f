/**
 * The runner behind the data-driven scripts (test/raft/testdata, test/rollout/testdata), in the
 * style of etcd-io/raft's datadriven tests: each *.txt script of `testdata` is run and must
 * reproduce its expected outputs exactly. After a deliberate change, regenerate the scripts with
 * REWRITE=1 and review the diff.
 */
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

export function describeGoldenScripts(
  title: string,
  testdata: string,
  runScript: (text: string, name: string) => string,
): void {
  const rewrite = process.env["REWRITE"] === "1";
  const scripts = readdirSync(testdata)
    .filter((name) => name.endsWith(".txt"))
    .sort();
  describe(title, () => {
    it("finds the scripts", () => {
      expect(scripts.length).toBeGreaterThan(0);
    });
    for (const name of scripts) {
      it(name, () => {
        const path = join(testdata, name);
        const text = readFileSync(path, "utf8");
        const actual = runScript(text, name);
        if (rewrite) {
          if (actual !== text) writeFileSync(path, actual);
          return;
        }
        expect(actual).toBe(text);
      });
    }
  });
}

/**
 * Runs a script's blocks in order: a block is comment lines (`#`), then a command line, then its
 * expected output after `----`; `execute` answers each command (trimmed). Returns the script with
 * every output replaced by what `execute` answered, to compare with the file.
 */
export function runScriptBlocks(text: string, name: string, execute: (command: string) => string): string {
  const out: string[] = [];
  for (const block of text.split(/\n\n+/)) {
    const lines = block.split("\n");
    const comment: string[] = [];
    while (lines.length > 0 && (lines[0].startsWith("#") || lines[0] === "")) comment.push(lines.shift()!);
    if (lines.length === 0) {
      if (comment.length > 0) out.push(comment.join("\n"));
      continue;
    }
    const command = lines[0].trim();
    if (command === "") continue;
    let result: string;
    try {
      result = execute(command);
    } catch (error) {
      throw new Error(`${name}: ${command}: ${error instanceof Error ? error.message : String(error)}`, {
        cause: error,
      });
    }
    out.push([...comment, command, "----", result].join("\n"));
  }
  return out.join("\n\n") + "\n";
}
