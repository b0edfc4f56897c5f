import { promises as fs } from "node:fs";
import { Command } from "commander";
import { decodeSnapshot, encodeSnapshot, snapshotFormatVersion } from "../fsm/index.js";
import { readSnapshotFile } from "../lib/snapshot-file.js";
import { isValidClusterId, restoredClusterId } from "../raft/io/cluster-id.js";
import { LevelDbLogStore } from "../raft/io/leveldb-log-store.js";
import { parsePeerList } from "./peers.js";

export interface RestoreOptions {
  readonly snapshotFile: string;
  readonly id: string;
  readonly peers: ReadonlyMap<string, string>;
  readonly dataDir: string;
  readonly clusterToken: string;
}

export interface RestoreOutcome {
  readonly index: number;
  readonly term: number;
  readonly clusterId: string;
  readonly voters: readonly string[];
}

/** A restore the operator must fix (bad file, directory in use); the message says how. */
export class RestoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RestoreError";
  }
}

/**
 * `orchestrator restore`: prepares a fresh data directory from a backup file, for one replica of
 * a NEW cluster. Its Raft log is the backup's state as the snapshot at the file's index (term
 * kept, so the restored replicas elect a leader at the next term), with the voters of --peers.
 *
 * The new cluster's identity is derived from the file's checksum and the ids in --peers (cluster-id.ts):
 * each replica is restored on its own machine, and the same file with the same --peers gives
 * the same id everywhere with nothing to copy between them, while it can never equal the id of
 * the cluster the backup came from (another derivation). --cluster-token salts it, for two
 * restores of one file with the same replica ids that must stay apart.
 */
export async function restoreDataDir(options: RestoreOptions): Promise<RestoreOutcome> {
  if (!options.peers.has(options.id))
    throw new RestoreError(
      `--id ${options.id} is not one of the replicas in --peers (${[...options.peers.keys()].join(", ")})`,
    );
  await refuseNonEmpty(options.dataDir);
  const read = await readSnapshotFile(options.snapshotFile);
  if (!read.ok) throw new RestoreError(read.error);
  const { header, body, checksum } = read.value;
  if (header.fsmFormatVersion !== snapshotFormatVersion)
    throw new RestoreError(
      `${options.snapshotFile} holds state in FSM snapshot format ${header.fsmFormatVersion}; this orchestrator ` +
        `reads format ${snapshotFormatVersion}${header.fsmFormatVersion > snapshotFormatVersion ? " (restore with a newer orchestrator)" : ""}`,
    );
  let state: ReturnType<typeof decodeSnapshot>;
  try {
    state = decodeSnapshot(body);
  } catch (error) {
    throw new RestoreError(
      `${options.snapshotFile} passes its checksum but its state does not decode: ${(error as Error).message}`,
    );
  }
  if (header.index < 1) throw new RestoreError(`${options.snapshotFile} is at index 0: there is nothing to restore`);
  const clusterId = restoredClusterId(checksum, options.peers.keys(), options.clusterToken);
  if (isValidClusterId(header.clusterId) && header.clusterId === clusterId)
    throw new RestoreError("the derived cluster id equals the backed-up cluster's; pass another --cluster-token");
  const voters = [...options.peers.keys()].sort();
  // The backup's member addresses are the old cluster's: the new one starts from --peers (each
  // leader records its own addresses), or its replicas would dial the old cluster's.
  state.members.clear();
  const data = encodeSnapshot(state);
  const store = await LevelDbLogStore.open(options.dataDir, {
    initialConf: { voters: [], learners: [] },
    clusterId,
  });
  try {
    await store.resetToSnapshot({
      snapshot: { meta: { index: header.index, term: header.term, conf: { voters, learners: [] } }, data },
      term: header.term,
      clusterId,
    });
  } finally {
    await store.close();
  }
  return { index: header.index, term: header.term, clusterId, voters };
}

async function refuseNonEmpty(dir: string): Promise<void> {
  let entries: string[];
  try {
    entries = await fs.readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
    throw new RestoreError(`cannot read --data-dir ${dir}: ${(error as Error).message}`);
  }
  if (entries.length > 0)
    throw new RestoreError(
      `--data-dir ${dir} is not empty (${entries.slice(0, 3).join(", ")}${entries.length > 3 ? ", ..." : ""}); ` +
        `restore only into a new or empty directory, so no replica's data is ever overwritten`,
    );
}

/** Parses `orchestrator restore ...` (the arguments after "restore"). */
export function parseRestoreArgs(argv: string[]): RestoreOptions {
  const program = new Command("orchestrator restore")
    .description(
      "Prepare a fresh data directory from a snapshot file (orchctl snapshot save), for one replica of a new cluster.",
    )
    .requiredOption("--snapshot <file>", "the snapshot file")
    .requiredOption("--id <id>", "the replica this directory is for, one of --peers")
    .requiredOption("--peers <list>", "the new cluster's replicas and Raft addresses: r1=host:port,r2=host:port,...")
    .requiredOption("--data-dir <dir>", "the new data directory (absent or empty)")
    .option("--cluster-token <text>", "salt of the new cluster id; give every replica of the restore the same one", "")
    .addHelpText(
      "after",
      `
Run it once per replica, with the same --snapshot and --peers everywhere (they then agree on the
new cluster id), then start each replica on its directory:
  orchestrator restore --snapshot backup.snap --id r1 --peers r1=127.0.0.1:7001,r2=127.0.0.1:7002,r3=127.0.0.1:7003 --data-dir ./data/r1
  orchestrator --id r1 --peers r1=127.0.0.1:7001,r2=127.0.0.1:7002,r3=127.0.0.1:7003 --data-dir ./data/r1`,
    )
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  program.parse(argv, { from: "user" });
  const opts = program.opts<{ snapshot: string; id: string; peers: string; dataDir: string; clusterToken: string }>();
  return {
    snapshotFile: opts.snapshot,
    id: opts.id,
    peers: parsePeerList(opts.peers, "--peers"),
    dataDir: opts.dataDir,
    clusterToken: opts.clusterToken,
  };
}
