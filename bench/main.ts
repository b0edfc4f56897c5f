/** Runs the benchmarks (`npm run bench`); each prints its figures and writes bench/results/<name>.json. */
import { benchDocker } from "./docker.js";
import { benchFailover } from "./failover.js";
import { benchHealth } from "./health.js";
import { benchOperations } from "./operations/index.js";
import { benchRaftCore } from "./raft-core.js";
import { benchRollout } from "./rollout.js";
import { benchSchedulerEndToEnd } from "./scheduler-e2e.js";
import { benchWrites } from "./writes.js";

// `npm run bench -- writes failover` runs only the named benchmarks; no names runs them all.
const benchNames = ["raft-core", "writes", "failover", "scheduler-e2e", "health", "rollout", "docker", "operations"];
const requested = process.argv.slice(2).filter((a) => !a.startsWith("-"));
const unknown = requested.filter((name) => !benchNames.includes(name));
if (unknown.length > 0) {
  console.error(`unknown benchmark(s): ${unknown.join(", ")}; choose from ${benchNames.join(", ")}`);
  process.exit(2);
}
const selected = (name: string) => requested.length === 0 || requested.includes(name);

const target = { raftCoreEntriesPerSecond: 200_000 };

if (selected("raft-core")) {
  const result = await benchRaftCore();
  if (result.entriesPerSecond < target.raftCoreEntriesPerSecond) {
    console.log(`raft-core: below the target of ${target.raftCoreEntriesPerSecond.toLocaleString("en-US")} entries/s`);
  }
}
if (selected("writes")) await benchWrites();
if (selected("failover")) await benchFailover();
if (selected("scheduler-e2e")) await benchSchedulerEndToEnd();
if (selected("health")) await benchHealth();
// BENCH_CPU_PROFILE_DIR=dir writes the replicas' V8 CPU profiles over the rollout there.
const profileDir = process.env["BENCH_CPU_PROFILE_DIR"];
if (selected("rollout")) await benchRollout(profileDir === undefined ? {} : { cpuProfileDir: profileDir });
// Needs a Docker engine (test/docker/engine.ts); `npm run bench` alone skips it with SKIP_DOCKER=1.
if (selected("docker") && !(requested.length === 0 && process.env["SKIP_DOCKER"] === "1")) await benchDocker();
if (selected("operations")) await benchOperations();
// Leftover gRPC channels or log streams must not keep the process alive.
process.exit(0);
