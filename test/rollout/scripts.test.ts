/**
 * Data-driven scenario tests of the rollout core, in the style of test/raft/testdata: each
 * test/rollout/testdata/*.txt script is run and must reproduce its expected outputs exactly.
 * After a deliberate change, regenerate them and review the diff:
 *   REWRITE=1 npx vitest run test/rollout/scripts.test.ts
 */
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { runScript } from "./run-script.js";

const testdata = join(dirname(fileURLToPath(import.meta.url)), "testdata");
const rewrite = process.env["REWRITE"] === "1";
const scripts = readdirSync(testdata)
  .filter((name) => name.endsWith(".txt"))
  .sort();

describe("rollout core scenarios", () => {
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
