#!/usr/bin/env node
import { Command } from "commander";
import { ProcessCluster } from "./process-cluster.js";
import { AgentProcesses } from "./process-agents.js";

/** `npm run cluster`: three replicas on the default local ports, in the foreground; Ctrl-C stops all. */
async function main(): Promise<void> {
  const program = new Command("cluster")
    .description("Run a local three-replica MicroOrchestrator cluster in the foreground (Ctrl-C stops every process).")
    .option("--replicas <n>", "number of replicas", "3")
    .option("--data <dir>", "data directory root (kept between runs)", "./data")
    .option("--wipe", "delete the data directory first (a brand-new cluster)", false)
    .option("--logs <dir>", "write each process's JSON log to <dir>/<name>.log instead of the terminal")
    .option("--nodes <n>", "simulated nodes per regional agent", "3")
    .option("--no-agents", "start only the replicas, no regional node agents")
    .addHelpText("after", "\nThen, in another terminal:\n  orchctl deploy web --image nginx:1 --replicas 3\n  orchctl list\n  orchctl cluster");
  program.parse(process.argv);
  const opts = program.opts<{ replicas: string; data: string; wipe: boolean; logs?: string; nodes: string; agents: boolean }>();
  const replicas = Number(opts.replicas);
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > 7) {
    process.stderr.write("error: --replicas must be between 1 and 7\n");
    process.exit(2);
  }
  const cluster = await ProcessCluster.start({ replicas, dataRoot: opts.data, wipe: opts.wipe, logDir: opts.logs ?? "inherit" });
  const nodesPerRegion = Number(opts.nodes);
  const agents = opts.agents
    ? await AgentProcesses.start({ endpoints: cluster.endpoints(), nodesPerRegion, logDir: opts.logs ?? "inherit" })
    : null;
  for (const r of cluster.replicas) {
    process.stdout.write(`${r.id}: api ${r.apiAddress}  raft ${r.raftAddress}  http ${r.metricsAddress}  data ${r.dataDir}  pid ${r.child?.pid}\n`);
  }
  for (const a of agents?.agents ?? []) {
    process.stdout.write(`agent ${a.region}: ${a.nodes} nodes  http ${a.httpAddress}  pid ${a.child?.pid}\n`);
  }
  process.stdout.write(`\nendpoints: ${cluster.endpoints()}   (orchctl --endpoints ${cluster.endpoints()} ...)\nCtrl-C stops the cluster.\n\n`);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    process.stdout.write("\nstopping the cluster...\n");
    void (agents?.stop() ?? Promise.resolve()).then(() => cluster.stop()).then(() => process.exit(0));
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  for (const r of cluster.replicas) {
    void r.exited.then((code) => {
      if (!stopping) process.stderr.write(`replica ${r.id} exited with code ${code}\n`);
    });
  }
}

void main();
