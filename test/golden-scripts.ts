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
