import { fsmLimits } from "../fsm/index.js";
import { assert } from "../lib/assert.js";

export const applyLimits = {
  /** Deployments in one Apply or Plan request (the FSM's own bound on one apply). */
  specsMax: fsmLimits.applySpecsMax,
  /** Planned placements listed per deployment; new_replicas says how many there are in all. */
  placementsShownMax: 1_000,
} as const;

assert(applyLimits.specsMax < 10_000, "a file of 10,000 deployments is refused");
assert(applyLimits.placementsShownMax > 0, "a plan shows at least one placement");
