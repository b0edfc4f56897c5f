/** Runs the benchmarks (`npm run bench`); each prints its figures and writes bench/results/<name>.json. */
import { benchRaftCore } from "./raft-core.js";

const target = { raftCoreEntriesPerSecond: 200_000 };

const result = await benchRaftCore();
if (result.entriesPerSecond < target.raftCoreEntriesPerSecond) {
  console.log(`raft-core: below the target of ${target.raftCoreEntriesPerSecond.toLocaleString("en-US")} entries/s`);
}
