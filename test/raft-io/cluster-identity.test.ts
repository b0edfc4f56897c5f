import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ClassicLevel } from "classic-level";
import { afterEach, describe, expect, it } from "vitest";
import { createLogger } from "../../src/lib/logger.js";
import { message, type Message, type ReplicaId } from "../../src/raft/core/types.js";
import { foundingClusterId, randomClusterId, restoredClusterId } from "../../src/raft/io/cluster-id.js";
import { GrpcTransport } from "../../src/raft/io/grpc-transport.js";
import { ClusterIdMismatchError, LevelDbLogStore, LOG_DIR_NAME } from "../../src/raft/io/leveldb-log-store.js";
import { META_KEYS } from "../../src/raft/io/log-store-codec.js";

const R123 = { voters: ["r1", "r2", "r3"], learners: [] };
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "cluster-identity-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe("the cluster id in the store", () => {
  it("founding replicas derive one id from the voter ids alone; restores and tokens give others", () => {
    const founding = foundingClusterId(["r3", "r1", "r2"]);
    expect(founding).toBe(foundingClusterId(["r1", "r2", "r3"]));
    expect(founding).toMatch(/^[0-9a-f]{32}$/);
    expect(foundingClusterId(["r1", "r2", "r3"], "blue")).not.toBe(founding);
    expect(restoredClusterId("abc", ["r1", "r2", "r3"])).not.toBe(founding);
    expect(restoredClusterId("abc", ["r1", "r2", "r3"])).not.toBe(restoredClusterId("abd", ["r1", "r2", "r3"]));
    expect(randomClusterId()).not.toBe(randomClusterId());
  });

  it("keeps the id a store was created with, and refuses to open it as another cluster's", async () => {
    const dir = tempDir();
    const told = randomClusterId();
    const store = await LevelDbLogStore.open(dir, { initialConf: { voters: [], learners: [] }, clusterId: told });
    expect(store.clusterId).toBe(told);
    await store.close();
    const again = await LevelDbLogStore.open(dir, { initialConf: R123, foundingClusterId: foundingClusterId(["x"]) });
    expect(again.clusterId).toBe(told);
    await again.close();
    await expect(LevelDbLogStore.open(dir, { initialConf: R123, clusterId: randomClusterId() })).rejects.toBeInstanceOf(
      ClusterIdMismatchError,
    );
  });

  it("gives a store from before identities the founding id, and keeps it", async () => {
    const dir = tempDir();
    const store = await LevelDbLogStore.open(dir, {
      initialConf: R123,
      foundingClusterId: foundingClusterId(R123.voters),
    });
    await store.close();
    const db = new ClassicLevel<Buffer, Buffer>(join(dir, LOG_DIR_NAME), {
      keyEncoding: "buffer",
      valueEncoding: "buffer",
    });
    await db.del(META_KEYS.clusterId);
    await db.close();
    const token = foundingClusterId(R123.voters, "t");
    const legacy = await LevelDbLogStore.open(dir, { initialConf: R123, foundingClusterId: token });
    expect(legacy.clusterId).toBe(token);
    await legacy.close();
    const reopened = await LevelDbLogStore.open(dir, { initialConf: R123 });
    expect(reopened.clusterId).toBe(token);
    await reopened.close();
  });
});

describe("the transport and the cluster id", () => {
  async function start(id: ReplicaId, clusterId: string | undefined, received: Message[]): Promise<GrpcTransport> {
    const transport = new GrpcTransport({
      id,
      listenAddress: "127.0.0.1:0",
      peers: new Map(),
      logger: createLogger({ replica: id }, "silent"),
      ...(clusterId !== undefined ? { clusterId } : {}),
      handlers: {
        onMessage: (m) => received.push(m),
        onPeerConnectionLost: () => undefined,
        onUnreachable: () => undefined,
        onSnapshotStatus: () => undefined,
      },
    });
    await transport.start();
    cleanups.push(() => transport.stop());
    return transport;
  }

  async function exchange(
    a: string | undefined,
    b: string | undefined,
  ): Promise<{ delivered: boolean; refused: number }> {
    const received: Message[] = [];
    const receiver = await start("r1", a, received);
    const sender = await start("r2", b, []);
    const peers = new Map([
      ["r1", receiver.address()],
      ["r2", sender.address()],
    ]);
    receiver.setPeers(peers);
    sender.setPeers(peers);
    const deadline = performance.now() + 3_000;
    while (received.length === 0 && performance.now() < deadline) {
      sender.send([message({ type: "heartbeat", from: "r2", to: "r1", term: 1, commit: 0 })]);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return { delivered: received.length > 0, refused: receiver.rejectedCounts().get("cluster_id") ?? 0 };
  }

  it("delivers between replicas of one cluster", async () => {
    const id = randomClusterId();
    expect(await exchange(id, id)).toEqual({ delivered: true, refused: 0 });
  });

  it("refuses and counts a stream from another cluster", async () => {
    const outcome = await exchange(randomClusterId(), randomClusterId());
    expect(outcome.delivered).toBe(false);
    expect(outcome.refused).toBeGreaterThan(0);
  });

  it("lets a peer from before identities through (a rolling upgrade keeps its quorum)", async () => {
    expect(await exchange(randomClusterId(), undefined)).toEqual({ delivered: true, refused: 0 });
  });
});
