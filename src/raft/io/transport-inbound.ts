import {
  Metadata,
  status,
  type sendUnaryData,
  type ServerDuplexStream,
  type ServerReadableStream,
} from "@grpc/grpc-js";
import type { Logger } from "pino";
import type {
  InstallSnapshotRequest,
  InstallSnapshotResponse,
  Message as ProtoMessage,
  RaftTransportServiceServer,
  StreamRequest,
  StreamResponse,
} from "../../gen/raft/v1/raft.js";
import type { Message, ReplicaId } from "../core/types.js";
import { realClock, type Clock } from "../../lib/clock.js";
import { withoutPort } from "../../lib/host-port.js";
import { tlsListenerLimits } from "../../lib/limits.js";
import { RateLimitedLog } from "../../lib/rate-limited-log.js";
import type { TransportLimits } from "./transport-limits.js";
import type { AuthenticatedCall, RejectReason, TransportSecurity } from "./transport-security.js";
import { decodeMessage } from "./transport-message-codec.js";
import { clusterIdMetadataKey, fromMetadataKey } from "./transport-peer-stream.js";
import { SnapshotAssembly, snapshotBytesMetadataKey } from "./transport-snapshot-receiver.js";

export interface InboundEnv {
  readonly selfId: ReplicaId;
  readonly limits: TransportLimits;
  readonly logger: Logger;
  isKnownPeer(peer: ReplicaId): boolean;
  /** False once the transport stops: nothing reaches the handlers after that. */
  isRunning(): boolean;
  onMessage(message: Message): void;
  onPeerConnectionLost(peer: ReplicaId): void;
  /** With mutual TLS: the peer is whom its certificate names. */
  readonly security?: TransportSecurity;
  /**
   * This cluster's identity: a stream or snapshot naming another one is refused. One naming none
   * (a peer from before identities existed) is let through, so a rolling upgrade keeps a quorum.
   */
  readonly clusterId?: string;
  /** Counts what was refused (orchestrator_raft_messages_rejected_total). */
  onRejected?(reason: RejectReason): void;
  /** Paces the refusal log (the real clock when absent). */
  readonly clock?: Pick<Clock, "nowMs">;
}

/**
 * The receiving side of the transport: the gRPC service implementation. Each incoming Stream
 * call belongs to one peer (named in its metadata, else by its first message's `from`); when
 * such a call ends in any way, the peer's process or connection went away, and that is
 * reported at once. Everything a peer sends is validated; what fails is dropped and logged at
 * debug, because a misbehaving peer is an expected condition, not a bug here.
 */
export class InboundService {
  private snapshotsReceiving = 0;
  private readonly streams = new Set<ServerDuplexStream<StreamRequest, StreamResponse>>();
  /** A refused peer is logged once per interval, not per message or reconnect. */
  private readonly refusalLog: RateLimitedLog;

  constructor(private readonly env: InboundEnv) {
    this.refusalLog = new RateLimitedLog(env.logger, env.clock ?? realClock, {
      intervalMs: tlsListenerLimits.refusalLogIntervalMs,
      keysMax: tlsListenerLimits.refusalLogKeysMax,
    });
  }

  implementation(): RaftTransportServiceServer {
    return {
      stream: (call) => this.handleStream(call),
      installSnapshot: (call, callback) => this.handleInstallSnapshot(call, callback),
    };
  }

  /** Ends every incoming stream (the server's shutdown then has nothing to wait for). */
  closeAll(): void {
    for (const call of this.streams) call.end();
    this.streams.clear();
  }

  /**
   * With mutual TLS, the replica the call's certificate names if it is a current member, else
   * the refusal (counted and logged); without TLS, undefined (the peer names itself).
   */
  private certifiedPeer(call: AuthenticatedCall): ReplicaId | { code: status; details: string } | undefined {
    const security = this.env.security;
    if (security === undefined) return undefined;
    const identity = security.peerIdentity(call);
    if (identity.ok && this.env.isKnownPeer(identity.value) && identity.value !== this.env.selfId)
      return identity.value;
    // The stream does not authenticate a member replica: UNAUTHENTICATED, whatever else it is.
    const details = identity.ok ? `replica ${identity.value} is not a member of this cluster` : identity.error;
    this.env.onRejected?.("stream_refused");
    const address = call.getPeer();
    // Keyed by who the certificate names, else by host: a reconnecting peer comes from a new port each time.
    const key = identity.ok ? identity.value : withoutPort(address);
    this.refusalLog.warn(key, { address, reason: details }, "refused a raft stream");
    return { code: status.UNAUTHENTICATED, details };
  }

  /** The refusal of a call from another cluster (counted and logged), or null. */
  private otherCluster(call: AuthenticatedCall & { metadata: Metadata }): { code: status; details: string } | null {
    const expected = this.env.clusterId;
    const sent = call.metadata.get(clusterIdMetadataKey)[0];
    if (expected === undefined || sent === undefined || sent === expected) return null;
    this.env.onRejected?.("cluster_id");
    const address = call.getPeer();
    const details = `this replica belongs to cluster ${expected}, the caller to cluster ${String(sent)}`;
    this.refusalLog.warn(
      withoutPort(address),
      { address, reason: details },
      "refused a raft connection from another cluster",
    );
    return { code: status.FAILED_PRECONDITION, details };
  }

  private handleStream(call: ServerDuplexStream<StreamRequest, StreamResponse>): void {
    const certified = this.certifiedPeer(call);
    const foreign = typeof certified === "object" ? null : this.otherCluster(call);
    if (foreign !== null) {
      call.emit("error", foreign);
      call.end();
      return;
    }
    if (typeof certified === "object") {
      call.emit("error", certified);
      call.end();
      return;
    }
    this.streams.add(call);
    // Headers right away: the peer's client learns it is connected before any ack is due.
    call.sendMetadata(new Metadata());
    const named = call.metadata.get(fromMetadataKey)[0];
    // With TLS the certificate names the peer; metadata and `from` cannot change it.
    let peer: ReplicaId | null = certified ?? (typeof named === "string" && named !== "" ? named : null);
    let ended = false;
    const onEnded = (how: string): void => {
      if (ended) return;
      ended = true;
      this.streams.delete(call);
      this.env.logger.debug({ peer, how }, "raft stream from peer ended");
      if (peer !== null && this.env.isRunning()) this.env.onPeerConnectionLost(peer);
    };
    let unacked = 0;
    call.on("data", (request: StreamRequest) => {
      if (!this.env.isRunning()) return;
      for (const wire of request.messages) {
        peer ??= wire.from;
        this.deliver(wire, peer);
      }
      // The ack, when asked for: flow control for the sender and its round-trip sample.
      unacked++;
      if (request.ackRequested && !ended) {
        call.write({ batches: unacked });
        unacked = 0;
      }
    });
    call.on("end", () => {
      call.end();
      onEnded("end");
    });
    call.on("cancelled", () => onEnded("cancelled"));
    call.on("error", (error: Error) => onEnded(`error: ${error.message}`));
    call.on("close", () => onEnded("close"));
  }

  /** Hands a valid message to the core; returns why it was dropped otherwise. */
  private deliver(wire: ProtoMessage, streamPeer: ReplicaId, snapshotData?: Uint8Array): string | null {
    const decoded = decodeMessage(wire, snapshotData);
    if (!decoded.ok) {
      this.env.onRejected?.("invalid");
      this.env.logger.debug({ peer: streamPeer, reason: decoded.error }, "dropped a malformed raft message");
      return decoded.error;
    }
    const message = decoded.value;
    let reason: string | null = null;
    let kind: RejectReason = "invalid";
    if (message.from !== streamPeer) {
      reason = `sender ${message.from} differs from the stream's peer`;
      kind = "from_mismatch";
    } else if (!this.env.isKnownPeer(message.from)) {
      reason = "sender is not a known peer";
      kind = "unknown_peer";
    } else if (message.to !== this.env.selfId) reason = `addressed to ${message.to}, not to this replica`;
    else if ((message.type === "snapshot") !== (snapshotData !== undefined))
      reason = "snapshots travel only on the snapshot stream";
    if (reason !== null) {
      this.env.onRejected?.(kind);
      this.env.logger.debug(
        { peer: streamPeer, from: message.from, to: message.to, type: message.type, reason },
        "dropped a raft message",
      );
      return reason;
    }
    this.env.onMessage(message);
    return null;
  }

  private handleInstallSnapshot(
    call: ServerReadableStream<InstallSnapshotRequest, InstallSnapshotResponse>,
    callback: sendUnaryData<InstallSnapshotResponse>,
  ): void {
    const certified = this.certifiedPeer(call);
    if (typeof certified === "object") {
      callback(certified);
      return;
    }
    const foreign = this.otherCluster(call);
    if (foreign !== null) {
      callback(foreign);
      return;
    }
    if (this.snapshotsReceiving >= this.env.limits.snapshotsReceivingMax) {
      callback({
        code: status.RESOURCE_EXHAUSTED,
        details: `already receiving ${this.snapshotsReceiving} snapshots; retry later`,
      });
      return;
    }
    const expected = SnapshotAssembly.parseExpectedBytes(
      call.metadata.get(snapshotBytesMetadataKey)[0],
      this.env.limits.snapshotBytesMax,
    );
    if (!expected.ok) {
      this.env.logger.debug({ reason: expected.error }, "refused an incoming snapshot");
      callback({ code: status.RESOURCE_EXHAUSTED, details: expected.error });
      return;
    }
    this.snapshotsReceiving++;
    const assembly = new SnapshotAssembly(this.env.limits.snapshotBytesMax, expected.value);
    let settled = false;
    const settle = (error: { code: status; details: string } | null): void => {
      if (settled) return;
      settled = true;
      this.snapshotsReceiving--;
      if (error !== null) {
        this.env.logger.debug(
          { from: assembly.from(), bytes: assembly.bytes(), reason: error.details },
          "dropped an incoming snapshot",
        );
        callback(error);
      } else {
        callback(null, { receivedBytes: assembly.bytes() });
      }
    };
    call.on("data", (chunk: InstallSnapshotRequest) => {
      if (settled) return;
      const result = assembly.accept(chunk);
      if (!result.ok) {
        settle({ code: status.INVALID_ARGUMENT, details: result.error });
        return;
      }
      if (result.value === null) return;
      if (!this.env.isRunning()) {
        settle({ code: status.UNAVAILABLE, details: "replica is stopping" });
        return;
      }
      const dropped = this.deliver(result.value.wire, certified ?? result.value.wire.from, result.value.data);
      settle(dropped === null ? null : { code: status.INVALID_ARGUMENT, details: dropped });
    });
    call.on("end", () =>
      settle({ code: status.INVALID_ARGUMENT, details: "snapshot stream ended before its last chunk" }),
    );
    call.on("cancelled", () => settle({ code: status.CANCELLED, details: "snapshot stream cancelled by the sender" }));
    call.on("error", (error: Error) =>
      settle({ code: status.CANCELLED, details: `snapshot stream failed: ${error.message}` }),
    );
  }
}
