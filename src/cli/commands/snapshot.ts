import { createHash } from "node:crypto";
import type { Command } from "commander";
import { SnapshotSaveRequest, type SnapshotSaveResponse } from "../../gen/orchestrator/v1/orchestrator.js";
import { decodeSnapshot, snapshotFormatVersion } from "../../fsm/index.js";
import {
  readSnapshotFile,
  SnapshotFileExistsError,
  SnapshotFileWriter,
  type SnapshotFileHeader,
} from "../../lib/snapshot-file.js";
import { CliError, UsageError } from "../errors.js";
import { listOrDash, renderFields } from "../output.js";
import type { Session, SessionFor } from "../session.js";

const EXAMPLES = `
Examples:
  orchctl snapshot save backup-$(date +%F).snap     # from the leader; never overwrites without --force
  orchctl snapshot inspect backup-2026-12-07.snap   # header, counts, checksum verified

Restore into new data directories, one per replica of the new cluster:
  orchestrator restore --snapshot backup.snap --id r1 --peers r1=10.0.0.1:7001,r2=10.0.0.2:7001,r3=10.0.0.3:7001 --data-dir /var/lib/orch/r1
`;

/** Progress on stderr at most this often (every chunk would flood a terminal). */
const progressEveryBytes = 16 * 1024 * 1024;

export function registerSnapshot(parent: Command, sessionFor: SessionFor): void {
  const snapshot = parent
    .command("snapshot")
    .description("backups of the cluster state")
    .addHelpText("after", EXAMPLES);
  snapshot
    .command("save <file>")
    .description("stream a consistent snapshot of the cluster state from the leader into FILE (operator role)")
    .option("--force", "replace FILE if it exists")
    .action(async (file: string, flags: { force?: boolean }, command: Command) => {
      const session = sessionFor(command);
      const saved = await saveSnapshot(session, file, flags.force === true);
      if (session.out.isJson) session.out.json({ file, ...saved.header, sha256: saved.checksum });
      else
        session.out.text(
          `saved snapshot at index ${saved.header.index} (term ${saved.header.term}), ${saved.header.bodyBytes} bytes of state, to ${file}\nsha256 ${saved.checksum}`,
        );
    });
  snapshot
    .command("inspect <file>")
    .description("print a snapshot file's header and what it holds, verifying its checksum")
    .action(async (file: string, _flags: unknown, command: Command) => {
      const session = sessionFor(command);
      const read = await readSnapshotFile(file);
      if (!read.ok) throw new CliError("INVALID_ARGUMENT", read.error);
      const { header, checksum, fileBytes } = read.value;
      if (header.fsmFormatVersion !== snapshotFormatVersion)
        throw new CliError(
          "INVALID_ARGUMENT",
          `${file} holds state in FSM snapshot format ${header.fsmFormatVersion}; this orchctl reads format ${snapshotFormatVersion}`,
        );
      let counts: SnapshotCounts;
      try {
        counts = countsOf(read.value.body);
      } catch (error) {
        throw new CliError(
          "INVALID_ARGUMENT",
          `${file} passes its checksum but its state does not decode: ${(error as Error).message}`,
        );
      }
      if (session.out.isJson) session.out.json({ file, fileBytes, sha256: checksum, checksumOk: true, header, counts });
      else session.out.text(renderInspection(header, counts, checksum, fileBytes));
    });
}

interface SnapshotCounts {
  readonly deployments: number;
  readonly containers: number;
  readonly nodes: number;
  readonly versions: number;
  readonly events: number;
}

function countsOf(body: Uint8Array): SnapshotCounts {
  const state = decodeSnapshot(body);
  let versions = 0;
  for (const deployment of state.deployments.values()) versions += deployment.history.length;
  return {
    deployments: state.deployments.size,
    containers: state.containers.size,
    nodes: state.nodes.size,
    versions,
    events: state.events.size,
  };
}

function renderInspection(header: SnapshotFileHeader, counts: SnapshotCounts, checksum: string, bytes: number): string {
  const addresses = header.members.map((m) => `${m.id}=${m.raft === "" ? "?" : m.raft}`);
  return renderFields([
    ["Index", `${header.index} (term ${header.term})`],
    ["Created", header.createdAt],
    ["Cluster id", header.clusterId],
    ["Served by", header.leaderId],
    ["Voters", listOrDash([...header.voters])],
    ["Learners", listOrDash([...header.learners])],
    ["Raft addresses", listOrDash(addresses)],
    ["FSM format", String(header.fsmFormatVersion)],
    ["Size", `${bytes} bytes (${header.bodyBytes} of state)`],
    ["SHA-256", `${checksum} (verified)`],
    ["Deployments", String(counts.deployments)],
    ["Containers", String(counts.containers)],
    ["Nodes", String(counts.nodes)],
    ["Versions", String(counts.versions)],
    ["Events", String(counts.events)],
  ]);
}

/** Streams the snapshot into FILE.tmp, checks it against the server's checksum, then renames it to FILE. */
async function saveSnapshot(
  session: Session,
  file: string,
  overwrite: boolean,
): Promise<{ header: SnapshotFileHeader; checksum: string }> {
  let writer: SnapshotFileWriter | undefined;
  let header: SnapshotFileHeader | undefined;
  let received = 0;
  let reportedAt = 0;
  let serverSha256 = "";
  let chain: Promise<void> = Promise.resolve();
  // File writes run in order behind the stream. A failed step (FILE exists, disk full) is awaited
  // below; marking each step handled now keeps Node from calling it unhandled while the stream runs.
  const then = (step: () => Promise<void> | undefined): void => {
    chain = chain.then(step);
    chain.catch(() => undefined);
  };
  const bodyHash = createHash("sha256");
  const onMessage = (message: SnapshotSaveResponse): void => {
    if (message.header !== undefined) {
      const h = message.header;
      header = {
        index: h.index,
        term: h.term,
        voters: h.voters,
        learners: h.learners,
        members: h.addresses.map((a) => ({ id: a.id, raft: a.raftAddress, api: a.apiAddress })),
        clusterId: h.clusterId,
        createdAt: new Date().toISOString(),
        fsmFormatVersion: h.fsmFormatVersion,
        bodyBytes: h.totalBytes,
        leaderId: h.leaderId,
      };
      const announced = header;
      then(async () => {
        writer = await SnapshotFileWriter.create(file, announced, overwrite);
      });
    }
    if (message.chunk.byteLength > 0) {
      const chunk = message.chunk;
      received += chunk.byteLength;
      bodyHash.update(chunk);
      then(() => writer?.writeBody(chunk));
      if (header !== undefined && received - reportedAt >= progressEveryBytes) {
        reportedAt = received;
        session.out.note(`received ${mib(received)} of ${mib(header.bodyBytes)} MiB`);
      }
    }
    if (message.sha256 !== "") serverSha256 = message.sha256;
  };
  try {
    const done = await session.client.readStream("snapshotSave", SnapshotSaveRequest.fromPartial({}), onMessage);
    await chain;
    if (!done) throw new CliError("CANCELLED", `interrupted; ${file} was not written`);
    if (header === undefined || writer === undefined)
      throw new CliError("DATA_LOSS", "the replica ended the stream without a snapshot");
    if (received !== header.bodyBytes || serverSha256 !== bodyHash.digest("hex"))
      throw new CliError(
        "DATA_LOSS",
        `the snapshot stream was incomplete or damaged (${received} of ${header.bodyBytes} bytes); ${file} was not written, run the command again`,
      );
    const checksum = await writer.finish();
    return { header, checksum };
  } catch (error) {
    await chain.catch(() => undefined);
    await writer?.abort();
    if (error instanceof SnapshotFileExistsError) throw new UsageError(error.message);
    throw error;
  }
}

function mib(bytes: number): string {
  return (bytes / (1024 * 1024)).toFixed(1);
}
