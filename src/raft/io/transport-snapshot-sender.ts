import {
  credentials,
  Metadata,
  type ChannelCredentials,
  type ClientWritableStream,
  type ServiceError,
} from "@grpc/grpc-js";
import type { Logger } from "pino";
import { assert } from "../../lib/assert.js";
import {
  RaftTransportServiceClient,
  type InstallSnapshotRequest,
  type InstallSnapshotResponse,
} from "../../gen/raft/v1/raft.js";
import type { Message, ReplicaId } from "../core/types.js";
import { transportClientOptions } from "./transport-channel-options.js";
import type { TransportLimits } from "./transport-limits.js";
import { encodeMessage } from "./transport-message-codec.js";
import { clusterIdMetadataKey, fromMetadataKey } from "./transport-peer-stream.js";
import { snapshotBytesMetadataKey } from "./transport-snapshot-receiver.js";

export interface SnapshotSenderEnv {
  readonly limits: TransportLimits;
  /** Mutual TLS credentials; plaintext when absent. */
  readonly credentials?: ChannelCredentials;
  readonly logger: Logger;
  /** Sent with every snapshot: a peer of another cluster refuses it. */
  readonly clusterId?: string;
  onSnapshotStatus(peer: ReplicaId, ok: boolean): void;
}

/**
 * Streams snapshots to one peer on their own InstallSnapshot call over their own connection,
 * so a large snapshot never holds up the batch stream's heartbeats. The first chunk carries the
 * message (metadata, no data), every chunk its offset, the last one `done`. Writes respect
 * gRPC's backpressure, so at most a chunk or two is buffered at any time.
 */
export class SnapshotSender {
  private client: RaftTransportServiceClient | null = null;
  private call: ClientWritableStream<InstallSnapshotRequest> | null = null;
  private closed = false;

  constructor(
    readonly peer: ReplicaId,
    readonly address: string,
    private readonly env: SnapshotSenderEnv,
  ) {}

  busy(): boolean {
    return this.call !== null;
  }

  /**
   * Starts sending; the outcome arrives through onSnapshotStatus. The core sends one snapshot
   * to a peer at a time and waits for its status, so a second one while busy is dropped (and
   * the first one's status still arrives).
   */
  send(message: Message): void {
    assert(message.type === "snapshot", "only snapshot messages go on the snapshot stream");
    assert(message.snapshot !== null, "a snapshot message carries its snapshot");
    assert(message.to === this.peer, "snapshot routed to the wrong peer");
    if (this.closed) return;
    if (this.busy()) {
      this.env.logger.warn(
        { peer: this.peer, index: message.snapshot.meta.index },
        "a snapshot to this peer is already in flight; dropped the new one",
      );
      return;
    }
    this.client ??= new RaftTransportServiceClient(
      this.address,
      this.env.credentials ?? credentials.createInsecure(),
      transportClientOptions(this.env.limits),
    );
    const data = message.snapshot.data;
    const startedMs = performance.now();
    let finished = false;
    const finish = (ok: boolean, detail: string): void => {
      if (finished) return;
      finished = true;
      this.call = null;
      const fields = {
        peer: this.peer,
        index: message.snapshot?.meta.index,
        bytes: data.byteLength,
        ms: Math.round(performance.now() - startedMs),
      };
      if (ok) this.env.logger.info(fields, "snapshot sent");
      else this.env.logger.warn({ ...fields, detail }, "snapshot send failed");
      if (!this.closed) this.env.onSnapshotStatus(this.peer, ok);
    };
    const deadline = new Date(Date.now() + this.env.limits.snapshotSendMsMax);
    const metadata = new Metadata();
    metadata.set(fromMetadataKey, message.from);
    metadata.set(snapshotBytesMetadataKey, String(data.byteLength));
    if (this.env.clusterId !== undefined) metadata.set(clusterIdMetadataKey, this.env.clusterId);
    const call = this.client.installSnapshot(
      metadata,
      { deadline },
      (error: ServiceError | null, response: InstallSnapshotResponse) => {
        if (error !== null) finish(false, `${error.code} ${error.details}`);
        else if (response.receivedBytes !== data.byteLength)
          finish(false, `peer received ${response.receivedBytes} of ${data.byteLength} bytes`);
        else finish(true, "");
      },
    );
    this.call = call;
    this.pump(call, encodeMessage(message), data, 0);
  }

  /**
   * Cancels any send in flight. `reportFailure`: tell the core the snapshot failed (the peer
   * moved or left, and the core must not wait for it); not when the whole transport stops.
   */
  close(reportFailure: boolean): void {
    // On a later turn, like every handler call: never re-entrantly from setPeers().
    if (reportFailure && this.call !== null && !this.closed)
      setImmediate(() => this.env.onSnapshotStatus(this.peer, false));
    this.closed = true;
    this.call?.cancel();
    this.call = null;
    this.client?.close();
    this.client = null;
  }

  /** Writes chunks from `offset` until gRPC's buffer fills, then continues on "drain". */
  private pump(
    call: ClientWritableStream<InstallSnapshotRequest>,
    wire: InstallSnapshotRequest["message"],
    data: Uint8Array,
    offset: number,
  ): void {
    const chunkBytes = this.env.limits.snapshotChunkBytes;
    let position = offset;
    do {
      if (this.call !== call) return; // cancelled or finished meanwhile
      const length = Math.min(chunkBytes, data.byteLength - position);
      const chunk = Buffer.from(data.buffer, data.byteOffset + position, length);
      const done = position + length === data.byteLength;
      const writable = call.write({ message: position === 0 ? wire : undefined, offset: position, data: chunk, done });
      position += length;
      if (done) {
        call.end();
        return;
      }
      if (!writable) {
        call.once("drain", () => this.pump(call, wire, data, position));
        return;
      }
    } while (position < data.byteLength);
  }
}
