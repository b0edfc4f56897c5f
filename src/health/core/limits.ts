import { assert } from "../../lib/assert.js";

/**
 * Every bound of the health core, units last. Relations between them are asserted when the
 * module loads, so a bad edit fails at start-up rather than in the middle of a failover.
 */
export const healthLimits = {
  /** Nodes one breaker policy tracks (the FSM keeps at most 10,000 nodes). */
  breakerNodesMax: 100_000,
  /** Sub-windows of a breaker's failure-ratio window: memory per node is bounded whatever the probe rate. */
  breakerBucketsPerWindowMax: 10,
  /** A breaker's cool-down never grows past this, whatever the policy says. */
  breakerCoolDownMsMax: 3_600_000,
  /** Restart steps counted: the exponent of the back-off stops growing here. */
  restartStepMax: 64,
  /** Nodes declared down by one liveness evaluation; the rest wait for the next one. */
  nodesDeclaredDownPerEvaluationMax: 100,
} as const;

assert(healthLimits.breakerBucketsPerWindowMax >= 1, "a breaker window needs at least one bucket");
assert(healthLimits.restartStepMax >= 1, "a restart back-off must be able to grow");
assert(healthLimits.nodesDeclaredDownPerEvaluationMax >= 1, "liveness must be able to declare a node down");
