import { describe, expect, it } from "vitest";
import type { DeliberateBugName } from "./bug-hunt.js";
import { bugHuntOptions, deliberateBugNames, expectedViolations } from "./bug-hunt.js";
import type { HistoryEvent } from "./linearizability.js";
import { checkLinearizable } from "./linearizability.js";
import { simOptions } from "./sim-options.js";
import { runSimulation } from "./simulation.js";

/** Each deliberate bug must be caught within this many seeds. */
const seedsPerBugMax = 200;

/** The first seed whose run reports one of `kinds`, with what it found; undefined if none does. */
function hunt(bug: DeliberateBugName): { seed: number; found: string } | undefined {
  const kinds = expectedViolations[bug];
  for (let seed = 1; seed <= seedsPerBugMax; seed++) {
    const result = runSimulation(simOptions({ seed, ...bugHuntOptions(bug) }));
    const hit = result.violations.find((v) => kinds.includes(v.kind));
    if (hit !== undefined) return { seed, found: `${hit.kind}: ${hit.message.split("\n")[0]}` };
  }
  return undefined;
}

describe("the simulator catches deliberate bugs", () => {
  for (const bug of deliberateBugNames) {
    it(`catches ${bug} within ${seedsPerBugMax} seeds`, () => {
      const caught = hunt(bug);
      expect(caught, `${bug} went unnoticed in seeds 1..${seedsPerBugMax}`).toBeDefined();
      // The replay command reproduces the finding; print it like a failing seed would be.
      console.log(
        `${bug}: caught at seed ${caught?.seed} (${caught?.found}) -- replay: npm run sim -- --seed ${caught?.seed} --bug ${bug}`,
      );
    });
  }

  it("catches stale reads served from local state without ReadIndex", () => {
    let caughtAt: number | undefined;
    for (let seed = 1; seed <= seedsPerBugMax && caughtAt === undefined; seed++) {
      const result = runSimulation(simOptions({ seed, unsafeLocalReads: true }));
      if (result.violations.some((v) => v.kind === "linearizability")) caughtAt = seed;
    }
    expect(caughtAt, "local reads never produced a non-linearizable history").toBeDefined();
  });
});

describe("the linearizability checker", () => {
  const write = (id: number, value: string, invokedAt: number, returnedAt: number): HistoryEvent => ({
    id,
    clientId: id,
    op: { kind: "write", key: "x", value },
    invokedAt,
    returnedAt,
    output: null,
  });
  const read = (id: number, output: string | null, invokedAt: number, returnedAt: number): HistoryEvent => ({
    id,
    clientId: id,
    op: { kind: "read", key: "x" },
    invokedAt,
    returnedAt,
    output,
  });

  it("rejects a stale read after a newer acknowledged write", () => {
    const history = [write(1, "a", 0, 10), write(2, "b", 20, 30), read(3, "a", 40, 50)];
    const result = checkLinearizable(history);
    expect(result.ok).toBe(false);
  });

  it("accepts the same read when it overlaps the newer write", () => {
    const history = [write(1, "a", 0, 10), write(2, "b", 20, 45), read(3, "a", 40, 50)];
    expect(checkLinearizable(history).ok).toBe(true);
  });
});
