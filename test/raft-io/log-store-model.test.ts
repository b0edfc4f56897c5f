import { afterEach, describe, expect, it } from "vitest";
import { Prng } from "../../src/lib/prng.js";
import { MemoryLogStorage } from "../../src/raft/core/log-storage.js";
import type { ConfState, Entry, HardState } from "../../src/raft/core/types.js";
import type { LevelDbLogStore } from "../../src/raft/io/leveldb-log-store.js";
import { CONF_R123, TempDirs, entry, openStore } from "./log-store-helpers.js";

/**
 * Random sequences of Raft-shaped writes (appends that overwrite uncommitted suffixes, term
 * changes, commits, snapshots taken or received) with reopens in between, checked against a
 * MemoryLogStorage that receives the same writes. Prints the seed of a failing run.
 * Both kinds of new store are covered: a founding member's (the bootstrap log, like
 * MemoryLogStorage.bootstrap) and a joiner's (created without voters: an empty log).
 */

const dirs = new TempDirs();
afterEach(() => dirs.cleanup());

const SEEDS = 12;
const STEPS_PER_SEED = 80;

interface Model {
  readonly ref: MemoryLogStorage;
  hard: HardState;
}

function lastTerm(storage: MemoryLogStorage): number {
  return storage.term(storage.lastIndex())!;
}

async function step(prng: Prng, store: LevelDbLogStore, model: Model, seq: number): Promise<void> {
  const { ref } = model;
  const choice = prng.nextInt(10);
  if (choice < 5) {
    // Append, possibly overwriting the uncommitted suffix under a newer term.
    const lo = Math.max(ref.firstIndex(), model.hard.commit + 1);
    const first = prng.nextIntBetween(lo, ref.lastIndex() + 2);
    // Raft entries have term >= 1, so a joiner's first append comes with its first term.
    if (first <= ref.lastIndex() || model.hard.term === 0 || prng.chance(0.2))
      model.hard = { ...model.hard, term: model.hard.term + 1 };
    const term = Math.max(model.hard.term, lastTerm(ref));
    const count = prng.nextIntBetween(1, 20);
    const batch: Entry[] = [];
    for (let i = 0; i < count; i++) batch.push(entry(first + i, term, `s${seq}-${i}`));
    await store.persist({ hardState: model.hard, entries: batch, snapshot: null });
    ref.append(batch);
    ref.setHardState(model.hard);
  } else if (choice < 7) {
    model.hard = { ...model.hard, commit: prng.nextIntBetween(model.hard.commit, ref.lastIndex() + 1) };
    await store.persist({ hardState: model.hard, entries: [], snapshot: null });
    ref.setHardState(model.hard);
  } else if (choice < 9) {
    const snapIndex = ref.snapshot().meta.index;
    if (model.hard.commit <= snapIndex) return;
    const index = prng.nextIntBetween(snapIndex + 1, model.hard.commit + 1);
    const keep = prng.nextInt(6);
    const data = new TextEncoder().encode(`taken-${seq}`);
    await store.saveSnapshot(index, CONF_R123, data, keep);
    ref.createSnapshot(index, CONF_R123, data);
    ref.compact(Math.max(index - keep, ref.firstIndex() - 1));
  } else {
    // A snapshot from the leader, ahead of everything we have.
    const index = ref.lastIndex() + prng.nextIntBetween(1, 30);
    model.hard = { term: model.hard.term + 1, vote: "", commit: index };
    const snapshot = {
      meta: { index, term: model.hard.term, conf: CONF_R123 },
      data: new TextEncoder().encode(`received-${seq}`),
    };
    await store.persist({ hardState: model.hard, entries: [], snapshot });
    ref.applySnapshot(snapshot);
    ref.setHardState(model.hard);
  }
}

/** What must survive a restart: hard state, snapshot, and every entry after the snapshot. */
function durable(storage: MemoryLogStorage): unknown {
  const snap = storage.snapshot();
  const after =
    storage.lastIndex() > snap.meta.index
      ? storage.entries(snap.meta.index + 1, storage.lastIndex() + 1, Number.MAX_SAFE_INTEGER)
      : [];
  return {
    hardState: storage.persistedHardState(),
    snapshot: { meta: snap.meta, data: new TextDecoder().decode(snap.data) },
    lastIndex: storage.lastIndex(),
    entries: after.map((e) => ({ index: e.index, term: e.term, type: e.type, data: new TextDecoder().decode(e.data) })),
  };
}

const KINDS: readonly {
  readonly kind: string;
  readonly initialConf: ConfState;
  readonly model: () => MemoryLogStorage;
}[] = [
  {
    kind: "a founding member (the bootstrap log)",
    initialConf: CONF_R123,
    model: () => MemoryLogStorage.bootstrap(CONF_R123.voters),
  },
  { kind: "a joiner (an empty log)", initialConf: { voters: [], learners: [] }, model: () => new MemoryLogStorage() },
];

describe("LevelDbLogStore against the in-memory model", () => {
  it.each(KINDS)(
    "matches MemoryLogStorage through random writes and reopens, starting from $kind",
    async ({ initialConf, model: newModel }) => {
      for (let seed = 1; seed <= SEEDS; seed++) {
        const prng = new Prng(seed);
        const dir = await dirs.make();
        let store = await openStore(dir, { initialConf });
        const ref = newModel();
        const model: Model = { ref, hard: ref.persistedHardState() };
        try {
          // The new store is the model's starting point: bootstrap log and hard state, or empty.
          expect(durable(store.storage)).toEqual(durable(model.ref));
          for (let seq = 0; seq < STEPS_PER_SEED; seq++) {
            await step(prng, store, model, seq);
            expect(durable(store.storage)).toEqual(durable(model.ref));
            if (prng.chance(0.1)) {
              await store.close();
              // Reopening with the other kind's configuration must change nothing.
              store = await openStore(dir, {
                initialConf: initialConf.voters.length > 0 ? { voters: [], learners: [] } : CONF_R123,
              });
              expect(durable(store.storage)).toEqual(durable(model.ref));
            }
          }
        } catch (e) {
          throw new Error(`model check failed with seed ${seed}: ${(e as Error).message}`, { cause: e });
        } finally {
          await store.close();
        }
      }
    },
  );
});
