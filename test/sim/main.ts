/**
 * The Raft simulator's command line.
 *   npm run sim -- --seeds N [--from S]   runs seeds S..S+N-1 and ends with "N seeds, V violations"
 *   npm run sim -- --seed S               replays one seed and prints its whole trace
 * Options: --replicas 3|5 (default: odd seeds 3, even seeds 5), --ticks N (fault-phase ticks),
 * --keep N (log entries left behind each snapshot), --lease (lease reads instead of ReadIndex rounds),
 * --lazy-commit (followers learn the commit index from the next append or heartbeat, as the replicas run),
 * --bug commitWithoutQuorum|commitPreviousTermByCounting|voteTwicePerTerm (with the fault mix its test uses).
 * Exit status: 0 no violation, 1 violations, 2 usage error.
 */
import type { DeliberateBugName } from "./bug-hunt.js";
import { bugHuntOptions, deliberateBugNames } from "./bug-hunt.js";
import { replicasForSeed, simOptions } from "./sim-options.js";
import { runSimulation } from "./simulation.js";
import { formatViolation } from "./violation.js";

/** Violations printed per failing seed in --seeds mode; the replay shows them all. */
const violationsShownPerSeedMax = 3;

interface CliArgs {
  seeds: number | null;
  from: number;
  seed: number | null;
  replicas: number | null;
  ticks: number | null;
  bug: DeliberateBugName | null;
  keep: number | null;
  lease: boolean;
  lazyCommit: boolean;
}

class UsageError extends Error {}

function parseIntArg(name: string, text: string | undefined): number {
  const value = Number(text);
  if (text === undefined || !Number.isSafeInteger(value))
    throw new UsageError(`${name} needs an integer, got ${text ?? "nothing"}`);
  return value;
}

function parseArgs(argv: readonly string[]): CliArgs {
  const args: CliArgs = {
    seeds: null,
    from: 1,
    seed: null,
    replicas: null,
    ticks: null,
    bug: null,
    keep: null,
    lease: false,
    lazyCommit: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (flag === "--lease") {
      args.lease = true;
      continue;
    }
    if (flag === "--lazy-commit") {
      args.lazyCommit = true;
      continue;
    }
    switch (flag) {
      case "--seeds":
        args.seeds = parseIntArg(flag, value);
        break;
      case "--from":
        args.from = parseIntArg(flag, value);
        break;
      case "--seed":
        args.seed = parseIntArg(flag, value);
        break;
      case "--replicas":
        args.replicas = parseIntArg(flag, value);
        if (args.replicas !== 3 && args.replicas !== 5) throw new UsageError("--replicas must be 3 or 5");
        break;
      case "--ticks":
        args.ticks = parseIntArg(flag, value);
        break;
      case "--keep":
        args.keep = parseIntArg(flag, value);
        break;
      case "--bug": {
        const bug = deliberateBugNames.find((name) => name === value);
        if (bug === undefined) throw new UsageError(`--bug must be one of ${deliberateBugNames.join(", ")}`);
        args.bug = bug;
        break;
      }
      default:
        throw new UsageError(`unknown argument ${flag}`);
    }
    i++;
  }
  if ((args.seeds === null) === (args.seed === null)) throw new UsageError("give exactly one of --seeds N or --seed S");
  if (args.seeds !== null && args.seeds < 1) throw new UsageError("--seeds must be at least 1");
  return args;
}

function optionsFor(seed: number, args: CliArgs): ReturnType<typeof simOptions> {
  // A deliberate bug runs with the fault mix tuned to expose it, as its test does.
  const hunt = args.bug === null ? {} : bugHuntOptions(args.bug);
  return simOptions({
    seed,
    replicas: replicasForSeed(seed),
    ...hunt,
    ...(args.replicas !== null ? { replicas: args.replicas } : {}),
    ...(args.ticks !== null ? { faultTicks: args.ticks } : {}),
    ...(args.keep !== null ? { snapshotKeepEntries: args.keep } : {}),
    ...(args.lease ? { readOnly: "lease" as const } : {}),
    ...(args.lazyCommit ? { lazyCommitBroadcast: true } : {}),
  });
}

function replayCommand(seed: number, args: CliArgs): string {
  const extra = [
    args.replicas !== null ? `--replicas ${args.replicas}` : "",
    args.ticks !== null ? `--ticks ${args.ticks}` : "",
    args.bug !== null ? `--bug ${args.bug}` : "",
    args.keep !== null ? `--keep ${args.keep}` : "",
    args.lease ? "--lease" : "",
    args.lazyCommit ? "--lazy-commit" : "",
  ].filter((s) => s !== "");
  return `npm run sim -- --seed ${seed}${extra.length > 0 ? ` ${extra.join(" ")}` : ""}`;
}

function replay(seed: number, args: CliArgs): number {
  const result = runSimulation(optionsFor(seed, args));
  console.log(result.trace);
  console.log(`seed ${seed}, ${result.violationCount} violations`);
  return result.violationCount > 0 ? 1 : 0;
}

function runMany(count: number, args: CliArgs): number {
  const startedMs = Date.now();
  let violations = 0;
  for (let seed = args.from; seed < args.from + count; seed++) {
    const result = runSimulation(optionsFor(seed, args));
    if (result.violationCount === 0) continue;
    violations += result.violationCount;
    const kinds = [...new Set(result.violations.map((v) => v.kind))].join(", ");
    console.log(
      `seed ${seed} (${result.replicas} replicas): ${result.violationCount} violation(s): ${kinds} -- replay: ${replayCommand(seed, args)}`,
    );
    for (const v of result.violations.slice(0, violationsShownPerSeedMax))
      console.log(`  ${formatViolation(v).split("\n")[0]}`);
  }
  console.log(`elapsed ${((Date.now() - startedMs) / 1000).toFixed(1)} s`);
  console.log(`${count} seeds, ${violations} violations`);
  return violations > 0 ? 1 : 0;
}

function main(argv: readonly string[]): number {
  let args: CliArgs;
  try {
    args = parseArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`sim: ${error.message}`);
    console.error(
      "usage: npm run sim -- --seeds N [--from S] | --seed S  [--replicas 3|5] [--ticks N] [--keep N] [--lease] [--bug NAME]",
    );
    return 2;
  }
  return args.seed !== null ? replay(args.seed, args) : runMany(args.seeds ?? 0, args);
}

process.exitCode = main(process.argv.slice(2));
