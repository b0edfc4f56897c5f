import { assert } from "../../lib/assert.js";
import type { Message, MessageType } from "../core/types.js";
import { messageBytes } from "./transport-message-codec.js";

/**
 * Messages an election cannot do without. Raft tolerates the loss of any message, but losing
 * appends or heartbeats only costs a retransmission while a lost vote costs a whole election
 * timeout, so when a queue overflows these are the last to go.
 */
const essentialTypes: ReadonlySet<MessageType> = new Set<MessageType>([
  "vote",
  "vote-resp",
  "pre-vote",
  "pre-vote-resp",
  "timeout-now",
]);

/**
 * How far from the head an overflow looks for a non-essential message to drop. Beyond it the
 * oldest message goes whatever its type, so stale votes cannot pile up in front of a dead
 * peer's queue and starve fresh messages; it also bounds the cost of an overflow.
 */
export const overflowScanMessagesMax = 64;

export function isEssential(type: MessageType): boolean {
  return essentialTypes.has(type);
}

interface Queued {
  readonly message: Message;
  readonly bytes: number;
}

/**
 * The bounded, ordered queue of messages waiting for one peer's stream. Overflow drops the
 * oldest non-essential message (the oldest message at all if the oldest ones are all
 * essential) and reports how many went, so the transport can tell the core the peer is
 * unreachable.
 *
 * Invariant: size() <= messagesMax and bytes() <= bytesMax after every push.
 */
export class SendQueue {
  private items: Queued[] = [];
  /** Index of the oldest live item; items before it are consumed and wait for compaction. */
  private head = 0;
  private totalBytes = 0;

  constructor(
    private readonly messagesMax: number,
    private readonly bytesMax: number,
  ) {
    assert(messagesMax > 0, "a send queue needs room for one message");
    assert(bytesMax > 0, "a send queue needs room for some bytes");
  }

  size(): number {
    return this.items.length - this.head;
  }

  bytes(): number {
    return this.totalBytes;
  }

  /** Appends `message`; returns how many messages were dropped to stay within bounds. */
  push(message: Message): number {
    const bytes = messageBytes(message);
    this.items.push({ message, bytes });
    this.totalBytes += bytes;
    let dropped = 0;
    while (this.size() > this.messagesMax || this.totalBytes > this.bytesMax) {
      this.dropOldest();
      dropped++;
    }
    assert(this.size() <= this.messagesMax, "send queue over its message bound");
    assert(this.totalBytes <= this.bytesMax, "send queue over its byte bound");
    return dropped;
  }

  /**
   * Removes and returns the oldest messages, in order, up to the bounds. The first message is
   * taken whatever its size, so one large message cannot block the queue.
   */
  takeBatch(messagesMax: number, bytesMax: number): Message[] {
    assert(messagesMax > 0, "a batch holds at least one message");
    const batch: Message[] = [];
    let bytes = 0;
    while (this.head < this.items.length && batch.length < messagesMax) {
      const item = this.items[this.head];
      if (batch.length > 0 && bytes + item.bytes > bytesMax) break;
      batch.push(item.message);
      bytes += item.bytes;
      this.totalBytes -= item.bytes;
      this.head++;
    }
    this.compact();
    return batch;
  }

  /** Empties the queue; returns how many messages were discarded. */
  clear(): number {
    const discarded = this.size();
    this.items = [];
    this.head = 0;
    this.totalBytes = 0;
    return discarded;
  }

  private dropOldest(): void {
    let victim = this.head;
    const scanEnd = Math.min(this.items.length, this.head + overflowScanMessagesMax);
    for (let i = this.head; i < scanEnd; i++) {
      if (!isEssential(this.items[i].message.type)) {
        victim = i;
        break;
      }
    }
    this.totalBytes -= this.items[victim].bytes;
    if (victim === this.head) {
      this.head++;
      this.compact();
    } else {
      this.items.splice(victim, 1);
    }
  }

  /** Reclaims consumed slots once they are the larger part of the array. */
  private compact(): void {
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}
