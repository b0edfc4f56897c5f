import { assert } from "../../lib/assert.js";

/**
 * Every bound of the placement engine, with units last. Relations between them are asserted
 * when the module loads.
 */
export const schedulerLimits = {
  /** Containers in one request; equals the FSM's placements per plan, which re-checks them. */
  containersPerPlanMax: 10_000,
  /** Nodes one model indexes (the FSM keeps at most 10,000). */
  nodesMax: 100_000,
  /** Distinct regions one model indexes. */
  regionsMax: 64,
  /** Largest capacity, allocation or request, in millicores or MiB: free amounts stay below 2^31. */
  resourceAmountMax: 0x7fff_ffff,
  /**
   * The limit stage scores at least this many feasible candidates (when there are that many)...
   */
  sampleCandidatesMin: 4,
  /** ...and at most this many, whatever log2 of the cluster size says. */
  sampleCandidatesMax: 16,
  /**
   * Candidates one selection looks at before it settles for the feasible ones it already has
   * (Nomad's maxSkip). With none yet, it keeps looking until the index is exhausted, so a
   * container is reported unplaceable only when no node can take it.
   */
  candidateVisitsMax: 64,
  /** Largest latency a matrix may state. */
  latencyMsMax: 60_000,
} as const;

/**
 * Free capacity is bucketed in two levels per octave (the top bit and the next one); levels run
 * from 0 (nothing free) to freeLevelTop. A row of the capacity grid is a 64-bit mask of levels.
 */
export const freeLevelsPerOctave = 2;
export const freeLevelTop = 1 + freeLevelsPerOctave * 30 + 1;
export const freeLevelCount = 64;

assert(schedulerLimits.sampleCandidatesMin >= 1, "the limit stage must score something");
assert(schedulerLimits.sampleCandidatesMin <= schedulerLimits.sampleCandidatesMax, "sample minimum within its maximum");
assert(
  schedulerLimits.sampleCandidatesMax <= schedulerLimits.candidateVisitsMax,
  "a full sample fits in the visit budget",
);
assert(schedulerLimits.resourceAmountMax < 2 ** 31, "free amounts are measured with 32-bit bit operations");
assert(freeLevelTop < freeLevelCount, "every free level has a bit in a row mask");
// Allocations are summed in float64: they stay exact integers far past any node's capacity.
assert(
  schedulerLimits.resourceAmountMax * schedulerLimits.containersPerPlanMax < Number.MAX_SAFE_INTEGER,
  "batched requests stay exact",
);
