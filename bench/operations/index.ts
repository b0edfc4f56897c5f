/**
 * `npm run bench -- operations` (bench/results/operations.json): the operator's tools at scale.
 * Each part measures one operation and returns its figures, stored under its name. A part is one
 * line in `parts` below: snapshot save/restore, a new member's catch-up, a node drain.
 */
import { loadAverage, machineInfo, writeResult } from "../bench-report.js";
import { benchSnapshot } from "./snapshot.js";
import { benchMemberCatchUp } from "./member-catch-up.js";
import { benchDrain } from "./drain.js";

export interface OperationsBenchPart {
  /** The key of its figures in operations.json. */
  readonly name: string;
  run(): Promise<unknown>;
}

/** BENCH_OPERATIONS_SIZES=10000,100000 overrides the snapshot sizes (a quick run). */
function snapshotSizes(): number[] | undefined {
  const text = process.env["BENCH_OPERATIONS_SIZES"];
  if (text === undefined || text === "") return undefined;
  return text.split(",").map((part) => Number(part));
}

const parts: readonly OperationsBenchPart[] = [
  { name: "snapshot", run: () => benchSnapshot(snapshotSizes()) },
  { name: "memberCatchUp", run: () => benchMemberCatchUp() },
  { name: "drain", run: () => benchDrain() },
];

export async function benchOperations(): Promise<void> {
  const result: Record<string, unknown> = { machine: machineInfo() };
  for (const part of parts) {
    console.log(`operations: ${part.name}`);
    result[part.name] = await part.run();
  }
  result["loadAverageAtEnd"] = loadAverage();
  const file = await writeResult("operations", result);
  console.log(`operations: wrote ${file}`);
}
