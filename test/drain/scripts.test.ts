/**
 * Data-driven scenario tests of the drain core, in the style of test/raft/testdata: each
 * test/drain/testdata/*.txt script is run and must reproduce its expected outputs exactly.
 * After a deliberate change, regenerate them and review the diff:
 *   REWRITE=1 npx vitest run test/drain/scripts.test.ts
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describeGoldenScripts } from "../golden-scripts.js";
import { runScript } from "./run-script.js";

describeGoldenScripts("drain core scenarios", join(dirname(fileURLToPath(import.meta.url)), "testdata"), runScript);
