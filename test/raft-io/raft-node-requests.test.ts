import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createLogger } from "../../src/lib/logger.js";
import type { RaftConfig } from "../../src/raft/core/config.js";
import type { ReplicaId } from "../../src/raft/core/types.js";
import { RaftError } from "../../src/raft/io/raft-error.js";
import { RaftNode, type StateMachine } from "../../src/raft/io/raft-node.js";
import { freePort } from "../../dev/local-cluster/free-port.js";
import { LinkProxy } from "./link-proxy.js";

// The pending-requests registry on a real trio: three RaftNodes in this process, real gRPC on
// 127.0.0.1 with kernel-picked ports, real LevelDB in temp dirs. Every replica-to-replica link
// goes through its own LinkProxy, so a test can lose the messages on one link (a follower's
// link to the leader) without resetting any connection, as a partition does. No sleeps as
// synchronisation: waits are for conditions, with generous deadlines.

/** A counter: enough state for writes to commit and reads to wait for them. */
class Counter implements StateMachine {
  value = 0;
  apply(): unknown {
    return ++this.value;
  }
  snapshot(): Uint8Array {
    return new TextEncoder().encode(String(this.value));
  }
  restore(data: Uint8Array): void {
    this.value = Number(new TextDecoder().decode(data));
  }
}

interface Trio {
  readonly nodes: Map<ReplicaId, RaftNode>;
  /** links.get(from).get(to): the relay `from` sends to `to` through. */
  readonly links: Map<ReplicaId, Map<ReplicaId, LinkProxy>>;
}

const ids = ["a", "b", "c"];
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startTrio(options: { readTimeoutMs: number; raft?: Partial<RaftConfig> }): Promise<Trio> {
  const dataRoot = mkdtempSync(join(tmpdir(), "raft-node-requests-"));
  cleanups.push(async () => rmSync(dataRoot, { recursive: true, force: true }));
  const raftAddress = new Map<ReplicaId, string>();
  for (const id of ids) raftAddress.set(id, `127.0.0.1:${await freePort()}`);
  const links = new Map<ReplicaId, Map<ReplicaId, LinkProxy>>();
  for (const from of ids) {
    const out = new Map<ReplicaId, LinkProxy>();
    for (const to of ids) if (to !== from) out.set(to, await LinkProxy.start(raftAddress.get(to)!));
    links.set(from, out);
    cleanups.push(async () => {
      for (const proxy of out.values()) await proxy.close();
    });
  }
  const nodes = new Map<ReplicaId, RaftNode>();
  for (const id of ids) {
    const peers = new Map<ReplicaId, string>();
    for (const other of ids) peers.set(other, other === id ? raftAddress.get(id)! : links.get(id)!.get(other)!.address);
    const node = await RaftNode.open({
      id,
      peers,
      dataDir: join(dataRoot, id),
      logger: createLogger({ replica: id }, process.env["LOG_LEVEL"] ?? "silent"),
      stateMachine: new Counter(),
      readTimeoutMs: options.readTimeoutMs,
      ...(options.raft !== undefined ? { raft: options.raft } : {}),
    });
    nodes.set(id, node);
    cleanups.push(() => node.stop());
  }
  for (const node of nodes.values()) await node.start();
  return { nodes, links };
}

async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The leader every replica agrees on, and one of its followers. */
async function settled(trio: Trio): Promise<{ leader: RaftNode; follower: RaftNode }> {
  return waitFor("a leader all replicas know", () => {
    const leaders = [...trio.nodes.values()].filter((n) => n.isLeader());
    if (leaders.length !== 1) return undefined;
    const leader = leaders[0];
    const followers = [...trio.nodes.values()].filter((n) => n !== leader);
    if (!followers.every((f) => f.leaderId() === leader.id && f.isCaughtUp())) return undefined;
    return { leader, follower: followers[0] };
  });
}

/** What a promise settled with, or "pending" if it has not settled within `ms`. */
async function outcomeWithin(promise: Promise<void>, ms: number): Promise<"resolved" | "pending" | unknown> {
  let timer: NodeJS.Timeout | undefined;
  const pending = new Promise<"pending">((resolve) => (timer = setTimeout(() => resolve("pending"), ms)));
  try {
    return await Promise.race([promise.then(() => "resolved" as const), pending]);
  } catch (error) {
    return error;
  } finally {
    clearTimeout(timer);
  }
}

describe("RaftNode's pending reads", () => {
  it("asks the leader again for a forwarded read whose ReadIndex message was lost, once the link heals", async () => {
    // Lease reads: a follower keeps its leader when its own connection to the leader breaks (in
    // safe mode it would forget the leader and fail the read at once, see the next test), so
    // the lost ReadIndex message is the only thing in the read's way. The read timeout is long:
    // without the re-send, the read could only end by timing out.
    const trio = await startTrio({ readTimeoutMs: 20_000, raft: { readOnly: "lease" } });
    const { leader, follower } = await settled(trio);
    await leader.propose(new Uint8Array([1]));
    const link = trio.links.get(follower.id)!.get(leader.id)!;
    link.blackhole();
    const read = follower.linearizableRead();
    // Long enough for the first request and at least one re-send (every 500 ms) to be lost too.
    expect(await outcomeWithin(read, 1_500)).toBe("pending");
    expect(follower.pendingReads().unconfirmed).toBe(1);
    link.heal();
    expect(await outcomeWithin(read, 10_000)).toBe("resolved");
    expect(follower.pendingReads()).toEqual({ unconfirmed: 0, confirmed: 0 });
    expect(follower.leaderId()).toBe(leader.id);
  });

  it("fails a follower's forwarded read at once with lost-leader when the follower loses its leader", async () => {
    const trio = await startTrio({ readTimeoutMs: 30_000 });
    const { leader, follower } = await settled(trio);
    trio.links.get(follower.id)!.get(leader.id)!.blackhole();
    const read = follower.linearizableRead();
    expect(await outcomeWithin(read, 300)).toBe("pending");
    // A crash as the follower sees it: the leader's connections close.
    await leader.stop();
    // Well inside the read timeout: the failure comes from losing the leader, not from the clock.
    const outcome = await outcomeWithin(read, 10_000);
    expect(outcome).toBeInstanceOf(RaftError);
    expect((outcome as RaftError).reason).toEqual({ kind: "lost-leader" });
    expect(follower.pendingReads()).toEqual({ unconfirmed: 0, confirmed: 0 });
  });

  it("answers reads on the leader and on followers while the links are healthy", async () => {
    const trio = await startTrio({ readTimeoutMs: 5_000 });
    const { leader, follower } = await settled(trio);
    await leader.propose(new Uint8Array([1]));
    await Promise.all([leader.linearizableRead(), follower.linearizableRead(), follower.linearizableRead()]);
    expect(follower.pendingReads()).toEqual({ unconfirmed: 0, confirmed: 0 });
    const refused = await leader.propose(new Uint8Array([2])).then(
      () => null,
      (error: unknown) => error,
    );
    expect(refused).toBeNull();
    const notLeader = await follower.propose(new Uint8Array([3])).then(
      () => null,
      (error: unknown) => error,
    );
    expect(notLeader).toBeInstanceOf(RaftError);
    expect((notLeader as RaftError).reason).toEqual({ kind: "not-leader", leaderId: leader.id });
  });
});
