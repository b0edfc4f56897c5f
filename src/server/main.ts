#!/usr/bin/env node
import { Command, CommanderError, Option } from "commander";
import { startReplica, type ReplicaOptions } from "./replica.js";
import { MembersDirectory } from "./members-directory.js";
import { parsePeerList } from "./peers.js";
import { splitHostPort, splitListenHostPort } from "../lib/host-port.js";
import { loadTlsMaterial, tlsFilesFromFlags } from "../lib/tls-material.js";
import { plaintextRefusal } from "./replica-security.js";
import { parseRestoreArgs, restoreDataDir, RestoreError, type RestoreOptions } from "./restore.js";

const regions = ["us-east-1", "eu-west-1", "ap-southeast-1"];

function parseArgs(argv: string[]): ReplicaOptions {
  const program = new Command("orchestrator")
    .description(
      "One MicroOrchestrator control-plane replica: Raft (gRPC + LevelDB), the cluster state, the API and /metrics.",
    )
    .requiredOption("--id <id>", "this replica's id, one of the ids in --peers (e.g. r1)")
    .requiredOption(
      "--peers <list>",
      "every replica's Raft address: r1=127.0.0.1:7001,r2=127.0.0.1:7002,r3=127.0.0.1:7003",
    )
    .option(
      "--peer-apis <list>",
      "every replica's API address (default: Raft port 700i -> API port 5005i on the same host)",
    )
    .option("--api <host:port>", "where this replica serves the gRPC API (default: from --peer-apis)")
    .option(
      "--metrics <host:port>",
      "where /metrics, /healthz and /readyz are served (default: 127.0.0.1:8080 + i - 1)",
    )
    .option("--data-dir <dir>", "Raft log and snapshots (default: ./data/<id>)")
    .addOption(new Option("--region <region>", "region this replica runs in").choices(regions).default("us-east-1"))
    .option("--snapshot-every <entries>", "snapshot and compact the log every N applied entries", "20000")
    .option(
      "--snapshot-keep <entries>",
      "log entries kept behind a snapshot, so briefly lagging followers catch up without a snapshot transfer",
      "2000",
    )
    .option("--tick-ms <ms>", "Raft tick length in milliseconds", "10")
    .option("--tls-ca <file>", "CA certificate: peers, agents and clients must present a certificate it signed")
    .option("--tls-cert <file>", "this replica's certificate (identity orchestrator://replica/<id>)")
    .option("--tls-key <file>", "the key of --tls-cert")
    .option("--insecure", "serve the API and Raft in plaintext on non-loopback addresses (not recommended)")
    .option(
      "--cluster-token <text>",
      "mixed into the founding cluster id derived from --peers, so two clusters with the same replica ids never talk",
      "",
    )
    .option(
      "--force-new-cluster",
      "disaster recovery: make this surviving replica the only voter of a new cluster, keeping every entry it holds (remove the flag afterwards)",
    )
    .addHelpText(
      "after",
      `
Example (replica 1 of a local three-replica cluster):
  orchestrator --id r1 --peers r1=127.0.0.1:7001,r2=127.0.0.1:7002,r3=127.0.0.1:7003 \\
    --api 127.0.0.1:50051 --metrics 127.0.0.1:8080 --data-dir ./data/r1 --region us-east-1

Logs are JSON lines on stderr. SIGTERM hands leadership to another replica before exiting.`,
    )
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  program.parse(argv, { from: "user" });
  const opts = program.opts<{
    id: string;
    peers: string;
    peerApis?: string;
    api?: string;
    metrics?: string;
    dataDir?: string;
    region: string;
    snapshotEvery: string;
    snapshotKeep: string;
    tickMs: string;
    tlsCa?: string;
    tlsCert?: string;
    tlsKey?: string;
    insecure?: boolean;
    clusterToken: string;
    forceNewCluster?: boolean;
  }>();
  const tlsFiles = tlsFilesFromFlags(opts);
  const raftPeers = parsePeerList(opts.peers, "--peers");
  if (!raftPeers.has(opts.id))
    throw new Error(`--id ${opts.id} is not one of the replicas in --peers (${[...raftPeers.keys()].join(", ")})`);
  const fromFlags = MembersDirectory.fromFlags(
    raftPeers,
    opts.peerApis === undefined ? undefined : parsePeerList(opts.peerApis, "--peer-apis"),
  );
  const self = fromFlags.addresses(opts.id);
  if (self === undefined) throw new Error("unreachable");
  const api = opts.api ?? self.api;
  try {
    splitHostPort(api);
  } catch (error) {
    throw new Error(`${opts.api === undefined ? "--peer-apis" : "--api"}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const members = opts.api === undefined ? fromFlags : fromFlags.withApi(opts.id, api);
  const position = [...raftPeers.keys()].indexOf(opts.id);
  const metrics = opts.metrics ?? `127.0.0.1:${8080 + position}`;
  splitListenHostPort(metrics);
  const snapshotEveryEntries = positiveInteger(opts.snapshotEvery, "--snapshot-every");
  const snapshotKeepEntries = nonNegativeInteger(opts.snapshotKeep, "--snapshot-keep");
  const tickMs = positiveInteger(opts.tickMs, "--tick-ms");
  const tls = tlsFiles === null ? undefined : loadTlsMaterial(tlsFiles);
  if (tls !== undefined && (tls.identity?.role !== "replica" || tls.identity.name !== opts.id))
    throw new Error(
      `--tls-cert ${tlsFiles?.cert} is not a replica certificate for ${opts.id} (make one with "orchctl pki issue --role replica --name ${opts.id}")`,
    );
  const security = { ...(tls !== undefined ? { tls } : {}), insecure: opts.insecure === true };
  const refusal = plaintextRefusal(
    [
      ["--peers", self.raft],
      ["--api", api],
    ],
    security,
  );
  if (refusal !== null) throw new Error(refusal);
  return {
    security,
    id: opts.id,
    members,
    apiAddress: api,
    metricsAddress: metrics,
    dataDir: opts.dataDir ?? `./data/${opts.id}`,
    region: opts.region,
    snapshotEveryEntries,
    snapshotKeepEntries,
    tickMs,
    clusterToken: opts.clusterToken,
    forceNewCluster: opts.forceNewCluster === true,
  };
}

function positiveInteger(text: string, flag: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${flag} must be a positive whole number, got "${text}"`);
  return value;
}

function nonNegativeInteger(text: string, flag: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0)
    throw new Error(`${flag} must be a whole number, 0 or more, got "${text}"`);
  return value;
}

/** `orchestrator restore ...`: prepares a data directory from a snapshot file and exits. */
async function restoreMain(argv: string[]): Promise<void> {
  let options: RestoreOptions;
  try {
    options = parseRestoreArgs(argv);
  } catch (error) {
    if (error instanceof CommanderError) process.exit(error.exitCode === 0 ? 0 : 2);
    process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  }
  try {
    const outcome = await restoreDataDir(options);
    process.stdout.write(
      `restored snapshot at index ${outcome.index} (term ${outcome.term}) into ${options.dataDir} for ${options.id}\n` +
        `new cluster id ${outcome.clusterId}, voters ${outcome.voters.join(", ")}\n` +
        `start it with: orchestrator --id ${options.id} --peers ${[...options.peers].map(([id, a]) => `${id}=${a}`).join(",")} --data-dir ${options.dataDir}\n`,
    );
    process.exit(0);
  } catch (error) {
    process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(error instanceof RestoreError ? 1 : 70);
  }
}

async function main(): Promise<void> {
  if (process.argv[2] === "restore") return restoreMain(process.argv.slice(3));
  let options: ReplicaOptions;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (error) {
    if (error instanceof CommanderError) process.exit(error.exitCode === 0 ? 0 : 2);
    process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  }
  try {
    const replica = await startReplica(options);
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      void replica.stop(signal).then(() => process.exit(0));
    };
    process.on("SIGTERM", () => stop("SIGTERM"));
    process.on("SIGINT", () => stop("SIGINT"));
  } catch (error) {
    process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
}

void main();
