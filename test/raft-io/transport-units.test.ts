import { describe, expect, it } from "vitest";
import { MessageType as ProtoMessageType, type InstallSnapshotRequest } from "../../src/gen/raft/v1/raft.js";
import { message, type Message, type MessageType } from "../../src/raft/core/types.js";
import { ReconnectBackoff } from "../../src/raft/io/transport-backoff.js";
import { defaultTransportLimits, transportLimits } from "../../src/raft/io/transport-limits.js";
import { encodeMessage, messageBytes } from "../../src/raft/io/transport-message-codec.js";
import { SendQueue } from "../../src/raft/io/transport-send-queue.js";
import { SnapshotAssembly } from "../../src/raft/io/transport-snapshot-receiver.js";

const msg = (type: MessageType, term: number, payloadBytes = 0): Message =>
  message({
    type,
    from: "r1",
    to: "r2",
    term,
    entries: payloadBytes > 0 ? [{ term, index: term, type: "normal", data: new Uint8Array(payloadBytes) }] : [],
  });

describe("send queue", () => {
  it("keeps order and batches within bounds, the first message whatever its size", () => {
    const queue = new SendQueue(100, 1_000_000);
    for (let i = 1; i <= 10; i++) queue.push(msg("append", i, 100));
    const perMessage = messageBytes(msg("append", 1, 100));
    expect(queue.takeBatch(3, 1_000_000).map((m) => m.term)).toEqual([1, 2, 3]);
    expect(queue.takeBatch(100, perMessage * 2).map((m) => m.term)).toEqual([4, 5]);
    expect(queue.takeBatch(100, 1).map((m) => m.term)).toEqual([6]);
    expect(queue.takeBatch(100, 1_000_000).map((m) => m.term)).toEqual([7, 8, 9, 10]);
    expect(queue.size()).toBe(0);
    expect(queue.bytes()).toBe(0);
  });

  it("drops the oldest non-essential message when full and says how many went", () => {
    const queue = new SendQueue(3, 1_000_000);
    expect(queue.push(msg("vote", 1))).toBe(0);
    expect(queue.push(msg("heartbeat", 2))).toBe(0);
    expect(queue.push(msg("append", 3))).toBe(0);
    expect(queue.push(msg("pre-vote", 4))).toBe(1);
    expect(queue.takeBatch(10, 1_000_000).map((m) => [m.type, m.term])).toEqual([
      ["vote", 1],
      ["append", 3],
      ["pre-vote", 4],
    ]);
  });

  it("drops the oldest message when every one is essential", () => {
    const queue = new SendQueue(2, 1_000_000);
    queue.push(msg("vote", 1));
    queue.push(msg("vote-resp", 2));
    expect(queue.push(msg("timeout-now", 3))).toBe(1);
    expect(queue.takeBatch(10, 1_000_000).map((m) => m.term)).toEqual([2, 3]);
  });

  it("bounds bytes as well as messages", () => {
    const one = messageBytes(msg("append", 1, 1000));
    const queue = new SendQueue(1000, one * 5);
    let dropped = 0;
    for (let i = 0; i < 100; i++) dropped += queue.push(msg("append", i, 1000));
    expect(queue.size()).toBe(5);
    expect(dropped).toBe(95);
    expect(queue.bytes()).toBeLessThanOrEqual(one * 5);
  });

  it("stays bounded under a long stream of pushes (a dead peer)", () => {
    const queue = new SendQueue(64, 1_000_000);
    for (let i = 0; i < 100_000; i++) queue.push(msg(i % 10 === 0 ? "vote" : "heartbeat", i));
    expect(queue.size()).toBe(64);
    const kept = queue.takeBatch(1000, 1_000_000);
    expect(kept.map((m) => m.term)).toEqual([...kept.map((m) => m.term)].sort((a, b) => a - b));
    expect(kept.at(-1)?.term).toBe(99_999);
    // Stale votes do not crowd out fresh messages.
    expect(kept.filter((m) => m.type === "heartbeat").length).toBeGreaterThan(0);
  });
});

describe("reconnect backoff", () => {
  it("starts small, doubles with jitter up to the cap, and resets", () => {
    const low = new ReconnectBackoff(20, 1000, () => 0);
    expect([1, 2, 3, 4, 5, 6, 7, 8].map(() => low.nextDelayMs())).toEqual([10, 20, 40, 80, 160, 320, 500, 500]);
    low.reset();
    expect(low.nextDelayMs()).toBe(10);
    const high = new ReconnectBackoff(20, 1000, () => 0.999999);
    const delays = Array.from({ length: 100 }, () => high.nextDelayMs());
    expect(Math.max(...delays)).toBeLessThanOrEqual(1000);
    expect(delays[0]).toBeGreaterThan(19);
  });

  it("never overflows however many attempts", () => {
    const backoff = new ReconnectBackoff(20, 1000);
    for (let i = 0; i < 10_000; i++) expect(backoff.nextDelayMs()).toBeLessThanOrEqual(1000);
  });
});

describe("transport limits", () => {
  it("accepts the defaults and refuses inconsistent overrides", () => {
    expect(transportLimits()).toEqual(defaultTransportLimits);
    expect(() => transportLimits({ batchBytesMax: defaultTransportLimits.queueBytesMax * 2 })).toThrow(/batch/);
    expect(() => transportLimits({ reconnectDelayMsInitial: 5000 })).toThrow(/reconnect/);
    expect(() => transportLimits({ queueMessagesMax: 0 })).toThrow(/positive/);
  });
});

describe("snapshot assembly", () => {
  const snapshotWire = encodeMessage(
    message({
      type: "snapshot",
      from: "r1",
      to: "r2",
      term: 2,
      snapshot: { meta: { index: 9, term: 2, conf: { voters: ["r1", "r2"], learners: [] } }, data: new Uint8Array(0) },
    }),
  );
  const chunk = (offset: number, values: number[], done: boolean, first = offset === 0): InstallSnapshotRequest => ({
    message: first ? snapshotWire : undefined,
    offset,
    data: Buffer.from(values),
    done,
  });

  it("puts chunks back together", () => {
    const assembly = new SnapshotAssembly(100);
    expect(assembly.accept(chunk(0, [1, 2], false))).toEqual({ ok: true, value: null });
    expect(assembly.accept(chunk(2, [3], false))).toEqual({ ok: true, value: null });
    const last = assembly.accept(chunk(3, [4, 5], true));
    expect(last.ok && last.value?.data).toEqual(Uint8Array.from([1, 2, 3, 4, 5]));
    expect(last.ok && last.value?.wire.type).toBe(ProtoMessageType.MESSAGE_TYPE_SNAPSHOT);
    expect(assembly.accept(chunk(5, [], true)).ok).toBe(false);
  });

  it("fills a buffer of the announced size and holds the sender to it", () => {
    const exact = new SnapshotAssembly(100, 5);
    exact.accept(chunk(0, [1, 2], false));
    const last = exact.accept(chunk(2, [3, 4, 5], true));
    expect(last.ok && last.value?.data).toEqual(Uint8Array.from([1, 2, 3, 4, 5]));
    const short = new SnapshotAssembly(100, 5);
    expect(short.accept(chunk(0, [1, 2], true)).ok).toBe(false);
    const long = new SnapshotAssembly(100, 2);
    expect(long.accept(chunk(0, [1, 2, 3], true)).ok).toBe(false);
    expect(SnapshotAssembly.parseExpectedBytes(undefined, 100)).toEqual({ ok: true, value: null });
    expect(SnapshotAssembly.parseExpectedBytes("42", 100)).toEqual({ ok: true, value: 42 });
    expect(SnapshotAssembly.parseExpectedBytes("101", 100).ok).toBe(false);
    expect(SnapshotAssembly.parseExpectedBytes("-1", 100).ok).toBe(false);
    expect(SnapshotAssembly.parseExpectedBytes("1e3", 100).ok).toBe(false);
  });

  it("takes an empty snapshot in one chunk", () => {
    const result = new SnapshotAssembly(100).accept(chunk(0, [], true));
    expect(result.ok && result.value?.data.byteLength).toBe(0);
  });

  it("refuses gaps, overlaps, a missing first message, a second message and oversize", () => {
    expect(new SnapshotAssembly(100).accept(chunk(0, [1], false, false)).ok).toBe(false);
    const gap = new SnapshotAssembly(100);
    gap.accept(chunk(0, [1, 2], false));
    expect(gap.accept(chunk(3, [3], false)).ok).toBe(false);
    const overlap = new SnapshotAssembly(100);
    overlap.accept(chunk(0, [1, 2], false));
    expect(overlap.accept(chunk(1, [3], false)).ok).toBe(false);
    const twice = new SnapshotAssembly(100);
    twice.accept(chunk(0, [1], false));
    expect(twice.accept(chunk(1, [2], false, true)).ok).toBe(false);
    const big = new SnapshotAssembly(4);
    big.accept(chunk(0, [1, 2, 3], false));
    expect(big.accept(chunk(3, [4, 5], true)).ok).toBe(false);
    const heartbeat = new SnapshotAssembly(100);
    expect(
      heartbeat.accept({
        ...chunk(0, [1], true),
        message: { ...snapshotWire, type: ProtoMessageType.MESSAGE_TYPE_HEARTBEAT },
      }).ok,
    ).toBe(false);
  });
});
