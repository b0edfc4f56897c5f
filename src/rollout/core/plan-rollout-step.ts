import { assert } from "../../lib/assert.js";
import { isHealthy, type ReplicaCounts } from "./count-replicas.js";
import type { RolloutDecision } from "./rollout-policy.js";
import type { RolloutView } from "./rollout-view.js";

/**
 * The next step of a promoted, running rollout, health-gated:
 *
 *  - Old replicas that are not healthy go first, at most max_parallel a step: stopping them
 *    costs no healthy capacity.
 *  - Healthy old replicas are stopped only while the healthy count that remains (old healthy
 *    plus new ready) stays at or above a floor. The floor is `replicas` while the surge has room
 *    (new replicas start first and old ones go once the new ones count, so capacity never
 *    drops); it is `replicas - max_parallel` without a surge, or when the scheduler found no
 *    room for the new replicas, so stopping old ones is the only way forward. Never below
 *    replicas - max_parallel healthy because of the rollout.
 *  - New replicas start up to `replicas`, up to `replicas + max_surge` in all, and up to
 *    max_parallel not yet counted (in flight).
 *
 * Returns null when there is nothing to do now.
 */
export function planRolloutStep(view: RolloutView, counts: ReplicaCounts): RolloutDecision | null {
  const { replicas, policy, rollout } = view;
  assert(rollout.promoted && rollout.state === "running", "planning a step of a rollout that is not running");
  const notHealthy = counts.old.filter((r) => !isHealthy(r)).slice(0, policy.maxParallel);
  const healthyOld = counts.old.filter(isHealthy);
  const floor = policy.maxSurge === 0 || view.placementBlocked ? replicas - policy.maxParallel : replicas;
  const allowance = Math.max(0, counts.oldHealthy + counts.ready - floor);
  const healthyStops = healthyOld.slice(0, Math.min(allowance, healthyOld.length));
  const stops = [...notHealthy, ...healthyStops];
  const total = counts.old.length + counts.current - stops.length;
  const startCount = Math.max(
    0,
    Math.min(replicas - counts.current, replicas + policy.maxSurge - total, policy.maxParallel - counts.inFlight),
  );
  if (startCount === 0 && stops.length === 0) return null;
  return {
    kind: "step",
    toVersion: rollout.toVersion,
    stepSeq: rollout.stepSeq,
    startCount,
    stopIds: stops.map((r) => r.id),
    reason: `${counts.ready}/${replicas} of v${rollout.toVersion} ready, ${counts.inFlight} in flight, ${counts.old.length} old`,
  };
}
