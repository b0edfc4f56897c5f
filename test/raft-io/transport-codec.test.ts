import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  EntryType as ProtoEntryType,
  Message as ProtoMessage,
  MessageType as ProtoMessageType,
} from "../../src/gen/raft/v1/raft.js";
import { message, type Entry, type Message, type MessageType } from "../../src/raft/core/types.js";
import {
  allMessageTypes,
  decodeMessage,
  encodeMessage,
  messageBytes,
} from "../../src/raft/io/transport-message-codec.js";

/** Through the generated protobuf code and real bytes, as the wire does it. */
function overTheWire(m: Message): Message {
  const bytes = ProtoMessage.encode(encodeMessage(m)).finish();
  const decoded = decodeMessage(ProtoMessage.decode(bytes), m.snapshot?.data);
  if (!decoded.ok) throw new Error(decoded.error);
  return decoded.value;
}

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);

function sampleMessage(type: MessageType, from = "r1", to = "r2"): Message {
  const entries: Entry[] = [
    { term: 3, index: 8, type: "normal", data: new Uint8Array(0) },
    { term: 3, index: 9, type: "normal", data: bytes(1, 2, 3, 255) },
    { term: 4, index: 10, type: "conf-change", data: new TextEncoder().encode("add r4") },
  ];
  const base = { type, from, to, term: 4 };
  switch (type) {
    case "vote":
    case "pre-vote":
      return message({ ...base, logIndex: 10, logTerm: 4, force: type === "vote" });
    case "vote-resp":
    case "pre-vote-resp":
      return message({ ...base, reject: true });
    case "append":
      return message({ ...base, logIndex: 7, logTerm: 3, entries, commit: 6 });
    case "append-resp":
      return message({ ...base, index: 5, reject: true, rejectHint: 4, logTerm: 2 });
    case "heartbeat":
      return message({ ...base, commit: 10, context: "read-42 ✓" });
    case "heartbeat-resp":
      return message({ ...base, context: "read-42 ✓" });
    case "snapshot":
      return message({
        ...base,
        snapshot: {
          meta: { index: 100, term: 4, conf: { voters: ["r1", "r2", "r3"], learners: ["r4"] } },
          data: bytes(9, 8, 7),
        },
      });
    case "timeout-now":
      return message(base);
    case "read-index":
      return message({ ...base, context: "ctx-1" });
    case "read-index-resp":
      return message({ ...base, index: 77, context: "ctx-1" });
    default:
      throw new Error(`no sample for ${String(type)}`);
  }
}

describe("transport message codec", () => {
  it("covers every core message type", () => {
    expect([...allMessageTypes].sort()).toEqual(
      [
        "append",
        "append-resp",
        "heartbeat",
        "heartbeat-resp",
        "pre-vote",
        "pre-vote-resp",
        "read-index",
        "read-index-resp",
        "snapshot",
        "timeout-now",
        "vote",
        "vote-resp",
      ].sort(),
    );
  });

  it.each(allMessageTypes.map((t) => [t]))("round-trips a %s message exactly", (type) => {
    const original = sampleMessage(type);
    expect(overTheWire(original)).toStrictEqual(original);
  });

  it("carries snapshot metadata but never snapshot data in the message", () => {
    const wire = encodeMessage(sampleMessage("snapshot"));
    expect(wire.snapshot).toEqual({ index: 100, term: 4, confState: { voters: ["r1", "r2", "r3"], learners: ["r4"] } });
    expect(ProtoMessage.encode(wire).finish().byteLength).toBeLessThan(64);
  });

  it("round-trips arbitrary messages (property)", () => {
    // Plain objects like the core builds, so strict equality compares like with like.
    const plain = { noNullPrototype: true } as const;
    const id = fc.stringMatching(/^r[0-9]{1,3}$/);
    const n = fc.nat({ max: Number.MAX_SAFE_INTEGER });
    const entry = fc.record(
      {
        term: n,
        index: n,
        type: fc.constantFrom("normal" as const, "conf-change" as const),
        data: fc.uint8Array({ maxLength: 64 }),
      },
      plain,
    );
    const conf = fc.record({ voters: fc.array(id, { maxLength: 5 }), learners: fc.array(id, { maxLength: 3 }) }, plain);
    const meta = fc.record({ index: n, term: n, conf }, plain);
    const arbitraryMessage = fc
      .record({
        type: fc.constantFrom(...allMessageTypes),
        from: id,
        to: id,
        term: n,
        logIndex: n,
        logTerm: n,
        entries: fc.array(entry, { maxLength: 4 }),
        commit: n,
        reject: fc.boolean(),
        index: n,
        rejectHint: n,
        force: fc.boolean(),
        context: fc.string({ unit: "grapheme", maxLength: 20 }),
        meta,
        data: fc.uint8Array({ maxLength: 128 }),
      })
      .map(({ meta: m, data, ...fields }): Message => ({
        ...fields,
        snapshot: fields.type === "snapshot" ? { meta: m, data } : null,
      }));
    fc.assert(
      fc.property(arbitraryMessage, (m) => {
        expect(overTheWire(m)).toStrictEqual(m);
      }),
      { numRuns: 500 },
    );
  });

  it("rejects what the core cannot take", () => {
    const good = encodeMessage(sampleMessage("heartbeat"));
    const cases: Array<[string, ProtoMessage]> = [
      ["unspecified type", { ...good, type: ProtoMessageType.MESSAGE_TYPE_UNSPECIFIED }],
      ["snapshot-status type", { ...good, type: ProtoMessageType.MESSAGE_TYPE_SNAPSHOT_STATUS }],
      ["unknown type", { ...good, type: 99 as ProtoMessageType }],
      ["no sender", { ...good, from: "" }],
      ["no recipient", { ...good, to: "" }],
      ["bad UTF-8 context", { ...good, context: Buffer.from([0xff, 0xfe]) }],
      ["snapshot without metadata", { ...good, type: ProtoMessageType.MESSAGE_TYPE_SNAPSHOT, snapshot: undefined }],
      [
        "unknown entry type",
        { ...good, entries: [{ term: 1, index: 1, type: 7 as ProtoEntryType, data: Buffer.alloc(0) }] },
      ],
    ];
    for (const [what, wire] of cases) {
      const decoded = decodeMessage(ProtoMessage.decode(ProtoMessage.encode(wire).finish()));
      expect(decoded.ok, what).toBe(false);
    }
  });

  it("estimates a message's queue cost from its entries and context", () => {
    const small = messageBytes(sampleMessage("heartbeat"));
    const append = messageBytes(
      message({
        type: "append",
        from: "r1",
        to: "r2",
        term: 1,
        entries: [{ term: 1, index: 1, type: "normal", data: new Uint8Array(1000) }],
      }),
    );
    expect(small).toBeGreaterThan(0);
    expect(append).toBeGreaterThan(1000);
  });
});
