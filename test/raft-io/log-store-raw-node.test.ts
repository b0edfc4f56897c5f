import { afterEach, describe, expect, it } from "vitest";
import { Prng } from "../../src/lib/prng.js";
import { raftConfig } from "../../src/raft/core/config.js";
import { RawNode } from "../../src/raft/core/raw-node.js";
import { decodeConfChange } from "../../src/raft/core/conf-change-codec.js";
import type { ConfState, Entry, Message, ReplicaId } from "../../src/raft/core/types.js";
import type { LevelDbLogStore } from "../../src/raft/io/leveldb-log-store.js";
import { CONF_R1, CONF_R123, TempDirs, openStore, text } from "./log-store-helpers.js";

/** The real core on the real store: persist every Ready, restart, and compare what is re-delivered. */

const dirs = new TempDirs();
afterEach(() => dirs.cleanup());

/** A replica joining an existing cluster: its store is created without voters. */
const JOINER_CONF: ConfState = { voters: [], learners: [] };

/** Handles Readies in the documented order (persist, send, apply, advance) until none is left. */
async function drive(node: RawNode, store: LevelDbLogStore, applied: Entry[], sent: Message[] = []): Promise<void> {
  while (node.hasReady()) {
    const rd = node.ready();
    await store.persist(rd);
    sent.push(...rd.messages);
    applied.push(...rd.committedEntries);
    node.advance(rd);
    node.checkInvariants();
  }
}

async function becomeLeader(node: RawNode, store: LevelDbLogStore, applied: Entry[]): Promise<void> {
  for (let tick = 0; tick < 500 && node.status().role !== "leader"; tick++) {
    node.tick();
    await drive(node, store, applied);
  }
  expect(node.status().role).toBe("leader");
}

async function propose(node: RawNode, store: LevelDbLogStore, applied: Entry[], commands: string[]): Promise<void> {
  for (const command of commands) expect(node.propose(new TextEncoder().encode(command)).ok).toBe(true);
  await drive(node, store, applied);
}

function commands(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
}

/** The application's commands among applied entries (not the leader's empty entries, not conf changes). */
function commandsIn(entries: readonly Entry[]): string[] {
  return entries.filter((e) => e.type === "normal" && e.data.byteLength > 0).map(text);
}

function confChanges(entries: readonly Entry[]): unknown[] {
  return entries
    .filter((e) => e.type === "conf-change")
    .map((e) => ({ index: e.index, term: e.term, change: decodeConfChange(e.data) }));
}

interface Replica {
  readonly id: ReplicaId;
  readonly node: RawNode;
  readonly store: LevelDbLogStore;
  readonly applied: Entry[];
}

/** Handles every replica's Readies and delivers the messages between them until the cluster is quiet. */
async function settle(replicas: readonly Replica[]): Promise<void> {
  for (let round = 0; round < 1000; round++) {
    const sent: Message[] = [];
    for (const r of replicas) await drive(r.node, r.store, r.applied, sent);
    if (sent.length === 0) return;
    for (const m of sent) replicas.find((r) => r.id === m.to)?.node.step(m);
  }
  throw new Error("the cluster did not settle");
}

/** Ticks the leader (heartbeats carry the commit index and probe lagging replicas) until `done`. */
async function runUntil(leader: Replica, replicas: readonly Replica[], done: () => boolean): Promise<void> {
  for (let tick = 0; tick < 500 && !done(); tick++) {
    leader.node.tick();
    await settle(replicas);
  }
  expect(done()).toBe(true);
}

/** Ticks one replica, cut off from the others, for `ticks` ticks; returns what it tried to send. */
async function tickIsolated(r: Replica, ticks: number): Promise<Message[]> {
  const sent: Message[] = [];
  for (let tick = 0; tick < ticks; tick++) {
    r.node.tick();
    await drive(r.node, r.store, r.applied, sent);
  }
  return sent;
}

function comparable(entries: readonly Entry[]): unknown[] {
  return entries.map((e) => ({ index: e.index, term: e.term, type: e.type, data: text(e) }));
}

describe("LevelDbLogStore with the real Raft core", () => {
  it("re-delivers the same committed entries after a restart", async () => {
    const dir = await dirs.make();
    const store = await openStore(dir, { initialConf: CONF_R1 });
    const node = new RawNode(raftConfig({ id: "r1", random: new Prng(42) }), store.storage);
    // The membership is in the log, not the snapshot: the core learns it from the first Ready.
    expect(node.status()).toMatchObject({ term: 1, commit: 1, applied: 0, conf: JOINER_CONF });
    const applied: Entry[] = [];
    await drive(node, store, applied);
    expect(confChanges(applied)).toEqual([{ index: 1, term: 1, change: { type: "add-voter", replica: "r1" } }]);
    expect(node.status()).toMatchObject({ applied: 1, conf: CONF_R1 });
    await becomeLeader(node, store, applied);
    await propose(node, store, applied, commands("a", 40));
    // Batches of proposals handled in one Ready each: one synced LevelDB batch per Ready.
    for (let round = 0; round < 5; round++) await propose(node, store, applied, commands(`b${round}`, 10));
    const status = node.status();
    expect(status.commit).toBe(status.lastIndex);
    expect(commandsIn(applied)).toEqual([
      ...commands("a", 40),
      ...[0, 1, 2, 3, 4].flatMap((round) => commands(`b${round}`, 10)),
    ]);
    await store.close();

    const reopened = await openStore(dir, { initialConf: CONF_R1 });
    const restarted = new RawNode(raftConfig({ id: "r1", random: new Prng(43) }), reopened.storage);
    expect(restarted.status()).toMatchObject({
      term: status.term,
      vote: "r1",
      commit: status.commit,
      conf: JOINER_CONF,
    });
    const replayed: Entry[] = [];
    await drive(restarted, reopened, replayed);
    // Replayed from index 1: the bootstrap entry again, so the restarted core is a voter again.
    expect(comparable(replayed)).toEqual(comparable(applied));
    expect(restarted.status().conf).toEqual(CONF_R1);

    // And the restarted replica carries on: new term, new entries, all durable.
    await becomeLeader(restarted, reopened, replayed);
    expect(restarted.status().term).toBeGreaterThan(status.term);
    await propose(restarted, reopened, replayed, ["after-restart"]);
    expect(text(replayed[replayed.length - 1])).toBe("after-restart");
    await reopened.close();
  });

  it("starts a three-voter replica that learns r1, r2, r3 from its bootstrap entries", async () => {
    const dir = await dirs.make();
    const store = await openStore(dir, { initialConf: CONF_R123 });
    const node = new RawNode(raftConfig({ id: "r2", random: new Prng(5) }), store.storage);
    expect(node.status().conf).toEqual(JOINER_CONF);
    const rd = node.ready();
    expect(confChanges(rd.committedEntries)).toEqual(
      ["r1", "r2", "r3"].map((replica, i) => ({ index: i + 1, term: 1, change: { type: "add-voter", replica } })),
    );
    await store.persist(rd);
    node.advance(rd);
    expect(node.status()).toMatchObject({ term: 1, applied: 3, commit: 3, conf: CONF_R123 });
    // A voter of three: after an election timeout it asks r1 and r3 for (pre-)votes.
    const sent = await tickIsolated({ id: "r2", node, store, applied: [] }, 200);
    expect(new Set(sent.filter((m) => m.type === "pre-vote").map((m) => m.to))).toEqual(new Set(["r1", "r3"]));
    await store.close();
  });

  it("starts a joiner's store empty; its replica cannot campaign until it learns a configuration", async () => {
    const joinerDir = await dirs.make();
    const created = await openStore(joinerDir, { initialConf: JOINER_CONF });
    expect(created.createdNew).toBe(true);
    await created.close();
    // Reopening with voters never bootstraps an existing store.
    const joinerStore = await openStore(joinerDir, { initialConf: CONF_R123 });
    expect(joinerStore.createdNew).toBe(false);
    expect(joinerStore.createdWith).toEqual(JOINER_CONF);
    expect(joinerStore.storage.initialState()).toEqual({
      hardState: { term: 0, vote: "", commit: 0 },
      confState: JOINER_CONF,
    });
    expect(joinerStore.storage.firstIndex()).toBe(1);
    expect(joinerStore.storage.lastIndex()).toBe(0);
    expect(joinerStore.stats()).toMatchObject({ entriesOnDisk: 0, entryBytes: 0, snapshotIndex: 0, conf: JOINER_CONF });

    const joiner: Replica = {
      id: "r4",
      node: new RawNode(raftConfig({ id: "r4", random: new Prng(4) }), joinerStore.storage),
      store: joinerStore,
      applied: [],
    };
    expect(joiner.node.status().conf).toEqual(JOINER_CONF);
    // Many election timeouts pass: not a voter, so no campaign, no message, no new term.
    expect(await tickIsolated(joiner, 300)).toEqual([]);
    expect(joiner.node.status()).toMatchObject({ role: "follower", term: 0, commit: 0, lastIndex: 0 });

    // A one-voter cluster (r1) adds r4 as a learner; r4 receives the log from index 1.
    const leaderStore = await openStore(await dirs.make(), { initialConf: CONF_R1 });
    const leader: Replica = {
      id: "r1",
      node: new RawNode(raftConfig({ id: "r1", random: new Prng(1) }), leaderStore.storage),
      store: leaderStore,
      applied: [],
    };
    await becomeLeader(leader.node, leader.store, leader.applied);
    const cluster = [leader, joiner];
    expect(leader.node.proposeConfigChange({ type: "add-learner", replica: "r4" }).ok).toBe(true);
    await runUntil(leader, cluster, () => joiner.node.status().applied === leader.node.status().commit);
    // Replaying the bootstrap entry taught r4 the voter r1, which its own store never held.
    expect(joiner.node.status().conf).toEqual({ voters: ["r1"], learners: ["r4"] });
    expect(confChanges(joiner.applied)[0]).toEqual({ index: 1, term: 1, change: { type: "add-voter", replica: "r1" } });
    // A learner still does not campaign.
    expect(await tickIsolated(joiner, 300)).toEqual([]);
    expect(joiner.node.status().role).toBe("follower");

    expect(leader.node.proposeConfigChange({ type: "promote-learner", replica: "r4" }).ok).toBe(true);
    await runUntil(leader, cluster, () => joiner.node.status().conf.voters.includes("r4"));
    expect(joiner.node.status().conf).toEqual({ voters: ["r1", "r4"], learners: [] });
    // Now a voter: cut off from the leader, it campaigns.
    const campaign = await tickIsolated(joiner, 300);
    expect(campaign.some((m) => m.type === "pre-vote" && m.from === "r4" && m.to === "r1")).toBe(true);

    // And it relearns the whole membership from its own log after a restart.
    await joinerStore.close();
    const reopened = await openStore(joinerDir, { initialConf: JOINER_CONF });
    const restarted = new RawNode(raftConfig({ id: "r4", random: new Prng(44) }), reopened.storage);
    expect(restarted.status().conf).toEqual(JOINER_CONF);
    await drive(restarted, reopened, []);
    expect(restarted.status().conf).toEqual({ voters: ["r1", "r4"], learners: [] });
    await reopened.close();
    await leaderStore.close();
  });

  it("restarts as snapshot + replay after compaction", async () => {
    const dir = await dirs.make();
    const store = await openStore(dir, { initialConf: CONF_R1 });
    const node = new RawNode(raftConfig({ id: "r1", random: new Prng(7) }), store.storage);
    const applied: Entry[] = [];
    await becomeLeader(node, store, applied);
    await propose(node, store, applied, commands("a", 30));

    // The application snapshots its state (here: the commands applied so far) at its applied index.
    const snapIndex = applied[applied.length - 1].index;
    const state = commandsIn(applied);
    await store.saveSnapshot(snapIndex, CONF_R1, new TextEncoder().encode(JSON.stringify(state)), 5);
    await propose(node, store, applied, commands("b", 20));
    await store.close();

    const reopened = await openStore(dir, { initialConf: CONF_R1 });
    const restarted = new RawNode(raftConfig({ id: "r1", random: new Prng(8) }), reopened.storage);
    const replayed: Entry[] = [];
    await drive(restarted, reopened, replayed);
    const restoredState = JSON.parse(new TextDecoder().decode(reopened.storage.snapshot().data)) as string[];
    expect(replayed[0].index).toBe(snapIndex + 1);
    expect(comparable(replayed)).toEqual(comparable(applied.filter((e) => e.index > snapIndex)));
    const rebuilt = [...restoredState, ...commandsIn(replayed)];
    expect(rebuilt).toEqual(commandsIn(applied));
    await reopened.close();
  });
});
