#!/usr/bin/env node
import type { ChannelCredentials } from "@grpc/grpc-js";
import { mkdirSync } from "node:fs";
import * as path from "node:path";
import { OrchClient } from "../../src/cli/client.js";
import { run } from "../../src/cli/run.js";
import {
  bootstrapToken,
  ensureLocalPki,
  forgetToken,
  localClientCredentials,
  localSecurity,
  orchctlArgs,
  type LocalSecurity,
  replicaSecurityArgs,
  writeLocalContext,
} from "../local-cluster/local-security.js";
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

/** The orchctl context the demo writes and makes current. */
const demoContextName = "demo";
/** How long the demo waits for a leader to bootstrap the ACL token. */
const bootstrapTimeoutSeconds = 60;

/**
 * `npm run demo`: a fresh cluster (3 replicas, 3 regional agents) with mutual TLS (a PKI kept
 * under data/demo/pki), sample deployments, then a live status view. `npm run demo -- --insecure`
 * runs it in plaintext.
 */
async function main(): Promise<void> {
  const insecure = process.argv.slice(2).includes("--insecure");
  const logDir = path.join(demoDataRoot, "logs");
  mkdirSync(demoDataRoot, { recursive: true });
  const security = insecure ? null : localSecurity(demoDataRoot);
  if (security !== null) {
    ensureLocalPki(security, ["r1", "r2", "r3"]);
    // The replicas' data is wiped below: a token of the last run names nothing in this cluster.
    forgetToken(security);
  }
  process.stdout.write(
    `starting 3 replicas and 3 regional agents (data and logs in ${demoDataRoot}, ${security === null ? "plaintext" : `mutual TLS with ${security.pkiDir}`})…\n`,
  );
  const cluster = await ProcessCluster.start({
    dataRoot: path.join(demoDataRoot, "replicas"),
    wipe: true,
    logDir,
    extraArgs: replicaSecurityArgs(security),
    ...(security !== null ? { tlsDir: security.pkiDir } : {}),
  });
  const agents = await AgentProcesses.start({
    endpoints: cluster.endpoints(),
    logDir,
    ...(security !== null ? { tlsDir: security.pkiDir } : {}),
  });
  try {
    await bootstrapToken(security, cluster.endpoints(), bootstrapTimeoutSeconds);
  } catch (error) {
    process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\nstopping the demo…\n`);
    await agents.stop();
    await cluster.stop();
    process.exit(1);
  }
  const contextFile = writeLocalContext(process.env, demoContextName, cluster.endpoints(), security);
  if (contextFile !== null)
    process.stdout.write(`orchctl context "${demoContextName}" written to ${contextFile} and made current\n`);
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
      security,
    });
  writeState();
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

  // The user's ORCH_* variables and contexts must not redirect the demo's own commands.
  const io = { stdout: process.stdout, stderr: process.stderr, env: {} };
  const connection = orchctlArgs(cluster.endpoints(), security);
  for (const args of sampleDeployments) {
    await run([...connection, "--timeout", "30", ...args, "--wait"], io);
  }
  // A rolling update to show in the live view: two replicas at a time, each counted once healthy for 2 s.
  process.stdout.write("\nrolling web from nginx:1.27 to nginx:1.28, two replicas at a time…\n");
  await run(
    [
      ...connection,
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
    ...credentialsOption(security),
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

function credentialsOption(security: LocalSecurity | null): { credentials?: ChannelCredentials } {
  const credentials = localClientCredentials(security);
  return credentials !== undefined ? { credentials } : {};
}

void main();
