/**
 * Data-driven scenario tests of the Raft core, in the style of etcd-io/raft's testdata: each
 * test/raft/testdata/*.txt script is run and must reproduce its expected outputs exactly.
 * After a deliberate change, regenerate them and review the diff:
 *   REWRITE=1 npx vitest run test/raft/scenarios.test.ts
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describeGoldenScripts } from "../golden-scripts.js";
import { runScript } from "./scenario/run-script.js";

describeGoldenScripts("raft scenarios", join(dirname(fileURLToPath(import.meta.url)), "testdata"), runScript);
