#!/usr/bin/env node
import { mkdirSync } from "node:fs";
import * as path from "node:path";
import { OrchClient } from "../../src/cli/client.js";
import { run } from "../../src/cli/run.js";
import { AgentProcesses } from "../local-cluster/process-agents.js";
import { ProcessCluster } from "../local-cluster/process-cluster.js";
import { demoDataRoot, writeDemoState } from "./demo-state.js";
import { renderStatus } from "./demo-status-view.js";

const sampleDeployments: readonly (readonly string[])[] = [
  [
    "deploy",
    "web",
    "--image",
    "nginx:1.27",
    "--replicas",
    "6",
    "--cpu",
    "250m",
    "--memory",
    "256Mi",
    "--strategy",
    "spread",
  ],
  ["deploy", "api", "--image", "api:2.1", "--replicas", "4", "--cpu", "1", "--memory", "1Gi", "--strategy", "binpack"],
  [
    "deploy",
    "edge",
    "--image",
    "edge:0.9",
    "--replicas",
    "3",
    "--cpu",
    "200m",
    "--memory",
    "128Mi",
    "--strategy",
    "latency",
    "--client-regions",
    "eu-west-1",
  ],
  [
    "deploy",
    "jobs",
    "--image",
    "worker:5",
    "--replicas",
    "2",
    "--cpu",
    "500m",
    "--memory",
    "512Mi",
    "--regions",
    "us-east-1",
    "--one-per-node",
  ],
];

/** `npm run demo`: a fresh cluster (3 replicas, 3 regional agents), sample deployments, then a live status view. */
async function main(): Promise<void> {
  const logDir = path.join(demoDataRoot, "logs");
  mkdirSync(demoDataRoot, { recursive: true });
  process.stdout.write(`starting 3 replicas and 3 regional agents (data and logs in ${demoDataRoot})…\n`);
  const cluster = await ProcessCluster.start({ dataRoot: path.join(demoDataRoot, "replicas"), wipe: true, logDir });
  const agents = await AgentProcesses.start({ endpoints: cluster.endpoints(), logDir });
  writeDemoState({
    endpoints: cluster.endpoints(),
    replicas: cluster.replicas.map((r) => ({ id: r.id, pid: r.child?.pid ?? 0, api: r.apiAddress })),
    agents: agents.agents.map((a) => ({ region: a.region, pid: a.child?.pid ?? 0, http: a.httpAddress })),
  });
  let stopping = false;
  // A supervisor, as in production: a replica that dies (demo:failover kills the leader) comes back from its disk.
  const supervise = (replica: (typeof cluster.replicas)[number]) => {
    void replica.exited.then(() => {
      if (stopping || replica.child !== null) return;
      setTimeout(() => {
        if (stopping) return;
        cluster.restart(replica.id);
        writeState();
        supervise(replica);
      }, 2000);
    });
  };
  const writeState = () =>
    writeDemoState({
      endpoints: cluster.endpoints(),
      replicas: cluster.replicas.map((r) => ({ id: r.id, pid: r.child?.pid ?? 0, api: r.apiAddress })),
      agents: agents.agents.map((a) => ({ region: a.region, pid: a.child?.pid ?? 0, http: a.httpAddress })),
    });
  for (const replica of cluster.replicas) supervise(replica);
  const stop = () => {
    if (stopping) return;
    stopping = true;
    process.stdout.write("\nstopping the demo…\n");
    void agents
      .stop()
      .then(() => cluster.stop())
      .then(() => process.exit(0));
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);

  const io = { stdout: process.stdout, stderr: process.stderr, env: { ...process.env } };
  for (const args of sampleDeployments) {
    await run(["--endpoints", cluster.endpoints(), "--timeout", "30", ...args, "--wait"], io);
  }
  // A rolling update to show in the live view: two replicas at a time, each counted once healthy for 2 s.
  process.stdout.write("\nrolling web from nginx:1.27 to nginx:1.28, two replicas at a time…\n");
  await run(
    [
      "--endpoints",
      cluster.endpoints(),
      "--timeout",
      "30",
      ...sampleDeployments[0].map((arg) => (arg === "nginx:1.27" ? "nginx:1.28" : arg)),
      "--max-parallel",
      "2",
      "--min-healthy-time",
      "2s",
    ],
    io,
  );
  process.stdout.write(
    "\nIn another terminal: `npm run demo:failover` kills the leader, injects failures and rolls out a bad version.\n",
  );
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const client = new OrchClient({
    endpoints: cluster.endpoints().split(","),
    deadlineMs: Number.POSITIVE_INFINITY,
    log: () => undefined,
  });
  for (;;) {
    if (stopping) return;
    let screen: string;
    try {
      screen = await renderStatus(client);
    } catch (error) {
      screen = `status unavailable right now (${error instanceof Error ? error.message : String(error)}); retrying…`;
    }
    if (!stopping) process.stdout.write(`\x1b[2J\x1b[H${screen}\n`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

void main();
