import { assert, assertNever } from "../../src/lib/assert.js";
import type { ConfChange, ConfState, Entry, Snapshot } from "../../src/raft/core/types.js";
import { decodeKvWrite, writeId } from "./kv-command.js";
import { simLimits } from "./sim-limits.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export type ApplyOutcome = "no-op" | "written" | "duplicate" | "conf-change";

/**
 * The replicated application: a map of registers plus the set of client writes already
 * applied (Raft thesis §6.3), so a retried write takes effect at most once. It also follows the
 * configuration through the conf-change entries, to cross-check the core's view.
 */
export class KvStateMachine {
  private values = new Map<string, string>();
  private appliedWrites = new Set<string>();
  private appliedIndex = 0;
  private confNow: ConfState = { voters: [], learners: [] };

  get applied(): number {
    return this.appliedIndex;
  }

  get conf(): ConfState {
    return this.confNow;
  }

  get(key: string): string | null {
    return this.values.get(key) ?? null;
  }

  hasApplied(clientId: number, seq: number): boolean {
    return this.appliedWrites.has(writeId(clientId, seq));
  }

  /** Replaces the whole state with a snapshot's (a restart, or one sent by the leader). */
  restore(snapshot: Snapshot): void {
    this.values = new Map();
    this.appliedWrites = new Set();
    if (snapshot.data.byteLength > 0) {
      const parsed = JSON.parse(decoder.decode(snapshot.data)) as { values: [string, string][]; writes: string[] };
      this.values = new Map(parsed.values);
      this.appliedWrites = new Set(parsed.writes);
    }
    this.appliedIndex = snapshot.meta.index;
    this.confNow = snapshot.meta.conf;
  }

  serialize(): Uint8Array {
    return encoder.encode(JSON.stringify({ values: [...this.values], writes: [...this.appliedWrites] }));
  }

  apply(entry: Entry, change: ConfChange | null): ApplyOutcome {
    assert(entry.index === this.appliedIndex + 1, `apply ${entry.index} after ${this.appliedIndex}`);
    this.appliedIndex = entry.index;
    if (entry.type === "conf-change") {
      assert(change !== null, "conf-change entry without a change");
      this.confNow = nextConf(this.confNow, change);
      return "conf-change";
    }
    if (entry.data.byteLength === 0) return "no-op";
    const write = decodeKvWrite(entry.data);
    const id = writeId(write.clientId, write.seq);
    if (this.appliedWrites.has(id)) return "duplicate";
    assert(this.appliedWrites.size < simLimits.historyEventsMax, "dedup set over its bound");
    this.appliedWrites.add(id);
    this.values.set(write.key, write.value);
    return "written";
  }
}

/** One-server membership change, as Raft defines it; a change that makes no sense is a no-op. */
export function nextConf(conf: ConfState, change: ConfChange): ConfState {
  const voters = conf.voters.filter((id) => id !== change.replica);
  const learners = conf.learners.filter((id) => id !== change.replica);
  switch (change.type) {
    case "add-voter":
      return { voters: [...voters, change.replica], learners };
    case "add-learner":
      if (conf.voters.includes(change.replica)) return conf;
      return { voters, learners: [...learners, change.replica] };
    case "promote-learner":
      if (!conf.learners.includes(change.replica)) return conf;
      return { voters: [...voters, change.replica], learners };
    case "remove":
      return { voters, learners };
    default:
      return assertNever(change, "conf change");
  }
}

export function sameConf(a: ConfState, b: ConfState): boolean {
  const same = (x: readonly string[], y: readonly string[]): boolean =>
    x.length === y.length && [...x].sort().join(",") === [...y].sort().join(",");
  return same(a.voters, b.voters) && same(a.learners, b.learners);
}

export function formatConf(conf: ConfState): string {
  const learners = conf.learners.length > 0 ? ` learners=${[...conf.learners].sort().join(",")}` : "";
  return `voters=${[...conf.voters].sort().join(",")}${learners}`;
}

export function decodeConfChangeData(data: Uint8Array): ConfChange {
  const value = JSON.parse(decoder.decode(data)) as ConfChange;
  assert(typeof value.replica === "string", "conf change without a replica");
  const types: readonly string[] = ["add-voter", "add-learner", "promote-learner", "remove"];
  assert(types.includes(value.type), "unknown conf change");
  return value;
}
