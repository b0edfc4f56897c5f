/**
 * A linearizability checker for a key-value register history, in the style of Wing & Gong's
 * search as refined by Lowe ("just-in-time linearization") and used by Porcupine.
 *
 * Linearizability is compositional (Herlihy & Wing's locality, P-compositionality in Horn &
 * Kroening's terms): the history is linearizable iff each key's sub-history is, so every key is
 * checked on its own and the search space stays small.
 *
 * Per key, the search keeps the not-yet-linearized completed operations in a time-ordered list
 * of call and return entries. An operation may take effect next iff its call comes before every
 * remaining return (the "window"). The search tries each candidate, remembers every
 * (linearized set, register value) configuration it has reached so it never explores one twice,
 * and backtracks on a dead end. Three register-specific dominance rules cut the branching:
 *
 * - A read in the window that returned the current value is taken at once, with no alternative:
 *   placing it now breaks no real-time order and does not change the value.
 * - Of several window writes of the same value only the one that returned first is tried: any
 *   linearization that places another one first stays valid with the two swapped.
 * - Values that no completed read returned are all the same to the search: a read can never
 *   follow a write of one of them directly, so they share one interned value. Together with the
 *   previous rule this collapses a crowd of concurrent unobserved writes into a single choice.
 * - A write that never got a response (pending) is not in the list at all. Its effect is only
 *   visible if a read observes its value, so it is placed only immediately before a window read
 *   of that value; an unobserved pending write is equivalent to one that never took effect. Of
 *   several usable pending writes of a value any one will do, since the window only ever closes
 *   later as the search goes deeper and so a usable pending write stays usable; always taking the
 *   one invoked last keeps the visited configurations few.
 *
 * Real-time order: operation a precedes b iff a.returnedAt < b.invokedAt, strictly. An operation
 * that returned at t and another invoked at t are concurrent. This is the permissive choice: the
 * simulator's logical clock cannot say which of two events in the same tick happened first, so the
 * checker never reports a violation that depends on that order.
 */
import { assert, assertNever } from "../../src/lib/assert.js";

export type KvOperation = { kind: "write"; key: string; value: string } | { kind: "read"; key: string };

export interface HistoryEvent {
  /** unique per operation */
  id: number;
  clientId: number;
  op: KvOperation;
  /** logical time the client invoked it */
  invokedAt: number;
  /** logical time the client got the response; null = no response (timed out, crashed): the op may or may not have taken effect, at any time after invokedAt */
  returnedAt: number | null;
  /** for reads that returned: the value read (null = key absent). For writes: ignored. */
  output: string | null;
}

export type LinearizabilityResult =
  | { ok: true }
  | {
      ok: false;
      key: string;
      /** a human-readable explanation: the smallest prefix / the operations involved that could not be linearized */
      explanation: string;
    }
  | { ok: "unknown"; key: string; reason: string };

export interface LinearizabilityOptions {
  /** Search configurations the whole check may explore, summed over keys, before answering "unknown". */
  stateBudgetMax?: number;
}

export const linearizabilityLimits = {
  stateBudgetMaxDefault: 1_000_000,
  /** Operations of the longest linearizable prefix quoted in a violation's explanation. */
  explanationPrefixOpsMax: 8,
  /** Candidate operations quoted in a violation's explanation. */
  explanationWindowOpsMax: 12,
} as const;

/**
 * Checks that `history` is linearizable for a map of registers that start absent. Returns the
 * first key (fewest operations first, then by name) that has no linearization, or "unknown" once
 * `stateBudgetMax` explored configurations are spent without a verdict.
 */
export function checkLinearizable(
  history: readonly HistoryEvent[],
  options: LinearizabilityOptions = {},
): LinearizabilityResult {
  const stateBudgetMax = options.stateBudgetMax ?? linearizabilityLimits.stateBudgetMaxDefault;
  assert(Number.isSafeInteger(stateBudgetMax), "stateBudgetMax must be an integer");
  assert(stateBudgetMax >= 1, "stateBudgetMax must be at least 1");
  assertWellFormed(history);

  const eventsByKey = partitionByKey(history);
  // Small keys first: a violation there is found cheaply and explained briefly.
  const keys = [...eventsByKey.keys()].sort(
    (a, b) => eventsByKey.get(a)!.length - eventsByKey.get(b)!.length || (a < b ? -1 : a > b ? 1 : 0),
  );
  let statesLeft = stateBudgetMax;
  for (const key of keys) {
    const search = new KeySearch(prepareKeyHistory(key, eventsByKey.get(key)!), statesLeft);
    const outcome = search.run();
    switch (outcome.kind) {
      case "linearizable":
        statesLeft -= search.statesExplored;
        break;
      case "violation":
        return { ok: false, key, explanation: outcome.explanation };
      case "budget-exhausted":
        return { ok: "unknown", key, reason: outcome.reason };
      default:
        return assertNever(outcome, "key search outcome");
    }
  }
  return { ok: true };
}

/** A malformed history is a bug in whoever recorded it, not a linearizability verdict. */
function assertWellFormed(history: readonly HistoryEvent[]): void {
  const ids = new Set<number>();
  for (const event of history) {
    assert(!ids.has(event.id), `history event id ${event.id} is not unique`);
    ids.add(event.id);
    assert(Number.isFinite(event.invokedAt), `event ${event.id}: invokedAt must be a finite number`);
    if (event.returnedAt !== null) {
      assert(Number.isFinite(event.returnedAt), `event ${event.id}: returnedAt must be a finite number or null`);
      assert(event.returnedAt >= event.invokedAt, `event ${event.id}: returnedAt precedes invokedAt`);
    }
  }
}

function partitionByKey(history: readonly HistoryEvent[]): Map<string, HistoryEvent[]> {
  const eventsByKey = new Map<string, HistoryEvent[]>();
  for (const event of history) {
    let events = eventsByKey.get(event.op.key);
    if (events === undefined) {
      events = [];
      eventsByKey.set(event.op.key, events);
    }
    events.push(event);
  }
  return eventsByKey;
}

/** One operation of a key's history, with its value interned. Index = bit in the linearized set. */
interface KeyOp {
  readonly event: HistoryEvent;
  readonly isWrite: boolean;
  /** The value a write writes or a read returned, interned by `ValueInterner`. */
  readonly valueId: number;
  /** Infinity for a pending write: nothing is ever forced to follow it. */
  readonly returnedAt: number;
}

const absentValueId = 0;
/** Stands for every value that no completed read of the key returned. */
const unobservedValueId = 1;

/** Numbers the values of one key; only values some completed read returned get their own id. */
class ValueInterner {
  private readonly ids = new Map<string, number>();
  private nextId = unobservedValueId + 1;

  constructor(completedReads: readonly HistoryEvent[]) {
    for (const read of completedReads) {
      if (read.output !== null && !this.ids.has(read.output)) this.ids.set(read.output, this.nextId++);
    }
  }

  idOf(value: string | null): number {
    if (value === null) return absentValueId;
    return this.ids.get(value) ?? unobservedValueId;
  }
}

/** A key's operations ready for the search; completed ops come first, in invocation order. */
interface KeyHistory {
  readonly key: string;
  /** Completed operations at 0..completedCount-1, pending writes after them. */
  readonly ops: readonly KeyOp[];
  readonly completedCount: number;
  /** Entry e < 2 * completedCount belongs to op entryOp[e]; calls and returns sorted by time. */
  readonly entriesInTimeOrder: readonly Entry[];
  /** Pending writes per value id, ascending by invocation time. */
  readonly pendingWritesByValue: ReadonlyMap<number, readonly number[]>;
}

interface Entry {
  readonly opIndex: number;
  readonly isReturn: boolean;
  readonly time: number;
}

function prepareKeyHistory(key: string, events: readonly HistoryEvent[]): KeyHistory {
  const values = new ValueInterner(events.filter((e) => e.op.kind === "read" && e.returnedAt !== null));
  const toKeyOp = (event: HistoryEvent): KeyOp => ({
    event,
    isWrite: event.op.kind === "write",
    valueId: values.idOf(event.op.kind === "write" ? event.op.value : event.output),
    returnedAt: event.returnedAt ?? Infinity,
  });
  const byInvocation = (a: HistoryEvent, b: HistoryEvent): number => a.invokedAt - b.invokedAt || a.id - b.id;
  // A read without a response constrains nothing, and neither does a pending write of a value no
  // read returned (it is as good as never having taken effect), so both are dropped.
  const completed = events.filter((e) => e.returnedAt !== null).sort(byInvocation);
  const pendingWrites = events
    .filter((e) => e.returnedAt === null && e.op.kind === "write" && values.idOf(e.op.value) !== unobservedValueId)
    .sort(byInvocation);
  const ops = [...completed, ...pendingWrites].map(toKeyOp);

  const entries: Entry[] = [];
  for (let i = 0; i < completed.length; i++) {
    entries.push({ opIndex: i, isReturn: false, time: ops[i].event.invokedAt });
    entries.push({ opIndex: i, isReturn: true, time: ops[i].returnedAt });
  }
  // Calls sort before returns at the same time: equal times are concurrent, never ordered.
  entries.sort((a, b) => a.time - b.time || Number(a.isReturn) - Number(b.isReturn) || a.opIndex - b.opIndex);

  const pendingWritesByValue = new Map<number, number[]>();
  for (let i = completed.length; i < ops.length; i++) {
    const list = pendingWritesByValue.get(ops[i].valueId) ?? [];
    list.push(i);
    pendingWritesByValue.set(ops[i].valueId, list);
  }
  return { key, ops, completedCount: completed.length, entriesInTimeOrder: entries, pendingWritesByValue };
}

type KeyOutcome =
  { kind: "linearizable" } | { kind: "violation"; explanation: string } | { kind: "budget-exhausted"; reason: string };

/** A search node: the configuration reached by linearizing `viaOp`, and the moves out of it. */
interface Frame {
  /** The op linearized to reach this node; -1 at the root. */
  readonly viaOp: number;
  readonly valueBefore: number;
  readonly choices: readonly number[];
  nextChoice: number;
}

/** What the operations that may take effect next look like from one configuration. */
interface Window {
  readonly ops: readonly number[];
  /** The op whose return closes the window, or -1 if every remaining op is in it. */
  readonly closingOp: number;
}

/** The deepest configuration the search reached, kept to explain a violation. */
interface DeepestPoint {
  readonly completedLinearized: number;
  readonly path: readonly number[];
  readonly valueId: number;
  readonly window: Window;
}

/** Depth-first just-in-time linearization of one key's history. */
class KeySearch {
  statesExplored = 0;
  private readonly history: KeyHistory;
  private readonly stateBudgetMax: number;
  /** Doubly linked list over entries in time order; index `head` is the sentinel. */
  private readonly next: Int32Array;
  private readonly prev: Int32Array;
  private readonly head: number;
  /** The list entries of each completed op, for lifting it out and back. */
  private readonly callEntry: Int32Array;
  private readonly returnEntry: Int32Array;
  /** Bit i set = op i linearized. */
  private readonly linearized: Int32Array;
  private readonly visited = new Set<string>();
  private readonly path: number[] = [];
  private valueId = absentValueId;
  private completedLeft: number;
  private deepest: DeepestPoint | null = null;

  constructor(history: KeyHistory, stateBudgetMax: number) {
    this.history = history;
    this.stateBudgetMax = stateBudgetMax;
    const entries = history.entriesInTimeOrder;
    this.head = entries.length;
    this.next = new Int32Array(entries.length + 1);
    this.prev = new Int32Array(entries.length + 1);
    for (let e = 0; e <= entries.length; e++) {
      this.next[e] = e === entries.length ? 0 : e + 1;
      this.prev[e] = e === 0 ? this.head : e - 1;
    }
    this.linearized = new Int32Array(Math.ceil(history.ops.length / 32));
    this.completedLeft = history.completedCount;
    this.callEntry = new Int32Array(history.completedCount);
    this.returnEntry = new Int32Array(history.completedCount);
    entries.forEach((entry, e) => {
      if (entry.isReturn) this.returnEntry[entry.opIndex] = e;
      else this.callEntry[entry.opIndex] = e;
    });
  }

  run(): KeyOutcome {
    if (this.completedLeft === 0) return { kind: "linearizable" };
    const frames: Frame[] = [this.frameFor(-1, absentValueId)];
    while (frames.length > 0) {
      const frame = frames[frames.length - 1];
      if (frame.nextChoice === frame.choices.length) {
        this.noteDeadEnd();
        frames.pop();
        if (frame.viaOp !== -1) this.unlift(frame.viaOp, frame.valueBefore);
        continue;
      }
      const opIndex = frame.choices[frame.nextChoice++];
      const valueBefore = this.valueId;
      this.lift(opIndex);
      const configuration = this.configurationKey();
      if (this.visited.has(configuration)) {
        this.unlift(opIndex, valueBefore);
        continue;
      }
      if (this.statesExplored >= this.stateBudgetMax) return this.budgetExhausted();
      this.visited.add(configuration);
      this.statesExplored++;
      // Pending writes left over simply never took effect.
      if (this.completedLeft === 0) return { kind: "linearizable" };
      frames.push(this.frameFor(opIndex, valueBefore));
    }
    return { kind: "violation", explanation: this.explainViolation() };
  }

  private frameFor(viaOp: number, valueBefore: number): Frame {
    return { viaOp, valueBefore, choices: this.choices(this.scanWindow()), nextChoice: 0 };
  }

  /** The ops whose call precedes every remaining return: exactly those that may take effect next. */
  private scanWindow(): Window {
    const ops: number[] = [];
    const entries = this.history.entriesInTimeOrder;
    let e = this.next[this.head];
    while (e !== this.head && !entries[e].isReturn) {
      ops.push(entries[e].opIndex);
      e = this.next[e];
    }
    return { ops, closingOp: e === this.head ? -1 : entries[e].opIndex };
  }

  private choices(window: Window): number[] {
    const ops = this.history.ops;
    const writeByValue = new Map<number, number>();
    const wantedValues = new Set<number>();
    for (const opIndex of window.ops) {
      const op = ops[opIndex];
      if (!op.isWrite) {
        if (op.valueId === this.valueId) return [opIndex];
        wantedValues.add(op.valueId);
        continue;
      }
      const rival = writeByValue.get(op.valueId);
      if (rival === undefined || ops[rival].returnedAt > op.returnedAt) writeByValue.set(op.valueId, opIndex);
    }
    // Writes some waiting read wants go first: they are the likeliest to lead somewhere.
    const wanted: number[] = [];
    const unwanted: number[] = [];
    for (const [valueId, opIndex] of writeByValue) (wantedValues.has(valueId) ? wanted : unwanted).push(opIndex);
    const windowClosesAt = window.closingOp === -1 ? Infinity : ops[window.closingOp].returnedAt;
    for (const valueId of wantedValues) {
      const pending = this.usablePendingWrite(valueId, windowClosesAt);
      if (pending !== -1) wanted.push(pending);
    }
    return wanted.concat(unwanted);
  }

  /** The last-invoked unused pending write of the value that may take effect before the window closes. */
  private usablePendingWrite(valueId: number, windowClosesAt: number): number {
    const candidates = this.history.pendingWritesByValue.get(valueId);
    if (candidates === undefined) return -1;
    for (let i = candidates.length - 1; i >= 0; i--) {
      const opIndex = candidates[i];
      if (this.history.ops[opIndex].event.invokedAt > windowClosesAt) continue;
      if (!this.isLinearized(opIndex)) return opIndex;
    }
    return -1;
  }

  private lift(opIndex: number): void {
    const op = this.history.ops[opIndex];
    assert(!this.isLinearized(opIndex), "an op is linearized at most once");
    if (op.isWrite) this.valueId = op.valueId;
    assert(this.valueId === op.valueId, "a read is linearized only where it returns the register's value");
    this.linearized[opIndex >>> 5] |= 1 << (opIndex & 31);
    this.path.push(opIndex);
    if (opIndex >= this.history.completedCount) return;
    this.completedLeft--;
    this.removeEntry(this.callEntry[opIndex]);
    this.removeEntry(this.returnEntry[opIndex]);
  }

  /** Undoes the most recent lift; entries go back in reverse order of removal. */
  private unlift(opIndex: number, valueBefore: number): void {
    assert(this.path.pop() === opIndex, "unlift undoes the latest lift");
    this.linearized[opIndex >>> 5] &= ~(1 << (opIndex & 31));
    this.valueId = valueBefore;
    if (opIndex >= this.history.completedCount) return;
    this.completedLeft++;
    this.restoreEntry(this.returnEntry[opIndex]);
    this.restoreEntry(this.callEntry[opIndex]);
  }

  private removeEntry(e: number): void {
    this.next[this.prev[e]] = this.next[e];
    this.prev[this.next[e]] = this.prev[e];
  }

  /** Dancing links: `e` still remembers its neighbours, which are back in place by LIFO order. */
  private restoreEntry(e: number): void {
    this.next[this.prev[e]] = e;
    this.prev[this.next[e]] = e;
  }

  private isLinearized(opIndex: number): boolean {
    return (this.linearized[opIndex >>> 5] & (1 << (opIndex & 31))) !== 0;
  }

  /**
   * An exact key for (linearized set, value). Completed ops are numbered in invocation order, so
   * the set is mostly a run of full words followed by a few sparse ones; only those are spelled out.
   */
  private configurationKey(): string {
    const words = this.linearized;
    let fullWords = 0;
    while (fullWords < words.length && words[fullWords] === -1) fullWords++;
    let key = `${this.valueId}/${fullWords}`;
    for (let w = fullWords; w < words.length; w++) {
      if (words[w] !== 0) key += `/${w}:${words[w]}`;
    }
    return key;
  }

  /** Called as a node is abandoned, with its configuration still in place. */
  private noteDeadEnd(): void {
    const completedLinearized = this.history.completedCount - this.completedLeft;
    if (this.deepest !== null && this.deepest.completedLinearized >= completedLinearized) return;
    this.deepest = { completedLinearized, path: [...this.path], valueId: this.valueId, window: this.scanWindow() };
  }

  private budgetExhausted(): KeyOutcome {
    const pendingCount = this.history.ops.length - this.history.completedCount;
    return {
      kind: "budget-exhausted",
      reason:
        `stateBudgetMax ran out after ${this.statesExplored} configurations of key ` +
        `${JSON.stringify(this.history.key)} (the budget is shared by all keys) without a verdict; the key has ` +
        `${this.history.completedCount} completed operations and ${pendingCount} pending writes of values some read returned`,
    };
  }

  private explainViolation(): string {
    const deepest = this.deepest;
    assert(deepest !== null, "a failed search abandoned at least its root");
    const { ops, completedCount } = this.history;
    const limits = linearizabilityLimits;
    const prefix = deepest.path.slice(-limits.explanationPrefixOpsMax).map((i) => describeOp(ops[i].event));
    const omitted = deepest.path.length - prefix.length;
    const window = deepest.window.ops.slice(0, limits.explanationWindowOpsMax).map((i) => describeOp(ops[i].event));
    const lines = [
      `key ${JSON.stringify(this.history.key)}: its ${completedCount} completed operations ` +
        `(plus ${ops.length - completedCount} pending writes of values some read returned) have no linearization.`,
      `Longest linearizable prefix: ${deepest.completedLinearized} completed operations` +
        (deepest.path.length === 0 ? "." : `, ending${omitted > 0 ? ` (after ${omitted} more)` : ""} with:`),
      ...prefix.map((line) => `  ${line}`),
      `after which the register holds ${describeValue(registerAfter(deepest.path.map((i) => ops[i].event)))}, ` +
        `and no operation can take effect next.`,
    ];
    if (deepest.window.closingOp !== -1) {
      const closing = ops[deepest.window.closingOp].event;
      lines.push(`${describeOp(closing)} must take effect before anything invoked after ${closing.returnedAt}.`);
    }
    lines.push(`Operations that could take effect next (none of them leads to a linearization):`);
    lines.push(...window.map((line) => `  ${line}`));
    if (deepest.window.ops.length > window.length)
      lines.push(`  ... and ${deepest.window.ops.length - window.length} more`);
    return lines.join("\n");
  }
}

/** The register's value after `events` took effect in order. */
function registerAfter(events: readonly HistoryEvent[]): string | null {
  for (let i = events.length - 1; i >= 0; i--) {
    const op = events[i].op;
    if (op.kind === "write") return op.value;
  }
  return null;
}

function describeValue(value: string | null): string {
  return value === null ? "absent" : JSON.stringify(value);
}

function describeOp(event: HistoryEvent): string {
  const returned = event.returnedAt === null ? "no response" : String(event.returnedAt);
  const what =
    event.op.kind === "write" ? `write ${describeValue(event.op.value)}` : `read -> ${describeValue(event.output)}`;
  return `#${event.id} client ${event.clientId} ${what} [invoked ${event.invokedAt}, returned ${returned}]`;
}
