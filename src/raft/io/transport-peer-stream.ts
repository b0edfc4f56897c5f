import { clusterIdMetadataKey } from "./cluster-id.js";
import {
  credentials,
  Metadata,
  status as grpcStatus,
  type ChannelCredentials,
  type ClientDuplexStream,
  type StatusObject,
} from "@grpc/grpc-js";
import type { Logger } from "pino";
import { assert, assertNever } from "../../lib/assert.js";
import { RaftTransportServiceClient, type StreamRequest, type StreamResponse } from "../../gen/raft/v1/raft.js";
import type { Message, ReplicaId } from "../core/types.js";
import { ReconnectBackoff } from "./transport-backoff.js";
import { RateLimitedLog } from "../../lib/rate-limited-log.js";
import { realClock } from "../../lib/clock.js";
import { transportClientOptions } from "./transport-channel-options.js";
import type { TransportLimits } from "./transport-limits.js";
import { encodeMessage } from "./transport-message-codec.js";
import { SendQueue } from "./transport-send-queue.js";

/** Metadata keys naming the two ends of a stream, so the receiver knows its peer before the first message. */
export { clusterIdMetadataKey };

/** Refusals by a peer are logged once per this interval, not per reconnection attempt. */
const refusalLogIntervalMs = 60_000;
export const fromMetadataKey = "raft-from";
export const toMetadataKey = "raft-to";

/** What a peer stream needs from its transport: where to report, nothing more. */
export interface PeerStreamEnv {
  readonly selfId: ReplicaId;
  readonly limits: TransportLimits;
  readonly logger: Logger;
  /** The stream had been connected and broke: the fast-failover signal. */
  onConnectionLost(peer: ReplicaId): void;
  /** Messages for the peer were (or may have been) lost. */
  onUnreachable(peer: ReplicaId): void;
  onRoundTrip(peer: ReplicaId, seconds: number): void;
  /** Mutual TLS credentials; plaintext when absent. */
  readonly credentials?: ChannelCredentials;
  /** Sent with every stream: a peer of another cluster refuses it. */
  readonly clusterId?: string;
}

/** Counters of one peer stream, for tests and metrics. */
export interface PeerStreamStats {
  readonly batchesSent: number;
  readonly messagesSent: number;
  /** Dropped from a full queue or discarded on close. */
  readonly messagesDropped: number;
  /** Calls that ended after the peer had answered. */
  readonly connectionsLost: number;
}

/**
 * idle: no stream yet (nothing was ever sent). connecting: a call is open, the peer has not
 * answered with headers yet; writes are buffered by gRPC. connected: the peer answered.
 * backoff: the last call failed and a reconnect timer runs. closed: terminal.
 */
export type PeerStreamState = "idle" | "connecting" | "connected" | "backoff" | "closed";

const allowedTransitions: Readonly<Record<PeerStreamState, readonly PeerStreamState[]>> = {
  idle: ["connecting", "closed"],
  connecting: ["connected", "backoff", "closed"],
  connected: ["backoff", "closed"],
  backoff: ["connecting", "closed"],
  closed: [],
};

/**
 * The long-lived outgoing batch stream to one peer. Messages queue (bounded) and leave once per
 * event-loop turn as one StreamRequest per batch. The peer acknowledges every batch; unacked
 * batches are bounded (flow control) and timed first-in-first-out for round-trip samples.
 */
export class PeerStream {
  private state: PeerStreamState = "idle";
  private readonly client: RaftTransportServiceClient;
  private readonly queue: SendQueue;
  private readonly backoff: ReconnectBackoff;
  private readonly refusalLog: RateLimitedLog;
  private call: ClientDuplexStream<StreamRequest, StreamResponse> | null = null;
  /** Identifies the current call; events of an older call are ignored. */
  private generation = 0;
  /** gRPC's buffer is full: wait for "drain" before writing again. */
  private blocked = false;
  /** Unacked batches, oldest first. Invariant: length <= batchesInflightMax. */
  private inflight: Array<{ readonly sentMs: number; readonly bytes: number; readonly ackRequested: boolean }> = [];
  /** Invariant: the sum of inflight[].bytes. */
  private inflightBytes = 0;
  private lastRoundTripSampleMs = Number.NEGATIVE_INFINITY;
  private lastAckRequestMs = Number.NEGATIVE_INFINITY;
  private flushScheduled = false;
  private unreachablePending = false;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private readonly stats: { -readonly [K in keyof PeerStreamStats]: PeerStreamStats[K] } = {
    batchesSent: 0,
    messagesSent: 0,
    messagesDropped: 0,
    connectionsLost: 0,
  };

  constructor(
    readonly peer: ReplicaId,
    readonly address: string,
    private readonly env: PeerStreamEnv,
  ) {
    this.client = new RaftTransportServiceClient(
      address,
      env.credentials ?? credentials.createInsecure(),
      transportClientOptions(env.limits),
    );
    this.queue = new SendQueue(env.limits.queueMessagesMax, env.limits.queueBytesMax);
    this.backoff = new ReconnectBackoff(env.limits.reconnectDelayMsInitial, env.limits.reconnectDelayMsMax);
    // One peer: one key, one line a minute.
    this.refusalLog = new RateLimitedLog(env.logger, realClock, { intervalMs: refusalLogIntervalMs, keysMax: 1 });
  }

  currentState(): PeerStreamState {
    return this.state;
  }

  queuedMessages(): number {
    return this.queue.size();
  }

  queuedBytes(): number {
    return this.queue.bytes();
  }

  statistics(): PeerStreamStats {
    return { ...this.stats };
  }

  send(message: Message): void {
    assert(message.to === this.peer, "message routed to the wrong peer stream");
    if (this.state === "closed") return;
    const dropped = this.queue.push(message);
    if (dropped > 0) {
      this.stats.messagesDropped += dropped;
      this.env.logger.debug(
        { peer: this.peer, dropped, queued: this.queue.size() },
        "raft send queue full; dropped the oldest messages",
      );
      this.unreachablePending = true;
    }
    // The peer is known to be down: tell the core now rather than when the queue overflows.
    if (this.state === "backoff") this.unreachablePending = true;
    this.scheduleFlush();
  }

  /**
   * Connects now, with nothing to send: a stream that exists before an election needs it does
   * not pay a connection set-up (or sit out a reconnect delay) in front of its first vote.
   */
  open(): void {
    if (this.state === "idle") this.connect();
  }

  close(): void {
    if (this.state === "closed") return;
    this.transitionTo("closed");
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.generation++;
    this.call?.cancel();
    this.call = null;
    this.stats.messagesDropped += this.queue.clear();
    this.clearInflight();
    this.client.close();
  }

  private transitionTo(to: PeerStreamState): void {
    assert(allowedTransitions[this.state].includes(to), `peer stream: illegal transition ${this.state} -> ${to}`);
    this.state = to;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  /** Everything queued during one event-loop turn leaves here, in as few batches as the limits allow. */
  private flush(): void {
    if (this.unreachablePending) {
      this.unreachablePending = false;
      if (this.state !== "closed") this.env.onUnreachable(this.peer);
    }
    switch (this.state) {
      case "idle":
        if (this.queue.size() > 0) this.connect();
        this.writeQueued();
        return;
      case "connecting":
      case "connected":
        this.writeQueued();
        return;
      case "backoff":
      case "closed":
        return;
      default:
        assertNever(this.state, "peer stream state");
    }
  }

  private writeQueued(): void {
    const limits = this.env.limits;
    while (this.call !== null && !this.blocked && this.queue.size() > 0 && this.windowOpen()) {
      const bytesBefore = this.queue.bytes();
      const batch = this.queue.takeBatch(limits.batchMessagesMax, limits.batchBytesMax);
      const bytes = bytesBefore - this.queue.bytes();
      const sentMs = performance.now();
      const ackRequested = this.wantsAck(sentMs, bytes);
      this.inflight.push({ sentMs, bytes, ackRequested });
      this.inflightBytes += bytes;
      const writable = this.call.write({ messages: batch.map(encodeMessage), ackRequested });
      this.stats.batchesSent++;
      this.stats.messagesSent += batch.length;
      if (!writable) this.blocked = true;
    }
  }

  /**
   * Whether the batch about to leave asks for an answer: once the window is half full (so it
   * never fills without an answer on the way), and once per round-trip sample interval.
   */
  private wantsAck(nowMs: number, bytes: number): boolean {
    const limits = this.env.limits;
    if (
      this.inflight.length + 1 >= limits.batchesInflightMax / 2 ||
      this.inflightBytes + bytes >= limits.bytesInflightMax / 2
    )
      return true;
    if (nowMs - this.lastAckRequestMs < limits.roundTripSampleIntervalMs) return false;
    this.lastAckRequestMs = nowMs;
    return true;
  }

  /** Room for another batch: under both in-flight bounds (an empty window always has room). */
  private windowOpen(): boolean {
    if (this.inflight.length === 0) return true;
    return (
      this.inflight.length < this.env.limits.batchesInflightMax && this.inflightBytes < this.env.limits.bytesInflightMax
    );
  }

  private clearInflight(): void {
    this.inflight = [];
    this.inflightBytes = 0;
  }

  private connect(): void {
    this.transitionTo("connecting");
    this.blocked = false;
    this.clearInflight();
    const generation = ++this.generation;
    const metadata = new Metadata();
    metadata.set(fromMetadataKey, this.env.selfId);
    metadata.set(toMetadataKey, this.peer);
    if (this.env.clusterId !== undefined) metadata.set(clusterIdMetadataKey, this.env.clusterId);
    const call = this.client.stream(metadata);
    this.call = call;
    const current = (): boolean => generation === this.generation;
    call.on("metadata", () => {
      if (current()) this.onConnected();
    });
    call.on("data", (response: StreamResponse) => {
      if (current()) this.onAck(response.batches);
    });
    call.on("drain", () => {
      if (!current()) return;
      this.blocked = false;
      this.scheduleFlush();
    });
    // "error" carries the same status as "status"; it needs a listener or it would be thrown.
    call.on("error", () => undefined);
    call.on("status", (status: StatusObject) => {
      if (current()) this.onCallEnded(status);
    });
  }

  private onConnected(): void {
    if (this.state !== "connecting") return;
    this.transitionTo("connected");
    this.backoff.reset();
    this.env.logger.debug({ peer: this.peer, address: this.address }, "raft stream to peer connected");
  }

  /** `batches` oldest batches arrived (0 from a peer that acknowledges every batch on its own). */
  private onAck(batches: number): void {
    const count = Math.max(1, batches);
    if (count > this.inflight.length) {
      this.env.logger.debug(
        { peer: this.peer, acked: count, unacked: this.inflight.length },
        "raft stream acked more batches than were sent; ignored the rest",
      );
    }
    const acked = this.inflight.splice(0, count);
    if (acked.length === 0) return;
    for (const batch of acked) this.inflightBytes -= batch.bytes;
    // The newest batch acknowledged is the one that asked: its time is the round trip.
    const last = acked[acked.length - 1];
    const nowMs = performance.now();
    if (last.ackRequested && nowMs - this.lastRoundTripSampleMs >= this.env.limits.roundTripSampleIntervalMs) {
      this.lastRoundTripSampleMs = nowMs;
      this.env.onRoundTrip(this.peer, (nowMs - last.sentMs) / 1000);
    }
    if (this.queue.size() > 0) this.scheduleFlush();
  }

  private onCallEnded(status: StatusObject): void {
    const wasConnected = this.state === "connected";
    const lostBatches = this.inflight.length;
    this.generation++;
    this.call = null;
    this.blocked = false;
    this.clearInflight();
    this.transitionTo("backoff");
    if (wasConnected) this.backoff.reset();
    const delayMs = this.backoff.nextDelayMs();
    this.env.logger.debug(
      {
        peer: this.peer,
        code: status.code,
        details: status.details,
        wasConnected,
        lostBatches,
        retryInMs: Math.round(delayMs),
      },
      "raft stream to peer ended",
    );
    // The peer refuses us (another cluster, or not a member): say so where an operator looks.
    if (status.code === grpcStatus.FAILED_PRECONDITION)
      this.refusalLog.warn(this.peer, { details: status.details }, "peer refuses this replica's raft stream");
    this.reconnectTimer = setTimeout(() => this.reconnect(), delayMs);
    if (wasConnected) {
      this.stats.connectionsLost++;
      this.env.onConnectionLost(this.peer);
    }
    if (lostBatches > 0 || this.queue.size() > 0) this.env.onUnreachable(this.peer);
  }

  private reconnect(): void {
    this.reconnectTimer = null;
    if (this.state !== "backoff") return;
    this.connect();
    this.writeQueued();
  }
}
