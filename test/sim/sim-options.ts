import { assert } from "../../src/lib/assert.js";
import type { DeliberateBugs } from "../../src/raft/core/config.js";
import { simLimits } from "./sim-limits.js";

/** The kinds of fault the injector can schedule; each seed switches a random subset on. */
export const faultKinds = [
  "partition",
  "one-way-cut",
  "asymmetric",
  "crash",
  "crash-leader",
  "slow-disk",
  "false-leader-lost",
  "transfer-leadership",
  "membership",
  "lossy-network",
  "clock-drift",
] as const;
export type FaultKind = (typeof faultKinds)[number];

/** How hard a run is shaken. Each seed draws its own plan within these bounds. */
export interface FaultMix {
  /** Mean ticks between two fault events. */
  readonly eventIntervalTicksMean: number;
  /** Relative weight of each kind; a kind with weight 0 never happens. */
  readonly weights: Readonly<Record<FaultKind, number>>;
  /** Chance that a seed switches on a kind whose weight is positive. */
  readonly kindEnabledChance: number;
  readonly lossRateMax: number;
  readonly duplicateRateMax: number;
  /** Network delay is 1..delayTicksMax; above 1 messages reorder. */
  readonly delayTicksMax: number;
  /** A slow disk takes 0..persistDelayTicksMax ticks per Ready. */
  readonly persistDelayTicksMax: number;
  /** Longest partition or link cut. */
  readonly cutTicksMax: number;
  /** Longest time a crashed replica stays down. */
  readonly downTicksMax: number;
  /** A drifting replica's clock runs up to this fraction fast or slow (skipped or doubled ticks). */
  readonly clockDriftMax: number;
}

export const defaultFaultMix: FaultMix = {
  eventIntervalTicksMean: 40,
  weights: {
    partition: 3,
    "one-way-cut": 2,
    asymmetric: 2,
    crash: 3,
    "crash-leader": 3,
    "slow-disk": 2,
    "false-leader-lost": 2,
    "transfer-leadership": 2,
    membership: 3,
    "lossy-network": 1,
    "clock-drift": 1,
  },
  kindEnabledChance: 0.75,
  lossRateMax: 0.2,
  duplicateRateMax: 0.1,
  delayTicksMax: 8,
  persistDelayTicksMax: 8,
  cutTicksMax: 300,
  downTicksMax: 200,
  // Below the core's lease margin (a tenth of the election timeout), so lease reads stay safe.
  clockDriftMax: 0.05,
};

export interface SimOptions {
  readonly seed: number;
  /** Voters in the initial configuration (3 or 5); spare replicas come on top. */
  readonly replicas: number;
  /** Ticks with faults switched on; then everything heals and liveness is checked. */
  readonly faultTicks: number;
  /** After healing, a leader must commit a new write within this many ticks. */
  readonly livenessTicksMax: number;
  /** After the liveness write, every member must catch up within this many ticks. */
  readonly settleTicksMax: number;
  readonly clients: number;
  readonly keys: number;
  /** A client gives up on an operation after this many ticks: its outcome is unknown. */
  readonly opTimeoutTicks: number;
  /** A replica snapshots its state machine every this many applied entries. */
  readonly snapshotEveryEntries: number;
  /** Entries left in the log behind a snapshot, so slightly lagging followers avoid one. */
  readonly snapshotKeepEntries: number;
  readonly electionTimeoutTicks: number;
  readonly heartbeatIntervalTicks: number;
  /** "safe": ReadIndex confirms leadership with a heartbeat round; "lease": the leader trusts its lease. */
  readonly readOnly: "safe" | "lease";
  /** The core's lazyCommitBroadcast (what the real replicas use). */
  readonly lazyCommitBroadcast: boolean;
  /** Overrides the core's message size limit; tiny values send one entry per append. */
  readonly messageBytesMax: number | null;
  readonly bugs: DeliberateBugs;
  /** Deliberately unsafe: clients read any replica's local state, skipping ReadIndex, to prove stale reads get caught. */
  readonly unsafeLocalReads: boolean;
  readonly faultMix: FaultMix;
}

/** Seeds alternate between three and five replicas unless a size is forced. */
export function replicasForSeed(seed: number): number {
  return seed % 2 === 0 ? 5 : 3;
}

export function simOptions(fields: Pick<SimOptions, "seed"> & Partial<SimOptions>): SimOptions {
  const options: SimOptions = {
    replicas: replicasForSeed(fields.seed),
    faultTicks: 3_000,
    livenessTicksMax: 1_000,
    settleTicksMax: 600,
    clients: 8,
    keys: 3,
    opTimeoutTicks: 150,
    snapshotEveryEntries: 40,
    snapshotKeepEntries: 5,
    electionTimeoutTicks: 30,
    heartbeatIntervalTicks: 5,
    readOnly: "safe",
    lazyCommitBroadcast: false,
    messageBytesMax: null,
    bugs: {},
    unsafeLocalReads: false,
    faultMix: defaultFaultMix,
    ...fields,
  };
  validateSimOptions(options);
  return options;
}

function validateSimOptions(o: SimOptions): void {
  assert(Number.isSafeInteger(o.seed), "seed must be an integer");
  assert(
    o.replicas >= simLimits.replicasMin && o.replicas <= simLimits.replicasMax,
    `replicas must be ${simLimits.replicasMin}..${simLimits.replicasMax}`,
  );
  assert(o.clients >= 1 && o.clients <= simLimits.clientsMax, `clients must be 1..${simLimits.clientsMax}`);
  assert(o.keys >= 1, "at least one key");
  assert(o.faultTicks >= 0, "faultTicks must not be negative");
  assert(o.faultTicks + o.livenessTicksMax + o.settleTicksMax <= simLimits.runTicksMax, "run too long");
  assert(o.opTimeoutTicks > o.electionTimeoutTicks, "a client must outwait at least one election");
  assert(o.livenessTicksMax > 4 * o.electionTimeoutTicks, "liveness needs room for a few elections");
  assert(o.snapshotKeepEntries < o.snapshotEveryEntries, "compaction must drop something");
  assert(o.faultMix.lossRateMax >= 0 && o.faultMix.lossRateMax <= 0.5, "loss rate out of range");
  assert(o.faultMix.delayTicksMax >= 1, "messages take at least one tick");
  assert(o.faultMix.eventIntervalTicksMean >= 1, "event interval must be positive");
  assert(o.faultMix.clockDriftMax >= 0 && o.faultMix.clockDriftMax < 1, "clock drift must be a fraction");
}
