import { assert } from "../../lib/assert.js";
import { raftLimits } from "../../lib/limits.js";

/**
 * Every queue, batch, window and retry of the Raft transport has a named maximum here. A
 * replica may override some (tests shrink them); `checkTransportLimits` asserts how they relate.
 */
export interface TransportLimits {
  /** Messages waiting for one peer's stream; beyond this the oldest droppable ones go. */
  readonly queueMessagesMax: number;
  /** Estimated bytes waiting for one peer's stream; beyond this the oldest droppable ones go. */
  readonly queueBytesMax: number;
  /** Messages in one StreamRequest. */
  readonly batchMessagesMax: number;
  /** Estimated bytes in one StreamRequest; a single larger message still goes alone. */
  readonly batchBytesMax: number;
  /** StreamRequests written but not yet acknowledged; the acks flow-control the stream. */
  readonly batchesInflightMax: number;
  /** Estimated bytes written but not yet acknowledged (one batch may always be in flight). */
  readonly bytesInflightMax: number;
  /** Largest gRPC message either side accepts. */
  readonly grpcMessageBytesMax: number;
  /** First reconnect delay after a stream fails. */
  readonly reconnectDelayMsInitial: number;
  /** Reconnect delays double up to this cap (before jitter). */
  readonly reconnectDelayMsMax: number;
  /** Bytes of snapshot data per InstallSnapshot chunk. */
  readonly snapshotChunkBytes: number;
  /** Largest snapshot a receiver reassembles. */
  readonly snapshotBytesMax: number;
  /** Snapshots being reassembled at once (from all peers). */
  readonly snapshotsReceivingMax: number;
  /** A snapshot send that has not finished after this long is abandoned and reported failed. */
  readonly snapshotSendMsMax: number;
  /** At most one round-trip sample per peer per interval reaches the handler. */
  readonly roundTripSampleIntervalMs: number;
  /** HTTP/2 keepalive: a backstop for silent peers; crashed processes are noticed by reset/close. */
  readonly keepaliveTimeMs: number;
  readonly keepaliveTimeoutMs: number;
  /** Memory (MiB) one HTTP/2 session may hold before Node refuses new streams on it. */
  readonly sessionMemoryMiBMax: number;
}

/** Bytes of framing a message costs beyond its entries and context (ids, numbers, tags). */
export const messageOverheadBytes = 64;

export const defaultTransportLimits: TransportLimits = {
  queueMessagesMax: 4096,
  queueBytesMax: 64 * 1024 * 1024,
  batchMessagesMax: 1024,
  batchBytesMax: 4 * 1024 * 1024,
  batchesInflightMax: 64,
  bytesInflightMax: 16 * 1024 * 1024,
  grpcMessageBytesMax: 64 * 1024 * 1024,
  // Failover speed matters: a restarted peer should be reachable again within tens of ms, and
  // a vote must not wait out a long delay. Retrying a dead peer on loopback or a LAN every
  // 100 ms costs nothing worth saving (the connect is refused at once).
  reconnectDelayMsInitial: 20,
  reconnectDelayMsMax: 100,
  snapshotChunkBytes: 1024 * 1024,
  snapshotBytesMax: 1024 * 1024 * 1024,
  snapshotsReceivingMax: 4,
  snapshotSendMsMax: 5 * 60 * 1000,
  roundTripSampleIntervalMs: 100,
  keepaliveTimeMs: 2000,
  keepaliveTimeoutMs: 1000,
  sessionMemoryMiBMax: 256,
};

export function transportLimits(overrides: Partial<TransportLimits> = {}): TransportLimits {
  const limits = { ...defaultTransportLimits, ...overrides };
  checkTransportLimits(limits);
  return limits;
}

export function checkTransportLimits(limits: TransportLimits): void {
  for (const [name, value] of Object.entries(limits)) {
    assert(Number.isSafeInteger(value) && value > 0, `transport limit ${name} must be a positive integer`);
  }
  assert(limits.batchMessagesMax <= limits.queueMessagesMax, "a batch must fit in the send queue");
  assert(limits.batchBytesMax <= limits.queueBytesMax, "a batch's bytes must fit in the send queue");
  assert(limits.batchBytesMax < limits.grpcMessageBytesMax, "a batch must fit in one gRPC message");
  assert(limits.batchBytesMax <= limits.bytesInflightMax, "a full batch must be allowed in flight");
  assert(
    raftLimits.proposalBytesMax + messageOverheadBytes * 2 < limits.grpcMessageBytesMax,
    "the largest single-entry append must fit in one gRPC message",
  );
  assert(
    limits.snapshotChunkBytes + 64 * 1024 < limits.grpcMessageBytesMax,
    "a snapshot chunk (plus its metadata) must fit in one gRPC message",
  );
  assert(limits.snapshotChunkBytes <= limits.snapshotBytesMax, "a snapshot chunk cannot exceed the snapshot bound");
  assert(
    limits.reconnectDelayMsInitial <= limits.reconnectDelayMsMax,
    "the first reconnect delay cannot exceed the cap",
  );
  assert(limits.keepaliveTimeoutMs <= limits.keepaliveTimeMs, "a keepalive ping must time out before the next is due");
}

checkTransportLimits(defaultTransportLimits);
