import { credentials, Metadata } from "@grpc/grpc-js";
import { randomBytes } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { MessageType as ProtoMessageType, RaftTransportServiceClient } from "../../src/gen/raft/v1/raft.js";
import { createLogger } from "../../src/lib/logger.js";
import { freePort } from "../../dev/local-cluster/free-port.js";
import { message, type Message, type MessageType, type ReplicaId } from "../../src/raft/core/types.js";
import { GrpcTransport } from "../../src/raft/io/grpc-transport.js";
import type { TransportLimits } from "../../src/raft/io/transport-limits.js";
import { allMessageTypes, encodeMessage } from "../../src/raft/io/transport-message-codec.js";

// Real gRPC on 127.0.0.1, ports picked by the kernel. No sleeps as synchronisation: every wait
// is for a condition, with a generous deadline.

interface TestReplica {
  readonly id: ReplicaId;
  readonly transport: GrpcTransport;
  readonly received: Message[];
  readonly receivedAtMs: number[];
  readonly lost: Array<{ peer: ReplicaId; atMs: number }>;
  readonly unreachable: ReplicaId[];
  readonly snapshotStatus: Array<[ReplicaId, boolean]>;
  readonly roundTripsSeconds: number[];
  /** Runs on every received message, after it is recorded. */
  onMessage: (m: Message) => void;
}

const running: GrpcTransport[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((t) => t.stop()));
});

async function startReplica(
  id: ReplicaId,
  options: { port?: number; limits?: Partial<TransportLimits>; peers?: ReadonlyMap<ReplicaId, string> } = {},
): Promise<TestReplica> {
  const replica: TestReplica = {
    id,
    transport: undefined as unknown as GrpcTransport,
    received: [],
    receivedAtMs: [],
    lost: [],
    unreachable: [],
    snapshotStatus: [],
    roundTripsSeconds: [],
    onMessage: () => undefined,
  };
  const transport = new GrpcTransport({
    id,
    listenAddress: `127.0.0.1:${options.port ?? 0}`,
    peers: options.peers ?? new Map(),
    logger: createLogger({ replica: id }, process.env["LOG_LEVEL"] ?? "silent"),
    limits: options.limits,
    handlers: {
      onMessage: (m) => {
        replica.received.push(m);
        replica.receivedAtMs.push(performance.now());
        replica.onMessage(m);
      },
      onPeerConnectionLost: (peer) => replica.lost.push({ peer, atMs: performance.now() }),
      onUnreachable: (peer) => replica.unreachable.push(peer),
      onSnapshotStatus: (peer, ok) => replica.snapshotStatus.push([peer, ok]),
      onRoundTrip: (_peer, seconds) => replica.roundTripsSeconds.push(seconds),
    },
  });
  (replica as { transport: GrpcTransport }).transport = transport;
  await transport.start();
  running.push(transport);
  return replica;
}

/** Starts replicas on free ports and tells each where the others are. */
async function startCluster(ids: ReplicaId[], limits?: Partial<TransportLimits>): Promise<TestReplica[]> {
  const replicas = await Promise.all(ids.map((id) => startReplica(id, { limits })));
  const addresses = new Map(replicas.map((r) => [r.id, r.transport.address()]));
  for (const r of replicas) r.transport.setPeers(addresses);
  return replicas;
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

const heartbeat = (from: ReplicaId, to: ReplicaId, term: number): Message =>
  message({ type: "heartbeat", from, to, term, commit: term });

/** One message of `type` with every field its type uses set to something recognisable. */
function sample(type: MessageType, from: ReplicaId, to: ReplicaId): Message {
  const base = { type, from, to, term: 7 };
  const entries = [
    { term: 7, index: 11, type: "normal" as const, data: Uint8Array.from([1, 2, 3]) },
    { term: 7, index: 12, type: "conf-change" as const, data: new TextEncoder().encode(`add ${to}`) },
  ];
  switch (type) {
    case "append":
      return message({ ...base, logIndex: 10, logTerm: 6, entries, commit: 9 });
    case "append-resp":
      return message({ ...base, reject: true, index: 12, rejectHint: 8, logTerm: 5 });
    case "vote":
    case "pre-vote":
      return message({ ...base, logIndex: 12, logTerm: 7, force: true });
    case "vote-resp":
    case "pre-vote-resp":
      return message({ ...base, reject: true });
    case "heartbeat":
    case "heartbeat-resp":
    case "read-index":
      return message({ ...base, commit: 9, context: `read ${from}→${to}` });
    case "read-index-resp":
      return message({ ...base, index: 12, context: `read ${from}→${to}` });
    case "timeout-now":
      return message(base);
    case "snapshot":
      return message({
        ...base,
        snapshot: {
          meta: { index: 12, term: 7, conf: { voters: ["r1", "r2", "r3"], learners: [] } },
          data: new Uint8Array(randomBytes(3000)),
        },
      });
    default:
      throw new Error(`no sample for ${String(type)}`);
  }
}

describe("GrpcTransport", () => {
  it.each([[2], [3]])("%i transports exchange every message type, decoded exactly", async (count) => {
    const ids = ["r1", "r2", "r3"].slice(0, count);
    const replicas = await startCluster(ids);
    const sent: Message[] = [];
    for (const from of replicas) {
      const batch = ids
        .filter((to) => to !== from.id)
        .flatMap((to) => allMessageTypes.map((type) => sample(type, from.id, to)));
      sent.push(...batch);
      from.transport.send(batch);
    }
    const expectedPerReplica = (count - 1) * allMessageTypes.length;
    await waitFor(() => replicas.every((r) => r.received.length === expectedPerReplica), "every message");
    for (const r of replicas) {
      const key = (m: Message): string => `${m.from}/${m.type}`;
      const got = [...r.received].sort((a, b) => key(a).localeCompare(key(b)));
      const want = sent.filter((m) => m.to === r.id).sort((a, b) => key(a).localeCompare(key(b)));
      expect(got).toStrictEqual(want);
    }
    await waitFor(() => replicas.every((r) => r.snapshotStatus.length === count - 1), "snapshot statuses");
    for (const r of replicas) expect(r.snapshotStatus.every(([, ok]) => ok)).toBe(true);
  });

  it("batches everything queued in one turn and delivers many messages in order", async () => {
    const [a, b] = await startCluster(["a", "b"]);
    a.transport.send([heartbeat("a", "b", 1)]);
    await waitFor(
      () => b.received.length === 1 && a.transport.peerStats("b")?.state === "connected",
      "the first message",
    );
    const before = a.transport.peerStats("b")!.batchesSent;
    for (let i = 0; i < 300; i++) a.transport.send([heartbeat("a", "b", 2 + i)]);
    await waitFor(() => b.received.length === 301, "300 messages sent one by one in one turn");
    expect(a.transport.peerStats("b")!.batchesSent - before).toBe(1);

    // Many turns, many messages: order holds end to end.
    const total = 50_000;
    let term = 1000;
    for (let turn = 0; turn < 50; turn++) {
      a.transport.send(Array.from({ length: total / 50 }, () => heartbeat("a", "b", term++)));
      await new Promise((resolve) => setImmediate(resolve));
    }
    await waitFor(() => b.received.length === 301 + total, "all batched messages", 30_000);
    const terms = b.received.slice(301).map((m) => m.term);
    expect(terms).toEqual(Array.from({ length: total }, (_, i) => 1000 + i));
    expect(a.transport.peerStats("b")!.messagesDropped).toBe(0);
    await waitFor(() => a.roundTripsSeconds.length > 0, "a round-trip sample");
    expect(a.roundTripsSeconds.every((s) => s > 0 && s < 5)).toBe(true);
  });

  it("streams a 10 MiB snapshot in chunks while heartbeats keep flowing", async () => {
    const [a, b] = await startCluster(["a", "b"]);
    a.transport.send([heartbeat("a", "b", 1)]);
    await waitFor(() => b.received.length === 1, "the first heartbeat");
    const data = randomBytes(10 * 1024 * 1024);
    const snapshot = message({
      type: "snapshot",
      from: "a",
      to: "b",
      term: 3,
      snapshot: { meta: { index: 5000, term: 3, conf: { voters: ["a", "b"], learners: [] } }, data },
    });
    let term = 2;
    const beat = setInterval(() => a.transport.send([heartbeat("a", "b", term++)]), 2);
    try {
      const startedMs = performance.now();
      a.transport.send([snapshot]);
      await waitFor(() => b.received.some((m) => m.type === "snapshot"), "the snapshot", 30_000);
      const arrivedMs = b.receivedAtMs[b.received.findIndex((m) => m.type === "snapshot")];
      await waitFor(() => a.snapshotStatus.length === 1, "the snapshot status");
      expect(a.snapshotStatus).toEqual([["b", true]]);
      const got = b.received.find((m) => m.type === "snapshot")!;
      expect(got.snapshot!.meta).toEqual(snapshot.snapshot!.meta);
      expect(Buffer.compare(Buffer.from(got.snapshot!.data), data)).toBe(0);
      // Heartbeats keep arriving during the transfer and after it, without a long gap.
      const until = performance.now();
      await waitFor(() => b.receivedAtMs.at(-1)! > until, "a heartbeat after the snapshot");
      const beats = b.received.flatMap((m, i) =>
        m.type === "heartbeat" && b.receivedAtMs[i] >= startedMs ? [b.receivedAtMs[i]] : [],
      );
      const gaps = [beats[0] - startedMs, ...beats.slice(1).map((t, i) => t - beats[i])];
      console.log(
        `10 MiB snapshot: ${(arrivedMs - startedMs).toFixed(1)} ms; ${beats.length} heartbeats meanwhile and after, longest gap ${Math.max(...gaps).toFixed(1)} ms`,
      );
      expect(Math.max(...gaps)).toBeLessThan(500);
    } finally {
      clearInterval(beat);
    }
  });

  it("fails an in-flight snapshot when its peer moves, and a snapshot to a dead peer", async () => {
    const [a, b] = await startCluster(["a", "b"]);
    const big = message({
      type: "snapshot",
      from: "a",
      to: "b",
      term: 1,
      snapshot: {
        meta: { index: 1, term: 1, conf: { voters: ["a", "b"], learners: [] } },
        data: new Uint8Array(64 * 1024 * 1024),
      },
    });
    a.transport.send([big]);
    a.transport.setPeers(new Map([["b", `127.0.0.1:${await freePort()}`]]));
    await waitFor(() => a.snapshotStatus.length === 1, "the cancelled snapshot's status");
    expect(a.snapshotStatus).toEqual([["b", false]]);
    a.transport.send([sample("snapshot", "a", "b")]);
    await waitFor(() => a.snapshotStatus.length === 2, "the dead peer's snapshot status");
    expect(a.snapshotStatus[1]).toEqual(["b", false]);
    expect(b.received.filter((m) => m.type === "snapshot")).toEqual([]);
  });

  it("reports a lost peer at once when it stops, and reconnects when it returns on the same port", async () => {
    const limits = { reconnectDelayMsMax: 200 };
    const [a, b] = await startCluster(["a", "b"], limits);
    // b acts as a leader: heartbeats to a, and a answers, so both directions are connected.
    a.onMessage = (m) => a.transport.send([message({ type: "heartbeat-resp", from: "a", to: "b", term: m.term })]);
    b.transport.send([heartbeat("b", "a", 1)]);
    await waitFor(() => b.received.length === 1, "a's answer");
    await waitFor(() => a.transport.peerStats("b")?.state === "connected", "a's stream to b");
    const port = b.transport.port();
    const stoppedMs = performance.now();
    await b.transport.stop();
    await waitFor(() => a.lost.some((l) => l.peer === "b"), "a noticing b's loss", 5_000);
    const noticedMs = Math.min(...a.lost.filter((l) => l.peer === "b").map((l) => l.atMs));
    console.log(`connection loss noticed ${(noticedMs - stoppedMs).toFixed(1)} ms after stop`);
    expect(noticedMs - stoppedMs).toBeLessThan(1000);

    // Sending to the dead peer reports it unreachable.
    a.transport.send([heartbeat("a", "b", 2)]);
    await waitFor(() => a.unreachable.includes("b"), "b unreachable");

    // b returns on the same port: a's stream reconnects by itself and messages flow again.
    const returnedMs = performance.now();
    const b2 = await startReplica("b", { port, limits, peers: new Map([["a", a.transport.address()]]) });
    await waitFor(() => a.transport.peerStats("b")?.state === "connected", "a reconnecting to b", 10_000);
    console.log(`reconnected ${(performance.now() - returnedMs).toFixed(1)} ms after the peer came back`);
    a.transport.send([heartbeat("a", "b", 3)]);
    await waitFor(() => b2.received.some((m) => m.term === 3), "a message to the returned b");
    b2.transport.send([heartbeat("b", "a", 4)]);
    await waitFor(() => a.received.some((m) => m.term === 4), "a message from the returned b");
  });

  it("keeps a stream to every peer connected without sending, across the peer's restart", async () => {
    const [a, b] = await startCluster(["a", "b"]);
    await waitFor(() => a.transport.peerStats("b")?.state === "connected", "a's stream to b, nothing sent");
    expect(a.transport.peerStats("b")?.batchesSent).toBe(0);
    const port = b.transport.port();
    await b.transport.stop();
    await waitFor(() => a.transport.peerStats("b")?.state === "backoff", "a's stream to b broken");
    await startReplica("b", { port, peers: new Map([["a", a.transport.address()]]) });
    // Reconnected by itself, before anything needs to go to b (a vote, after a leader died).
    await waitFor(() => a.transport.peerStats("b")?.state === "connected", "a's stream to the returned b", 5_000);
    expect(a.transport.peerStats("b")?.batchesSent).toBe(0);
  });

  it("notices a peer whose incoming stream is reset even if we never sent to it", async () => {
    const [a, b] = await startCluster(["a", "b"]);
    b.transport.send([heartbeat("b", "a", 1)]);
    await waitFor(() => a.received.length === 1, "b's heartbeat");
    // a's own stream to b is open (streams to every peer open at start) but carried nothing.
    expect(a.transport.peerStats("b")?.batchesSent ?? 0).toBe(0);
    await b.transport.stop();
    await waitFor(() => a.lost.some((l) => l.peer === "b"), "a noticing b's loss from the incoming stream", 5_000);
  });

  it("keeps a dead peer's queue bounded and reports it unreachable", async () => {
    const deadPort = await freePort();
    const limits = {
      queueMessagesMax: 100,
      queueBytesMax: 1024 * 1024,
      batchMessagesMax: 50,
      batchBytesMax: 512 * 1024,
    };
    const a = await startReplica("a", { limits, peers: new Map([["dead", `127.0.0.1:${deadPort}`]]) });
    const payload = new Uint8Array(10 * 1024);
    let index = 0;
    const turns = 200;
    for (let turn = 0; turn < turns; turn++) {
      a.transport.send(
        Array.from({ length: 100 }, () =>
          message({
            type: "append",
            from: "a",
            to: "dead",
            term: 1,
            entries: [{ term: 1, index: ++index, type: "normal", data: payload }],
          }),
        ),
      );
      await new Promise((resolve) => setImmediate(resolve));
      const stats = a.transport.peerStats("dead")!;
      expect(stats.queuedMessages).toBeLessThanOrEqual(limits.queueMessagesMax);
      expect(stats.queuedBytes).toBeLessThanOrEqual(limits.queueBytesMax);
    }
    await waitFor(() => a.unreachable.length > 0, "unreachable reports");
    const stats = a.transport.peerStats("dead")!;
    expect(stats.messagesDropped).toBeGreaterThan(0);
    expect(stats.messagesSent + stats.messagesDropped + stats.queuedMessages).toBe(turns * 100);
    expect(a.unreachable.every((p) => p === "dead")).toBe(true);
    // Coalesced: at most about one report per turn, not one per message.
    expect(a.unreachable.length).toBeLessThanOrEqual(turns + 50);
  });

  it("fails clearly when its port is taken", async () => {
    const a = await startReplica("a");
    const clash = new GrpcTransport({
      id: "b",
      listenAddress: a.transport.address(),
      peers: new Map(),
      handlers: {
        onMessage: () => undefined,
        onPeerConnectionLost: () => undefined,
        onUnreachable: () => undefined,
        onSnapshotStatus: () => undefined,
      },
    });
    await expect(clash.start()).rejects.toThrow(new RegExp(`cannot listen on ${a.transport.address()}.*EADDRINUSE`));
  });

  it("drops messages from unknown peers and malformed ones, and keeps the stream", async () => {
    const [a, b] = await startCluster(["a", "b"]);
    // "c" is not among a's peers.
    const c = await startReplica("c", { peers: new Map([["a", a.transport.address()]]) });
    c.transport.send([heartbeat("c", "a", 1)]);
    // A hand-made client sends junk and then one good message on the same stream.
    const client = new RaftTransportServiceClient(a.transport.address(), credentials.createInsecure());
    const metadata = new Metadata();
    metadata.set("raft-from", "b");
    const call = client.stream(metadata);
    const acks: number[] = [];
    call.on("data", (response: { batches: number }) => acks.push(response.batches));
    call.on("error", () => undefined);
    const good = encodeMessage(heartbeat("b", "a", 42));
    call.write({
      messages: [
        { ...good, type: ProtoMessageType.MESSAGE_TYPE_SNAPSHOT_STATUS },
        { ...good, to: "zz" },
        { ...good, from: "c" },
        { ...good, type: 77 as ProtoMessageType },
        encodeMessage(sample("snapshot", "b", "a")),
        good,
      ],
      ackRequested: false,
    });
    // A batch that asks for an answer gets one covering both batches.
    call.write({ messages: [], ackRequested: true });
    await waitFor(() => a.received.some((m) => m.term === 42), "the good message");
    await waitFor(() => acks.length === 1, "the ack");
    expect(acks).toEqual([2]);
    b.transport.send([heartbeat("b", "a", 43)]);
    await waitFor(() => a.received.some((m) => m.term === 43), "b's own stream still working");
    expect(a.received.map((m) => [m.from, m.term])).toEqual([
      ["b", 42],
      ["b", 43],
    ]);
    call.cancel();
    client.close();
  });

  it("closes streams to removed peers and stops promptly", async () => {
    const [a, b] = await startCluster(["a", "b"]);
    a.transport.send([heartbeat("a", "b", 1)]);
    await waitFor(() => b.received.length === 1, "the first heartbeat");
    a.transport.setPeers(new Map());
    expect(a.transport.peerStats("b")).toBeNull();
    a.transport.send([heartbeat("a", "b", 2)]);
    await waitFor(() => a.unreachable.includes("b"), "unknown peer reported unreachable");
    a.transport.send([sample("snapshot", "a", "b")]);
    await waitFor(() => a.snapshotStatus.length === 1, "a failed snapshot status");
    expect(a.snapshotStatus).toEqual([["b", false]]);
    await waitFor(() => b.lost.some((l) => l.peer === "a"), "b seeing a's stream end");
    const startedMs = performance.now();
    await Promise.all([a.transport.stop(), b.transport.stop()]);
    expect(performance.now() - startedMs).toBeLessThan(1000);
    a.transport.send([heartbeat("a", "b", 3)]); // after stop: ignored, no throw
  });
});
