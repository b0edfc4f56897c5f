import { createHash } from "node:crypto";
import { once } from "node:events";
import type { ServerWritableStream } from "@grpc/grpc-js";
import { snapshotFormatVersion } from "../fsm/index.js";
import { assert } from "../lib/assert.js";
import type { Logger } from "../lib/logger.js";
import type { RaftNode } from "../raft/io/raft-node.js";
import type {
  SnapshotMemberAddress,
  SnapshotSaveRequest,
  SnapshotSaveResponse,
} from "../gen/orchestrator/v1/orchestrator.js";
import { isExpectedError, toServiceError } from "./grpc-status.js";
import type { MembersView } from "./members-view.js";

export const snapshotSaveLimits = {
  /** Bytes of FSM snapshot per stream message: well under gRPC's default 4 MiB message size. */
  chunkBytes: 1024 * 1024,
} as const;

assert(snapshotSaveLimits.chunkBytes < 4 * 1024 * 1024, "a chunk must fit gRPC's default message size");

export interface SnapshotSaveDeps {
  readonly node: RaftNode;
  readonly members: MembersView;
  readonly logger: Logger;
}

/**
 * SnapshotSave (orchctl snapshot save): the leader takes a consistent copy of the state machine
 * after a ReadIndex barrier (every write acknowledged before the call is in it) without stopping
 * writes, and streams it: the header, the chunks, then the SHA-256 of the chunks, so the client
 * can tell a stream cut short from a complete one. Needs the operator role where ACLs apply.
 */
export async function snapshotSave(
  call: ServerWritableStream<SnapshotSaveRequest, SnapshotSaveResponse>,
  deps: SnapshotSaveDeps,
): Promise<void> {
  let cancelled = false;
  call.on("cancelled", () => (cancelled = true));
  try {
    const startedMs = performance.now();
    const captured = await deps.node.captureSnapshot();
    const capturedMs = performance.now() - startedMs;
    const addresses: SnapshotMemberAddress[] = [];
    for (const id of [...captured.conf.voters, ...captured.conf.learners]) {
      const known = deps.members.addresses(id);
      addresses.push({ id, raftAddress: known?.raft ?? "", apiAddress: known?.api ?? "" });
    }
    const header = {
      index: captured.index,
      term: captured.term,
      voters: [...captured.conf.voters],
      learners: [...captured.conf.learners],
      addresses,
      clusterId: captured.clusterId,
      fsmFormatVersion: snapshotFormatVersion,
      totalBytes: captured.data.byteLength,
      leaderId: deps.node.id,
    };
    const write = async (message: SnapshotSaveResponse): Promise<void> => {
      if (!call.write(message)) await once(call, "drain");
    };
    await write({ header, chunk: Buffer.alloc(0), sha256: "" });
    const hash = createHash("sha256");
    const data = Buffer.from(captured.data.buffer, captured.data.byteOffset, captured.data.byteLength);
    for (let at = 0; at < data.byteLength && !cancelled; at += snapshotSaveLimits.chunkBytes) {
      const chunk = data.subarray(at, Math.min(at + snapshotSaveLimits.chunkBytes, data.byteLength));
      hash.update(chunk);
      await write({ chunk, sha256: "" });
    }
    if (cancelled) return;
    call.write({ chunk: Buffer.alloc(0), sha256: hash.digest("hex") });
    call.end();
    deps.logger.info(
      { index: captured.index, bytes: data.byteLength, captureMs: Math.round(capturedMs) },
      "snapshot saved for a backup",
    );
  } catch (error) {
    if (!isExpectedError(error))
      deps.logger.error({ err: error instanceof Error ? error.stack : String(error) }, "snapshot save failed");
    if (cancelled) return;
    call.emit("error", Object.assign(new Error(String(error)), toServiceError(error, deps.members)));
  }
}
