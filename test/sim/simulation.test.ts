import { describe, expect, it } from "vitest";
import { simOptions } from "./sim-options.js";
import { runSimulation } from "./simulation.js";

/** Seeds every test run covers; odd seeds run three replicas, even seeds five. */
const seedCount = 300;
/** Seeds run with lease reads (the core's optional read mode), on top. */
const leaseSeedCount = 100;
/** Seeds run with the lazy commit broadcast the real replicas use, on top. */
const lazyCommitSeedCount = 100;

/** One line per failing seed, with the command that replays it. */
function failingSeeds(from: number, count: number, mode: "default" | "lease" | "lazy-commit"): string[] {
  const failures: string[] = [];
  for (let seed = from; seed < from + count; seed++) {
    const result = runSimulation(
      simOptions({ seed, readOnly: mode === "lease" ? "lease" : "safe", lazyCommitBroadcast: mode === "lazy-commit" }),
    );
    if (result.violationCount === 0) continue;
    const first = result.violations[0];
    const replay = `npm run sim -- --seed ${seed}${mode === "default" ? "" : ` --${mode}`}`;
    failures.push(
      `seed ${seed} (${result.replicas} replicas): ${result.violationCount} violation(s), first ${first.kind}: ${first.message.split("\n")[0]} -- replay: ${replay}`,
    );
  }
  return failures;
}

describe("deterministic Raft simulator", () => {
  it(`finds no violation in seeds 1..${seedCount}`, () => {
    const failures = failingSeeds(1, seedCount, "default");
    expect(failures, `${failures.length} of ${seedCount} seeds failed:\n${failures.join("\n")}`).toEqual([]);
  });

  it(`finds no violation with lease reads in seeds 1..${leaseSeedCount}`, () => {
    const failures = failingSeeds(1, leaseSeedCount, "lease");
    expect(failures, `${failures.length} of ${leaseSeedCount} seeds failed:\n${failures.join("\n")}`).toEqual([]);
  });

  it(`finds no violation with the lazy commit broadcast in seeds 1..${lazyCommitSeedCount}`, () => {
    const failures = failingSeeds(1, lazyCommitSeedCount, "lazy-commit");
    expect(failures, `${failures.length} of ${lazyCommitSeedCount} seeds failed:\n${failures.join("\n")}`).toEqual([]);
  });

  it("gives the same trace for the same seed, every time", () => {
    for (const seed of [7, 8]) {
      const first = runSimulation(simOptions({ seed }));
      const second = runSimulation(simOptions({ seed }));
      expect(second.trace).toBe(first.trace);
      expect(second.stats).toEqual(first.stats);
      // A trace that says nothing would be trivially identical.
      expect(first.trace).toContain("leads term");
      expect(first.stats.writesAcked).toBeGreaterThan(0);
    }
  });

  it("gives different runs for different seeds", () => {
    expect(runSimulation(simOptions({ seed: 11 })).trace).not.toBe(runSimulation(simOptions({ seed: 13 })).trace);
  });
});
