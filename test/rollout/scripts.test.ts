/**
 * Data-driven scenario tests of the rollout core, in the style of test/raft/testdata: each
 * test/rollout/testdata/*.txt script is run and must reproduce its expected outputs exactly.
 * After a deliberate change, regenerate them and review the diff:
 *   REWRITE=1 npx vitest run test/rollout/scripts.test.ts
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describeGoldenScripts } from "../golden-scripts.js";
import { runScript } from "./run-script.js";

describeGoldenScripts("rollout core scenarios", join(dirname(fileURLToPath(import.meta.url)), "testdata"), runScript);
