/**
 * Data-driven scenario tests of the Raft core, in the style of etcd-io/raft's testdata: each
 * test/raft/testdata/*.txt script is run and must reproduce its expected outputs exactly.
 * After a deliberate change, regenerate them and review the diff:
 *   REWRITE=1 npx vitest run test/raft/scenarios.test.ts
 */
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { runScript } from "./scenario/run-script.js";

const testdata = join(dirname(fileURLToPath(import.meta.url)), "testdata");
const rewrite = process.env["REWRITE"] === "1";
const scripts = readdirSync(testdata)
  .filter((name) => name.endsWith(".txt"))
  .sort();

describe("raft scenarios", () => {
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
