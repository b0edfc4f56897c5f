/**
 * Runs the member catch-up benchmark alone (`npm run build && node dist/bench/operations/member-catch-up-main.js`)
 * and writes bench/results/member-catch-up.json; `npm run bench -- operations` runs it with the
 * other operations benchmarks.
 */
import { writeResult } from "../bench-report.js";
import { benchMemberCatchUp } from "./member-catch-up.js";

const deployments = Number(process.env["BENCH_MEMBER_DEPLOYMENTS"] ?? 100);
const result = await benchMemberCatchUp({ deployments });
console.log(`wrote ${await writeResult("member-catch-up", result)}`);
process.exit(0);
