import { describe, expect, it } from "vitest";
import { Prng } from "../../src/lib/prng.js";
import { raftConfig } from "../../src/raft/core/config.js";
import { MemoryLogStorage } from "../../src/raft/core/log-storage.js";
import { RawNode } from "../../src/raft/core/raw-node.js";
import type { Entry, Message } from "../../src/raft/core/types.js";

/** A lossless, instant in-memory cluster: the smallest thing that exercises the core end to end. */
class TinyCluster {
  readonly nodes = new Map<string, RawNode>();
  readonly disks = new Map<string, MemoryLogStorage>();
  readonly applied = new Map<string, Entry[]>();
  private inFlight: Message[] = [];

  constructor(ids: string[], seed: number, lazyCommitBroadcast = false) {
    const prng = new Prng(seed);
    for (const id of ids) {
      const disk = new MemoryLogStorage({ voters: ids, learners: [] });
      this.disks.set(id, disk);
      this.nodes.set(id, new RawNode(raftConfig({ id, random: prng.fork(), lazyCommitBroadcast }), disk));
      this.applied.set(id, []);
    }
  }

  /** Handles every Ready and delivers every message until nothing moves. */
  settle(): void {
    for (let round = 0; round < 10_000; round++) {
      let moved = false;
      for (const [id, node] of this.nodes) {
        if (!node.hasReady()) continue;
        moved = true;
        const rd = node.ready();
        const disk = this.disks.get(id)!;
        if (rd.snapshot !== null) disk.applySnapshot(rd.snapshot);
        disk.append(rd.entries);
        if (rd.hardState !== null) disk.setHardState(rd.hardState);
        this.inFlight.push(...rd.messages);
        this.applied.get(id)!.push(...rd.committedEntries);
        node.advance(rd);
        node.checkInvariants();
      }
      const batch = this.inFlight;
      this.inFlight = [];
      for (const m of batch) {
        moved = true;
        this.nodes.get(m.to)?.step(m);
      }
      if (!moved) return;
    }
    throw new Error("cluster did not settle");
  }

  tickAll(ticks: number): void {
    for (let i = 0; i < ticks; i++) {
      for (const node of this.nodes.values()) node.tick();
      this.settle();
    }
  }

  leader(): string | undefined {
    for (const [id, node] of this.nodes) if (node.status().role === "leader") return id;
    return undefined;
  }
}

describe("raft core smoke", () => {
  it("elects a leader and commits proposals on every replica", () => {
    const cluster = new TinyCluster(["r1", "r2", "r3"], 7);
    cluster.tickAll(200);
    const leader = cluster.leader();
    expect(leader).toBeDefined();
    const node = cluster.nodes.get(leader!)!;
    for (let i = 0; i < 100; i++) {
      const result = node.propose(new TextEncoder().encode(`cmd-${i}`));
      expect(result.ok).toBe(true);
    }
    cluster.settle();
    cluster.tickAll(10);
    for (const [id, entries] of cluster.applied) {
      const commands = entries.filter((e) => e.data.byteLength > 0).map((e) => new TextDecoder().decode(e.data));
      expect(commands, id).toHaveLength(100);
      expect(commands[99]).toBe("cmd-99");
    }
  });

  it("with a lazy commit broadcast, followers learn the commit index from the next heartbeat", () => {
    const cluster = new TinyCluster(["r1", "r2", "r3"], 11, true);
    cluster.tickAll(200);
    const leader = cluster.leader()!;
    const node = cluster.nodes.get(leader)!;
    const commands = (id: string) => cluster.applied.get(id)!.filter((e) => e.data.byteLength > 0).length;
    expect(node.propose(new TextEncoder().encode("cmd")).ok).toBe(true);
    cluster.settle();
    // Committed and applied on the leader; no empty append told the followers yet.
    expect(commands(leader)).toBe(1);
    const followers = [...cluster.nodes.keys()].filter((id) => id !== leader);
    for (const id of followers) expect(commands(id), id).toBe(0);
    cluster.tickAll(5);
    for (const id of followers) expect(commands(id), id).toBe(1);
  });
});
