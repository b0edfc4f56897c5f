import { assertNever } from "../../lib/assert.js";
import { err, ok, type Result } from "../../lib/errors.js";
import {
  EntryType as ProtoEntryType,
  MessageType as ProtoMessageType,
  type Entry as ProtoEntry,
  type Message as ProtoMessage,
  type SnapshotMetadata as ProtoSnapshotMetadata,
} from "../../gen/raft/v1/raft.js";
import {
  entryBytes,
  type Entry,
  type EntryType,
  type Message,
  type MessageType,
  type SnapshotMeta,
} from "../core/types.js";
import { messageOverheadBytes } from "./transport-limits.js";

/**
 * Converts between the core's plain `Message` and the wire's generated `raft.v1.Message`.
 * Snapshot data never travels inside a message: the wire message carries only the snapshot's
 * metadata and the bytes follow on the InstallSnapshot stream, so decoding takes them apart.
 * Decoding validates, because the other side may run other code: a bad message is an expected
 * failure (a typed result), not a bug.
 */

const utf8Decoder = new TextDecoder("utf-8", { fatal: true });
const emptyBytes = new Uint8Array(0);
/** Shared by every message without a read context (nearly all): the encoder only reads it. */
const emptyBuffer = Buffer.alloc(0);

export function encodeMessage(message: Message): ProtoMessage {
  return {
    type: encodeMessageType(message.type),
    from: message.from,
    to: message.to,
    term: message.term,
    logIndex: message.logIndex,
    logTerm: message.logTerm,
    entries: message.entries.map(encodeEntry),
    commit: message.commit,
    reject: message.reject,
    index: message.index,
    rejectHint: message.rejectHint,
    force: message.force,
    context: message.context === "" ? emptyBuffer : Buffer.from(message.context, "utf8"),
    snapshot: message.snapshot === null ? undefined : encodeSnapshotMeta(message.snapshot.meta),
  };
}

/**
 * `snapshotData` is the reassembled InstallSnapshot payload; messages that arrive on the batch
 * stream carry none.
 */
export function decodeMessage(wire: ProtoMessage, snapshotData: Uint8Array = emptyBytes): Result<Message, string> {
  const type = decodeMessageType(wire.type);
  if (type === null) return err(`unknown message type ${wire.type}`);
  if (wire.from === "") return err("message without a sender");
  if (wire.to === "") return err("message without a recipient");
  const entries: Entry[] = [];
  for (const entry of wire.entries) {
    const entryType = decodeEntryType(entry.type);
    if (entryType === null) return err(`unknown entry type ${entry.type}`);
    entries.push({ term: entry.term, index: entry.index, type: entryType, data: bytesView(entry.data) });
  }
  let context = "";
  try {
    if (wire.context.byteLength > 0) context = utf8Decoder.decode(wire.context);
  } catch {
    return err("read context is not valid UTF-8");
  }
  if (type === "snapshot" && wire.snapshot === undefined) return err("snapshot message without snapshot metadata");
  const snapshot =
    type === "snapshot" && wire.snapshot !== undefined
      ? { meta: decodeSnapshotMeta(wire.snapshot), data: snapshotData }
      : null;
  return ok({
    type,
    from: wire.from,
    to: wire.to,
    term: wire.term,
    logIndex: wire.logIndex,
    logTerm: wire.logTerm,
    entries,
    commit: wire.commit,
    reject: wire.reject,
    index: wire.index,
    rejectHint: wire.rejectHint,
    force: wire.force,
    context,
    snapshot,
  });
}

/** What a message costs in a send queue: entries, context and a fixed overhead. Snapshot data is not queued. */
export function messageBytes(message: Message): number {
  let bytes = messageOverheadBytes + message.context.length;
  for (const entry of message.entries) bytes += entryBytes(entry);
  return bytes;
}

function encodeEntry(entry: Entry): ProtoEntry {
  return { term: entry.term, index: entry.index, type: encodeEntryType(entry.type), data: bufferView(entry.data) };
}

function encodeSnapshotMeta(meta: SnapshotMeta): ProtoSnapshotMetadata {
  return {
    index: meta.index,
    term: meta.term,
    confState: { voters: [...meta.conf.voters], learners: [...meta.conf.learners] },
  };
}

function decodeSnapshotMeta(meta: ProtoSnapshotMetadata): SnapshotMeta {
  return {
    index: meta.index,
    term: meta.term,
    conf: { voters: meta.confState?.voters ?? [], learners: meta.confState?.learners ?? [] },
  };
}

function encodeEntryType(type: EntryType): ProtoEntryType {
  switch (type) {
    case "normal":
      return ProtoEntryType.ENTRY_TYPE_NORMAL_UNSPECIFIED;
    case "conf-change":
      return ProtoEntryType.ENTRY_TYPE_CONF_CHANGE;
    default:
      return assertNever(type, "entry type");
  }
}

function decodeEntryType(type: ProtoEntryType): EntryType | null {
  switch (type) {
    case ProtoEntryType.ENTRY_TYPE_NORMAL_UNSPECIFIED:
      return "normal";
    case ProtoEntryType.ENTRY_TYPE_CONF_CHANGE:
      return "conf-change";
    default:
      // ts-proto decodes unknown enum numbers as themselves (or UNRECOGNIZED).
      return null;
  }
}

const messageTypes: ReadonlyArray<readonly [MessageType, ProtoMessageType]> = [
  ["vote", ProtoMessageType.MESSAGE_TYPE_VOTE],
  ["vote-resp", ProtoMessageType.MESSAGE_TYPE_VOTE_RESPONSE],
  ["pre-vote", ProtoMessageType.MESSAGE_TYPE_PRE_VOTE],
  ["pre-vote-resp", ProtoMessageType.MESSAGE_TYPE_PRE_VOTE_RESPONSE],
  ["append", ProtoMessageType.MESSAGE_TYPE_APPEND],
  ["append-resp", ProtoMessageType.MESSAGE_TYPE_APPEND_RESPONSE],
  ["heartbeat", ProtoMessageType.MESSAGE_TYPE_HEARTBEAT],
  ["heartbeat-resp", ProtoMessageType.MESSAGE_TYPE_HEARTBEAT_RESPONSE],
  ["snapshot", ProtoMessageType.MESSAGE_TYPE_SNAPSHOT],
  ["timeout-now", ProtoMessageType.MESSAGE_TYPE_TIMEOUT_NOW],
  ["read-index", ProtoMessageType.MESSAGE_TYPE_READ_INDEX],
  ["read-index-resp", ProtoMessageType.MESSAGE_TYPE_READ_INDEX_RESPONSE],
];
const toProtoType = new Map<MessageType, ProtoMessageType>(messageTypes);
const fromProtoType = new Map<ProtoMessageType, MessageType>(messageTypes.map(([core, wire]) => [wire, core]));

/** Every core message type, for tests that must cover them all. */
export const allMessageTypes: readonly MessageType[] = messageTypes.map(([core]) => core);

function encodeMessageType(type: MessageType): ProtoMessageType {
  const wire = toProtoType.get(type);
  if (wire === undefined) return assertNever(type as never, "message type");
  return wire;
}

/** MESSAGE_TYPE_SNAPSHOT_STATUS and unknown numbers have no core meaning here: null. */
function decodeMessageType(type: ProtoMessageType): MessageType | null {
  return fromProtoType.get(type) ?? null;
}

/** A Buffer over the same memory: encoding copies nothing. */
function bufferView(bytes: Uint8Array): Buffer {
  if (Buffer.isBuffer(bytes)) return bytes;
  if (bytes.byteLength === 0) return emptyBuffer;
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A plain Uint8Array over the decoded Buffer's memory (the decoder already copied it out of the frame). */
function bytesView(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
