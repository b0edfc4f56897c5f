import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BugIndicatingError } from "../../src/lib/assert.js";
import { Prng } from "../../src/lib/prng.js";
import { checkLinearizable, type HistoryEvent, type LinearizabilityResult } from "./linearizability.js";

// Builders keep the hand-written histories readable: one line per operation.
let nextId = 1;
function write(
  clientId: number,
  key: string,
  value: string,
  invokedAt: number,
  returnedAt: number | null,
): HistoryEvent {
  return { id: nextId++, clientId, op: { kind: "write", key, value }, invokedAt, returnedAt, output: null };
}
function read(
  clientId: number,
  key: string,
  output: string | null,
  invokedAt: number,
  returnedAt: number | null,
): HistoryEvent {
  return { id: nextId++, clientId, op: { kind: "read", key }, invokedAt, returnedAt, output };
}

function expectLinearizable(history: readonly HistoryEvent[]): void {
  expect(checkLinearizable(history)).toEqual({ ok: true });
}

function expectViolation(history: readonly HistoryEvent[], key = "k"): string {
  const result = checkLinearizable(history);
  expect(result.ok).toBe(false);
  if (result.ok !== false) throw new Error("unreachable");
  expect(result.key).toBe(key);
  return result.explanation;
}

describe("checkLinearizable: linearizable histories", () => {
  it("accepts an empty history and reads of an absent key", () => {
    expectLinearizable([]);
    expectLinearizable([read(1, "k", null, 0, 1), read(2, "k", null, 5, 9)]);
  });

  it("accepts a sequential history", () => {
    expectLinearizable([
      write(1, "k", "a", 0, 1),
      read(1, "k", "a", 2, 3),
      write(2, "k", "b", 4, 5),
      read(3, "k", "b", 6, 7),
      write(1, "k", "a", 8, 9),
      read(2, "k", "a", 10, 11),
    ]);
  });

  it("accepts a read concurrent with two overlapping writes seeing either value", () => {
    for (const seen of ["a", "b", null]) {
      expectLinearizable([write(1, "k", "a", 0, 10), write(2, "k", "b", 1, 9), read(3, "k", seen, 2, 8)]);
    }
  });

  it("accepts two reads after overlapping writes agreeing on either order", () => {
    for (const last of ["a", "b"]) {
      expectLinearizable([
        write(1, "k", "a", 0, 10),
        write(2, "k", "b", 1, 9),
        read(3, "k", last, 11, 12),
        read(4, "k", last, 13, 14),
      ]);
    }
  });

  it("accepts writes of one value where the one that returned first must take effect first", () => {
    expectLinearizable([
      write(1, "k", "a", 0, 3),
      write(2, "k", "a", 0, 10),
      write(3, "k", "b", 0, 2),
      read(4, "k", "b", 4, 5),
      read(4, "k", "a", 11, 12),
    ]);
  });

  it("accepts a pending write whose effect is seen, even long after it was invoked", () => {
    expectLinearizable([write(1, "k", "a", 0, null), read(2, "k", null, 1, 2), read(2, "k", "a", 100, 101)]);
    // It may take effect after a later completed write.
    expectLinearizable([write(1, "k", "a", 0, null), write(2, "k", "b", 1, 2), read(3, "k", "a", 3, 4)]);
  });

  it("accepts a pending write whose effect is never seen", () => {
    expectLinearizable([
      write(1, "k", "a", 0, null),
      read(2, "k", null, 5, 6),
      write(2, "k", "b", 7, 8),
      read(2, "k", "b", 9, 10),
    ]);
  });

  it("ignores reads without a response", () => {
    expectLinearizable([write(1, "k", "a", 0, 1), read(2, "k", "never-written", 2, null), read(3, "k", "a", 3, 4)]);
  });

  it("treats a response and an invocation at the same time as concurrent", () => {
    expectLinearizable([write(1, "k", "a", 0, 5), read(2, "k", null, 5, 6)]);
  });

  it("checks keys independently", () => {
    expectLinearizable([
      write(1, "x", "1", 0, 10),
      write(2, "y", "2", 0, 10),
      read(3, "x", "1", 1, 2),
      read(4, "x", null, 1, 2),
      read(3, "y", null, 3, 4),
      read(4, "y", "2", 3, 4),
    ]);
  });
});

describe("checkLinearizable: non-linearizable histories", () => {
  it("rejects a stale read after a completed write", () => {
    expectViolation([write(1, "k", "a", 0, 1), read(2, "k", null, 2, 3)]);
    expectViolation([write(1, "k", "a", 0, 1), write(1, "k", "b", 2, 3), read(2, "k", "a", 4, 5)]);
  });

  it("rejects a later read seeing an older value than an earlier read saw", () => {
    expectViolation([
      write(1, "k", "a", 0, 1),
      write(1, "k", "b", 2, 10),
      read(2, "k", "b", 3, 4),
      read(3, "k", "a", 5, 6),
    ]);
  });

  it("rejects a read of a value never written", () => {
    const explanation = expectViolation([write(1, "k", "a", 0, 1), read(2, "k", "zzz", 2, 3)]);
    expect(explanation).toContain('read -> "zzz"');
  });

  it("rejects a read of a value written by a write invoked after the read returned", () => {
    expectViolation([read(1, "k", "a", 0, 1), write(2, "k", "a", 2, 3)]);
  });

  it("rejects two clients observing two concurrent writes in opposite orders", () => {
    expectViolation([
      write(1, "k", "a", 0, 10),
      write(2, "k", "b", 0, 10),
      read(3, "k", "a", 1, 2),
      read(3, "k", "b", 3, 4),
      read(4, "k", "b", 1, 2),
      read(4, "k", "a", 3, 4),
    ]);
  });

  it("orders a response strictly before an invocation at a later time", () => {
    expectViolation([write(1, "k", "a", 0, 5), read(2, "k", null, 6, 7)]);
  });

  it("rejects a pending write explaining a read that returned before it was invoked", () => {
    expectViolation([read(1, "k", "a", 0, 1), write(2, "k", "a", 2, null)]);
  });

  it("lets a pending write take effect at most once", () => {
    expectViolation([
      write(1, "k", "a", 0, null),
      write(2, "k", "b", 1, 2),
      read(2, "k", "a", 3, 4),
      write(2, "k", "c", 5, 6),
      read(2, "k", "a", 7, 8),
    ]);
  });

  it("names the failing key and the operations involved", () => {
    const stale = read(2, "bad", null, 2, 3);
    const history = [write(1, "good", "a", 0, 1), read(2, "good", "a", 2, 3), write(1, "bad", "b", 0, 1), stale];
    const explanation = expectViolation(history, "bad");
    expect(explanation).toContain(`#${stale.id} client 2 read -> absent [invoked 2, returned 3]`);
    expect(explanation).toContain('the register holds "b"');
  });
});

describe("checkLinearizable: limits and malformed input", () => {
  it("answers unknown when the state budget runs out", () => {
    const history = [write(1, "k", "a", 0, 10), write(2, "k", "b", 0, 10), read(3, "k", "b", 11, 12)];
    const result = checkLinearizable(history, { stateBudgetMax: 1 });
    expect(result.ok).toBe("unknown");
    expect(checkLinearizable(history, { stateBudgetMax: 1_000 })).toEqual({ ok: true });
  });

  it("asserts on a malformed history", () => {
    const a = write(1, "k", "a", 0, 1);
    expect(() => checkLinearizable([a, { ...a }])).toThrow(BugIndicatingError);
    expect(() => checkLinearizable([write(1, "k", "a", 5, 4)])).toThrow(BugIndicatingError);
  });
});

/**
 * An independent oracle for small histories: tries every order of the operations of all keys
 * together that respects real time, with each pending write placed somewhere or nowhere.
 */
function bruteForceLinearizable(history: readonly HistoryEvent[]): boolean {
  const ops = history.filter((e) => e.returnedAt !== null || e.op.kind === "write");
  const completedCount = ops.filter((e) => e.returnedAt !== null).length;
  const placed = new Array<boolean>(ops.length).fill(false);
  const values = new Map<string, string>();
  const mustPrecede = (a: HistoryEvent, b: HistoryEvent): boolean =>
    a.returnedAt !== null && a.returnedAt < b.invokedAt;
  const extend = (completedPlaced: number): boolean => {
    if (completedPlaced === completedCount) return true;
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i];
      if (placed[i] || ops.some((other, j) => !placed[j] && j !== i && mustPrecede(other, op))) continue;
      const before = values.get(op.op.key);
      if (op.op.kind === "write") values.set(op.op.key, op.op.value);
      else if ((before ?? null) !== op.output) continue;
      placed[i] = true;
      const found = extend(completedPlaced + (op.returnedAt === null ? 0 : 1));
      placed[i] = false;
      if (before === undefined) values.delete(op.op.key);
      else values.set(op.op.key, before);
      if (found) return true;
    }
    return false;
  };
  return extend(0);
}

const smallHistoryArbitrary = fc
  .array(
    fc.record({
      key: fc.constantFrom("p", "q"),
      isWrite: fc.boolean(),
      value: fc.constantFrom("x", "y", "z"),
      readsAbsent: fc.boolean(),
      invokedAt: fc.integer({ min: 0, max: 12 }),
      durationTicks: fc.integer({ min: 0, max: 6 }),
      responseLost: fc.integer({ min: 0, max: 5 }).map((n) => n === 0),
    }),
    { maxLength: 7 },
  )
  .map((specs) =>
    specs.map((s, i): HistoryEvent => ({
      id: i,
      clientId: i,
      op: s.isWrite ? { kind: "write", key: s.key, value: s.value } : { kind: "read", key: s.key },
      invokedAt: s.invokedAt,
      returnedAt: s.responseLost ? null : s.invokedAt + s.durationTicks,
      output: s.isWrite || s.readsAbsent ? null : s.value,
    })),
  );

describe("checkLinearizable: agrees with brute force on small histories", () => {
  it("gives the brute-force verdict on random histories", () => {
    fc.assert(
      fc.property(smallHistoryArbitrary, (history) => {
        expect(checkLinearizable(history).ok).toBe(bruteForceLinearizable(history));
      }),
      { numRuns: 2_000 },
    );
  });
});

interface SequentialOpSpec {
  key: string;
  isWrite: boolean;
  value: string;
  /** How far before / after its linearization point the operation was invoked / returned. */
  leadTicks: number;
  lagTicks: number;
  responseLost: boolean;
}

const sequentialOpArbitrary: fc.Arbitrary<SequentialOpSpec> = fc.record({
  key: fc.constantFrom("a", "b", "c"),
  isWrite: fc.boolean(),
  // A small alphabet so that values repeat, which is the hard case for a register checker.
  value: fc.constantFrom("1", "2", "3", "4"),
  leadTicks: fc.integer({ min: 0, max: 60 }),
  lagTicks: fc.integer({ min: 0, max: 60 }),
  responseLost: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
});

/**
 * Runs the ops one after another (op i takes effect at tick 10 * i) and wraps each in an
 * interval around that point, so the history is linearizable by construction. Phantom writes are
 * pending writes that never took effect.
 */
function historyFromSequentialRun(
  specs: readonly SequentialOpSpec[],
  phantomInvokedAt: readonly number[],
): HistoryEvent[] {
  const values = new Map<string, string>();
  const history: HistoryEvent[] = specs.map((spec, i) => {
    const pointTick = 10 * i + 100;
    const output = spec.isWrite ? null : (values.get(spec.key) ?? null);
    if (spec.isWrite) values.set(spec.key, spec.value);
    return {
      id: i,
      clientId: i % 5,
      op: spec.isWrite ? { kind: "write", key: spec.key, value: spec.value } : { kind: "read", key: spec.key },
      invokedAt: pointTick - spec.leadTicks,
      returnedAt: spec.responseLost ? null : pointTick + spec.lagTicks,
      output: spec.responseLost ? null : output,
    };
  });
  phantomInvokedAt.forEach((invokedAt, i) => {
    const op = { kind: "write", key: "abc"[i % 3], value: String((i % 4) + 1) } as const;
    history.push({ id: specs.length + i, clientId: 9, op, invokedAt, returnedAt: null, output: null });
  });
  return history;
}

/**
 * Values `read` certainly cannot return: every write of the value (the initial absent value
 * included) completed and was followed by another completed write that returned before `read`
 * was invoked. Whatever write precedes `read` last then cannot have written that value.
 */
function impossibleOutputs(history: readonly HistoryEvent[], target: HistoryEvent): (string | null)[] {
  const writes = history.filter((e) => e.op.kind === "write" && e.op.key === target.op.key);
  const supersededBeforeRead = (returnedAt: number | null): boolean =>
    returnedAt !== null &&
    writes.some((w2) => w2.returnedAt !== null && returnedAt < w2.invokedAt && w2.returnedAt < target.invokedAt);
  const candidates: (string | null)[] = [null, "1", "2", "3", "4"];
  return candidates.filter((value) => {
    if (value === null) return supersededBeforeRead(-Infinity);
    return writes.every((w) => w.op.kind !== "write" || w.op.value !== value || supersededBeforeRead(w.returnedAt));
  });
}

describe("checkLinearizable: properties over random linearizable runs", () => {
  const runArbitrary = fc.record({
    specs: fc.array(sequentialOpArbitrary, { minLength: 1, maxLength: 60 }),
    phantomInvokedAt: fc.array(fc.integer({ min: 0, max: 700 }), { maxLength: 4 }),
    pick: fc.nat(),
    preferNeverWritten: fc.boolean(),
  });

  it("accepts every history built around a sequential run", () => {
    fc.assert(
      fc.property(runArbitrary, ({ specs, phantomInvokedAt }) => {
        expect(checkLinearizable(historyFromSequentialRun(specs, phantomInvokedAt))).toEqual({ ok: true });
      }),
      { numRuns: 500 },
    );
  });

  it("rejects the history once one completed read returns an impossible value", () => {
    let overwrittenValueMutations = 0;
    fc.assert(
      fc.property(runArbitrary, ({ specs, phantomInvokedAt, pick, preferNeverWritten }) => {
        const history = historyFromSequentialRun(specs, phantomInvokedAt);
        const reads = history.filter((e) => e.op.kind === "read" && e.returnedAt !== null);
        fc.pre(reads.length > 0);
        const target = reads[pick % reads.length];
        const impossible = impossibleOutputs(history, target).filter((v) => v !== target.output);
        const useNeverWritten = preferNeverWritten || impossible.length === 0;
        if (!useNeverWritten) overwrittenValueMutations++;
        const mutatedOutput = useNeverWritten ? "never-written" : impossible[pick % impossible.length];
        const mutated = history.map((e) => (e === target ? { ...e, output: mutatedOutput } : e));
        const result: LinearizabilityResult = checkLinearizable(mutated);
        expect(result.ok).toBe(false);
        if (result.ok === false) expect(result.key).toBe(target.op.key);
      }),
      { numRuns: 500 },
    );
    // Guards the generator: the subtle mutation must actually be exercised.
    expect(overwrittenValueMutations).toBeGreaterThan(50);
  });
});

interface GeneratedRun {
  history: HistoryEvent[];
  pendingWriteCount: number;
}

/**
 * A simulator-like run: each client issues one operation at a time with a random duration; each
 * takes effect at a random point inside its interval; a few writes lose their response (and
 * took effect or not) and the client moves on after a timeout.
 */
function generateConcurrentRun(seed: number, opCount: number, keyCount: number, clientCount: number): GeneratedRun {
  const prng = new Prng(seed);
  const specs: { event: HistoryEvent; pointTick: number | null }[] = [];
  const clientFreeAt = new Array<number>(clientCount).fill(0);
  let pendingWriteCount = 0;
  for (let id = 0; id < opCount; id++) {
    const clientId = prng.nextInt(clientCount);
    const invokedAt = clientFreeAt[clientId] + prng.nextInt(3);
    const returnedAt = invokedAt + prng.nextIntBetween(1, 60);
    const key = `key-${prng.nextInt(keyCount)}`;
    const isWrite = prng.chance(0.5);
    const responseLost = isWrite && prng.chance(0.05);
    if (responseLost) pendingWriteCount++;
    const tookEffect = !responseLost || prng.chance(0.5);
    const event: HistoryEvent = {
      id,
      clientId,
      op: isWrite ? { kind: "write", key, value: `c${clientId}-${id}` } : { kind: "read", key },
      invokedAt,
      returnedAt: responseLost ? null : returnedAt,
      output: null,
    };
    // A lost write may take effect well after the client gave up on it.
    const pointTick = tookEffect
      ? invokedAt + prng.nextFloat() * (returnedAt - invokedAt) * (responseLost ? 3 : 1)
      : null;
    specs.push({ event, pointTick });
    clientFreeAt[clientId] = returnedAt + 1;
  }
  const values = new Map<string, string>();
  const effective = specs.filter((s) => s.pointTick !== null).sort((a, b) => a.pointTick! - b.pointTick!);
  for (const { event } of effective) {
    if (event.op.kind === "write") values.set(event.op.key, event.op.value);
    else event.output = values.get(event.op.key) ?? null;
  }
  return { history: specs.map((s) => s.event), pendingWriteCount };
}

function timed<T>(work: () => T): { result: T; elapsedMs: number } {
  const startMs = performance.now();
  const result = work();
  return { result, elapsedMs: performance.now() - startMs };
}

describe("checkLinearizable: performance", () => {
  it("checks 2,000 ops over 10 keys from 8 concurrent clients quickly", () => {
    const { history, pendingWriteCount } = generateConcurrentRun(42, 2_000, 10, 8);
    expect(pendingWriteCount).toBeGreaterThan(10);
    const { result, elapsedMs } = timed(() => checkLinearizable(history));
    console.log(`2,000 ops / 10 keys / 8 clients / ${pendingWriteCount} pending writes: ${elapsedMs.toFixed(1)} ms`);
    expect(result).toEqual({ ok: true });
    expect(elapsedMs).toBeLessThan(2_000);
  });

  it("checks 2,000 ops on 2 hot keys from 8 concurrent clients quickly", () => {
    const { history } = generateConcurrentRun(7, 2_000, 2, 8);
    const { result, elapsedMs } = timed(() => checkLinearizable(history));
    console.log(`2,000 ops / 2 keys / 8 clients: ${elapsedMs.toFixed(1)} ms`);
    expect(result).toEqual({ ok: true });
    expect(elapsedMs).toBeLessThan(2_000);
  });

  it("rejects a corrupted 2,000-op history quickly", () => {
    const { history } = generateConcurrentRun(42, 2_000, 10, 8);
    const reads = history.filter((e) => e.op.kind === "read" && e.returnedAt !== null);
    const target = reads[Math.floor(reads.length / 2)];
    target.output = "never-written";
    const { result, elapsedMs } = timed(() => checkLinearizable(history));
    console.log(`corrupted 2,000-op history rejected in ${elapsedMs.toFixed(1)} ms`);
    expect(result.ok).toBe(false);
    expect(elapsedMs).toBeLessThan(2_000);
  });

  it("is not slowed down by 1,000 pending writes on one key, half of them observed", () => {
    const history: HistoryEvent[] = [];
    for (let round = 0; round < 1_000; round++) {
      const roundTick = round * 10;
      const observed = round % 2 === 0;
      // The read sees the pending write in even rounds and the completed write in odd ones.
      history.push(write(round % 8, "k", `lost-${round}`, roundTick, null));
      history.push(write((round + 1) % 8, "k", `v-${round}`, roundTick, roundTick + 6));
      history.push(read((round + 2) % 8, "k", observed ? `lost-${round}` : `v-${round}`, roundTick + 1, roundTick + 3));
    }
    const { result, elapsedMs } = timed(() => checkLinearizable(history));
    console.log(`1,000 pending writes on one key: ${elapsedMs.toFixed(1)} ms`);
    expect(result).toEqual({ ok: true });
    expect(elapsedMs).toBeLessThan(2_000);
  });
});
