#!/usr/bin/env node
import { Command, CommanderError, Option } from "commander";
import { startReplica, type ReplicaOptions } from "./replica.js";
import { MembersDirectory } from "./members-directory.js";
import { parsePeerList } from "./peers.js";
import { parseDuration } from "../lib/duration.js";
import { splitHostPort, splitListenHostPort } from "../lib/host-port.js";
import { clientCredentials, loadTlsMaterial, tlsFilesFromFlags } from "../lib/tls-material.js";
import { LOG_DIR_NAME } from "../raft/io/leveldb-log-store.js";
import { plaintextRefusal } from "./replica-security.js";
import { askCluster, joinLimits, joinRefusal } from "./join.js";
import { existsSync } from "node:fs";
import * as path from "node:path";
import { parseRestoreArgs, restoreDataDir, RestoreError, type RestoreOptions } from "./restore.js";

const regions = ["us-east-1", "eu-west-1", "ap-southeast-1"];

/** What the command line asks for; a --join replica's members are known only after asking the cluster. */
interface ParsedArgs {
  readonly replica: Omit<ReplicaOptions, "members">;
  /** Founding members from --peers (and --peer-apis), this replica included. */
  readonly members: MembersDirectory | null;
  /** --join: endpoints of the cluster to ask for its members. */
  readonly joinEndpoints: readonly string[] | null;
  readonly raftAddress: string;
}

function parseArgs(argv: string[]): ParsedArgs {
  const program = new Command("orchestrator")
    .description(
      "One MicroOrchestrator control-plane replica: Raft (gRPC + LevelDB), the cluster state, the API and /metrics.",
    )
    .requiredOption("--id <id>", "this replica's id, one of the ids in --peers (e.g. r1)")
    .option(
      "--peers <list>",
      "every founding replica's Raft address: r1=127.0.0.1:7001,r2=127.0.0.1:7002,r3=127.0.0.1:7003",
    )
    .option(
      "--peer-apis <list>",
      "founding replicas' API addresses, until the replicated membership names them (default: Raft port 700i -> API port 5005i)",
    )
    .option(
      "--join <endpoints>",
      "join a running cluster as the member added by `orchctl member add`: API endpoints to ask (host:port,...)",
    )
    .option("--raft <host:port>", "where this replica's Raft transport listens (default: its --peers entry)")
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
    .option(
      "--autopilot-dead-after <duration>",
      "a voter silent this long is reported unreachable (e.g. 30s, 2m)",
      "30s",
    )
    .option(
      "--autopilot-remove-dead",
      "remove a voter unreachable for --autopilot-dead-after, when at least three voters remain",
    )
    .option("--tls-ca <file>", "CA certificate: peers, agents and clients must present a certificate it signed")
    .option("--tls-cert <file>", "this replica's certificate (identity orchestrator://replica/<id>)")
    .option("--tls-key <file>", "the key of --tls-cert")
    .option("--insecure", "serve the API and Raft in plaintext on non-loopback addresses (not recommended)")
    .option(
      "--acl",
      "require a token with every API call (orchctl acl bootstrap makes the first; see docs/security.md)",
    )
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

A new member (after \`orchctl member add r4 --raft 127.0.0.1:7004 --api 127.0.0.1:50054\`):
  orchestrator --id r4 --join 127.0.0.1:50051,127.0.0.1:50052 --raft 127.0.0.1:7004 \\
    --api 127.0.0.1:50054 --metrics 127.0.0.1:8083 --data-dir ./data/r4

Logs are JSON lines on stderr. SIGTERM hands leadership to another replica before exiting.`,
    )
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  program.parse(argv, { from: "user" });
  const opts = program.opts<{
    id: string;
    peers?: string;
    peerApis?: string;
    join?: string;
    raft?: string;
    api?: string;
    metrics?: string;
    dataDir?: string;
    region: string;
    snapshotEvery: string;
    snapshotKeep: string;
    tickMs: string;
    autopilotDeadAfter: string;
    autopilotRemoveDead?: boolean;
    tlsCa?: string;
    tlsCert?: string;
    tlsKey?: string;
    insecure?: boolean;
    acl?: boolean;
    clusterToken: string;
    forceNewCluster?: boolean;
  }>();
  const tlsFiles = tlsFilesFromFlags(opts);
  if (opts.peers === undefined && opts.join === undefined)
    throw new Error("give --peers (a founding replica) or --join (a member added with `orchctl member add`)");
  let members: MembersDirectory | null = null;
  let raftAddress: string;
  let api: string;
  // Where this replica stands in --peers: its default metrics port counts from 8080 by it.
  let position = 0;
  if (opts.peers !== undefined) {
    const raftPeers = parsePeerList(opts.peers, "--peers");
    position = [...raftPeers.keys()].indexOf(opts.id);
    if (!raftPeers.has(opts.id))
      throw new Error(`--id ${opts.id} is not one of the replicas in --peers (${[...raftPeers.keys()].join(", ")})`);
    const fromFlags = MembersDirectory.fromFlags(
      raftPeers,
      opts.peerApis === undefined ? undefined : parsePeerList(opts.peerApis, "--peer-apis"),
    );
    const self = fromFlags.addresses(opts.id);
    if (self === undefined) throw new Error("unreachable");
    raftAddress = opts.raft ?? self.raft;
    api = opts.api ?? self.api;
    members = fromFlags;
  } else {
    if (opts.raft === undefined || opts.api === undefined)
      throw new Error(
        "--join needs --raft HOST:PORT and --api HOST:PORT (the addresses given to `orchctl member add`)",
      );
    raftAddress = opts.raft;
    api = opts.api;
  }
  for (const [flag, address] of [
    ["--raft", raftAddress],
    ["--api", api],
  ] as const) {
    try {
      splitHostPort(address);
    } catch (error) {
      throw new Error(`${flag}: ${(error as Error).message}`, { cause: error });
    }
  }
  members = members?.withSelf(opts.id, { raft: raftAddress, api }) ?? null;
  const joinEndpoints =
    opts.join === undefined
      ? null
      : opts.join
          .split(",")
          .map((e) => e.trim())
          .filter((e) => e !== "");
  if (joinEndpoints !== null && joinEndpoints.length === 0) throw new Error("--join: give at least one endpoint");
  const metrics = opts.metrics ?? `127.0.0.1:${8080 + position}`;
  splitListenHostPort(metrics);
  const snapshotEveryEntries = positiveInteger(opts.snapshotEvery, "--snapshot-every");
  const snapshotKeepEntries = nonNegativeInteger(opts.snapshotKeep, "--snapshot-keep");
  const tickMs = positiveInteger(opts.tickMs, "--tick-ms");
  const deadAfterMs = durationMs(opts.autopilotDeadAfter, "--autopilot-dead-after");
  const tls = tlsFiles === null ? undefined : loadTlsMaterial(tlsFiles);
  if (tls !== undefined && (tls.identity?.role !== "replica" || tls.identity.name !== opts.id))
    throw new Error(
      `--tls-cert ${tlsFiles?.cert} is not a replica certificate for ${opts.id} (make one with "orchctl pki issue --role replica --name ${opts.id}")`,
    );
  const security = { ...(tls !== undefined ? { tls } : {}), insecure: opts.insecure === true };
  const refusal = plaintextRefusal(
    [
      [opts.raft === undefined ? "--peers" : "--raft", raftAddress],
      ["--api", api],
    ],
    security,
  );
  if (refusal !== null) throw new Error(refusal);
  return {
    members,
    joinEndpoints,
    raftAddress,
    replica: {
      security,
      acl: opts.acl === true,
      id: opts.id,
      apiAddress: api,
      metricsAddress: metrics,
      dataDir: opts.dataDir ?? `./data/${opts.id}`,
      region: opts.region,
      snapshotEveryEntries,
      snapshotKeepEntries,
      tickMs,
      clusterToken: opts.clusterToken,
      forceNewCluster: opts.forceNewCluster === true,
      autopilot: { deadAfterMs, removeDead: opts.autopilotRemoveDead === true },
    },
  };
}

/** A positive duration flag ("30s", "2m", "1m30s") in milliseconds. */
function durationMs(text: string, flag: string): number {
  const parsed = parseDuration(text);
  if (!parsed.ok) throw new Error(`${flag}: ${parsed.error}`);
  if (parsed.value <= 0) throw new Error(`${flag} must be positive, got "${text}"`);
  return parsed.value;
}

/**
 * The members a replica starts with. A founding replica has them from --peers; a --join replica
 * asks the cluster and must find itself listed with its own addresses. With data already on
 * disk (a restart) the cluster's answer is only checked when it comes quickly: the replica can
 * start from its own log, and a cluster that needs it for a quorum may not answer without it.
 */
async function resolveMembers(
  parsed: ParsedArgs,
): Promise<{ members: MembersDirectory; join: boolean; clusterId?: string }> {
  const { replica, joinEndpoints } = parsed;
  if (joinEndpoints === null) {
    if (parsed.members === null) throw new Error("unreachable: no --peers and no --join");
    return { members: parsed.members, join: false };
  }
  const self = { raft: parsed.raftAddress, api: replica.apiAddress };
  const hasData = existsSync(path.join(replica.dataDir, LOG_DIR_NAME, "CURRENT"));
  const tls = replica.security?.tls;
  let asked;
  try {
    asked = await askCluster(
      joinEndpoints,
      hasData ? joinLimits.askWithDataTimeoutMs : joinLimits.askTimeoutMs,
      tls === undefined ? undefined : clientCredentials(tls),
    );
  } catch (error) {
    if (!hasData) throw error;
    process.stderr.write(`warning: ${(error as Error).message}; starting from the data in ${replica.dataDir}\n`);
    const seed = parsed.members ?? new MembersDirectory(new Map([[replica.id, self]]));
    return { members: seed.withSelf(replica.id, self), join: true };
  }
  const refusal = joinRefusal(asked.response, replica.id, self.raft, self.api);
  if (refusal !== null) {
    const stale = hasData
      ? `; the data in ${replica.dataDir} belongs to an old membership: wipe it before joining again`
      : "";
    throw new Error(refusal + stale);
  }
  // The joiner's store takes the cluster's id; a store holding another cluster's id refuses to open.
  return {
    members: new MembersDirectory(asked.answer.members).withSelf(replica.id, self),
    join: true,
    ...(asked.answer.clusterId !== "" ? { clusterId: asked.answer.clusterId } : {}),
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
  let parsed: ParsedArgs;
  try {
    parsed = parseArgs(process.argv.slice(2));
  } catch (error) {
    if (error instanceof CommanderError) process.exit(error.exitCode === 0 ? 0 : 2);
    process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  }
  try {
    const { members, join, clusterId } = await resolveMembers(parsed);
    const replica = await startReplica({
      ...parsed.replica,
      members,
      join,
      ...(clusterId !== undefined ? { clusterId } : {}),
    });
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
