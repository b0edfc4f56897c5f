import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { message, type Message, type ReplicaId } from "../../src/raft/core/types.js";
import { GrpcTransport, type TransportHandlers } from "../../src/raft/io/grpc-transport.js";

// Figures for the report: latency of one small message from send() to onMessage on loopback,
// and throughput with batches. Both transports share this process (and its event loop), so
// these are upper bounds on what two processes would see. The assertions are loose sanity
// checks; the printed numbers are the result.

interface Endpoint {
  readonly transport: GrpcTransport;
  onMessage: (m: Message) => void;
}

function endpoint(id: ReplicaId): Endpoint {
  const ep: Endpoint = {
    transport: undefined as unknown as GrpcTransport,
    onMessage: () => undefined,
  };
  const handlers: TransportHandlers = {
    onMessage: (m) => ep.onMessage(m),
    onPeerConnectionLost: () => undefined,
    onUnreachable: () => undefined,
    onSnapshotStatus: () => undefined,
  };
  (ep as { transport: GrpcTransport }).transport = new GrpcTransport({
    id,
    listenAddress: "127.0.0.1:0",
    peers: new Map(),
    handlers,
  });
  return ep;
}

function percentile(sortedMs: number[], p: number): number {
  return sortedMs[Math.min(sortedMs.length - 1, Math.floor((p / 100) * sortedMs.length))];
}

const summary = (samplesMs: number[]): string => {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  return `p50 ${percentile(sorted, 50).toFixed(3)} ms, p99 ${percentile(sorted, 99).toFixed(3)} ms, max ${sorted.at(-1)!.toFixed(3)} ms`;
};

describe("GrpcTransport on loopback (measurements)", () => {
  let a: Endpoint;
  let b: Endpoint;

  beforeAll(async () => {
    a = endpoint("a");
    b = endpoint("b");
    await Promise.all([a.transport.start(), b.transport.start()]);
    a.transport.setPeers(new Map([["b", b.transport.address()]]));
    b.transport.setPeers(new Map([["a", a.transport.address()]]));
  });

  afterAll(async () => {
    await Promise.all([a.transport.stop(), b.transport.stop()]);
  });

  it("one small message, send() to onMessage: sequential ping-pong", async () => {
    const warmup = 200;
    const rounds = 1000;
    const oneWayMs: number[] = [];
    const roundTripMs: number[] = [];
    let sentAtMs = 0;
    let pingAtMs = 0;
    await new Promise<void>((resolve) => {
      let round = 0;
      const ping = (): void => {
        pingAtMs = performance.now();
        sentAtMs = pingAtMs;
        a.transport.send([message({ type: "heartbeat", from: "a", to: "b", term: 1, commit: round })]);
      };
      b.onMessage = (m) => {
        if (round >= warmup) oneWayMs.push(performance.now() - sentAtMs);
        sentAtMs = performance.now();
        b.transport.send([message({ type: "heartbeat-resp", from: "b", to: "a", term: 1, commit: m.commit })]);
      };
      a.onMessage = () => {
        const nowMs = performance.now();
        if (round >= warmup) {
          oneWayMs.push(nowMs - sentAtMs);
          roundTripMs.push(nowMs - pingAtMs);
        }
        round++;
        if (round < warmup + rounds) ping();
        else resolve();
      };
      ping();
    });
    console.log(`one-way latency over ${oneWayMs.length} messages: ${summary(oneWayMs)}`);
    console.log(`round trip over ${roundTripMs.length} ping-pongs: ${summary(roundTripMs)}`);
    const sorted = [...oneWayMs].sort((x, y) => x - y);
    expect(percentile(sorted, 50)).toBeLessThan(20);
  });

  async function pump(total: number, perTurn: number, make: (i: number) => Message): Promise<number> {
    let received = 0;
    b.onMessage = () => received++;
    const windowMessages = 3000; // below the send queue's bound: nothing is dropped
    const startedMs = performance.now();
    let sent = 0;
    while (received < total) {
      while (sent < total && sent - received < windowMessages) {
        const n = Math.min(perTurn, total - sent);
        a.transport.send(Array.from({ length: n }, (_, k) => make(sent + k)));
        sent += n;
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    return performance.now() - startedMs;
  }

  it("throughput with batches", async () => {
    const small = 200_000;
    const smallMs = await pump(small, 1000, (i) =>
      message({ type: "heartbeat", from: "a", to: "b", term: 1, commit: i }),
    );
    console.log(
      `small messages: ${small} in ${smallMs.toFixed(0)} ms = ${Math.round(small / (smallMs / 1000))} messages/s`,
    );

    const entryBytes = 1024;
    const data = new Uint8Array(entryBytes);
    const appends = 50_000;
    const appendMs = await pump(appends, 500, (i) =>
      message({
        type: "append",
        from: "a",
        to: "b",
        term: 1,
        logIndex: i,
        logTerm: 1,
        entries: [{ term: 1, index: i + 1, type: "normal", data }],
      }),
    );
    const mib = (appends * entryBytes) / (1024 * 1024);
    console.log(
      `appends with one 1 KiB entry: ${appends} in ${appendMs.toFixed(0)} ms = ${Math.round(appends / (appendMs / 1000))} messages/s, ${(mib / (appendMs / 1000)).toFixed(1)} MiB/s`,
    );
    const stats = a.transport.peerStats("b")!;
    console.log(
      `batches sent ${stats.batchesSent}, messages ${stats.messagesSent}: ${(stats.messagesSent / stats.batchesSent).toFixed(1)} messages per batch`,
    );
    expect(stats.messagesDropped).toBe(0);
  });
});
