import { assert } from "../../lib/assert.js";
import { err, ok, type Result } from "../../lib/errors.js";
import {
  MessageType as ProtoMessageType,
  type InstallSnapshotRequest,
  type Message as ProtoMessage,
} from "../../gen/raft/v1/raft.js";

/** A snapshot put back together: its wire message (metadata) and all its bytes. */
export interface AssembledSnapshot {
  readonly wire: ProtoMessage;
  readonly data: Uint8Array;
}

/** Request metadata in which a sender announces the snapshot's size, so the receiver can allocate once. */
export const snapshotBytesMetadataKey = "raft-snapshot-bytes";

/**
 * Reassembles one InstallSnapshot stream. Chunks must arrive in order without gaps or overlap,
 * the first carrying the snapshot message, and the total stays within `bytesMax`: a peer
 * cannot make a replica buffer more than that. Violations are the peer's fault, so they come
 * back as typed errors and the stream is abandoned.
 *
 * When the sender announced the size, chunks are copied into one buffer as they arrive: no
 * large concatenation at the end (which would stall the event loop and double peak memory).
 */
export class SnapshotAssembly {
  private wire: ProtoMessage | null = null;
  private chunks: Buffer[] = [];
  private readonly whole: Buffer | null;
  private receivedBytes = 0;
  private complete = false;

  constructor(
    private readonly bytesMax: number,
    private readonly expectedBytes: number | null = null,
  ) {
    assert(bytesMax > 0, "a snapshot bound must be positive");
    if (expectedBytes !== null)
      assert(
        Number.isSafeInteger(expectedBytes) && expectedBytes >= 0 && expectedBytes <= bytesMax,
        "announced snapshot size out of bounds",
      );
    this.whole = expectedBytes === null ? null : Buffer.allocUnsafeSlow(expectedBytes);
  }

  /** Parses an announced size; null if absent, an error if it cannot be honoured. */
  static parseExpectedBytes(value: unknown, bytesMax: number): Result<number | null, string> {
    if (value === undefined) return ok(null);
    const bytes = typeof value === "string" && /^[0-9]{1,16}$/.test(value) ? Number(value) : Number.NaN;
    if (!Number.isSafeInteger(bytes)) return err(`announced snapshot size ${String(value)} is not a byte count`);
    if (bytes > bytesMax) return err(`announced snapshot of ${bytes} bytes exceeds the ${bytesMax}-byte limit`);
    return ok(bytes);
  }

  bytes(): number {
    return this.receivedBytes;
  }

  /** The sender of the first chunk, once known: for logs and peer checks. */
  from(): string | null {
    return this.wire?.from ?? null;
  }

  /** Adds a chunk; returns the whole snapshot after the chunk marked `done`, else null. */
  accept(chunk: InstallSnapshotRequest): Result<AssembledSnapshot | null, string> {
    if (this.complete) return err("chunk after the last one");
    if (this.wire === null) {
      if (chunk.message === undefined) return err("the first snapshot chunk carries no message");
      if (chunk.message.type !== ProtoMessageType.MESSAGE_TYPE_SNAPSHOT)
        return err(`the first snapshot chunk carries a message of type ${chunk.message.type}`);
      this.wire = chunk.message;
    } else if (chunk.message !== undefined) {
      return err("only the first snapshot chunk may carry a message");
    }
    if (chunk.offset !== this.receivedBytes)
      return err(`snapshot chunk at offset ${chunk.offset}, expected ${this.receivedBytes}`);
    const end = this.receivedBytes + chunk.data.byteLength;
    if (end > this.bytesMax) return err(`snapshot larger than the ${this.bytesMax}-byte limit`);
    if (this.whole !== null) {
      if (end > this.whole.byteLength) return err(`snapshot larger than the announced ${this.whole.byteLength} bytes`);
      chunk.data.copy(this.whole, this.receivedBytes);
    } else if (chunk.data.byteLength > 0) {
      this.chunks.push(chunk.data);
    }
    this.receivedBytes = end;
    if (!chunk.done) return ok(null);
    if (this.expectedBytes !== null && this.receivedBytes !== this.expectedBytes) {
      return err(`snapshot ended at ${this.receivedBytes} bytes, ${this.expectedBytes} were announced`);
    }
    this.complete = true;
    const whole =
      this.whole ?? (this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.receivedBytes));
    this.chunks = [];
    return ok({ wire: this.wire, data: new Uint8Array(whole.buffer, whole.byteOffset, whole.byteLength) });
  }
}
