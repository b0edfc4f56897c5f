import { assert } from "../../lib/assert.js";
import { isHealthy } from "./count-replicas.js";
import type { RolloutView } from "./rollout-view.js";

/**
 * When the next new replica that is healthy but not counted yet will count (its healthy time
 * plus min_healthy_time), or null when none is waiting on time alone. Nothing in the cluster
 * changes at that moment, so no change feed announces it: the controller sets a timer for it,
 * and the rollout moves at the policy's pace instead of the next tick's.
 */
export function nextReadyAtMs(view: RolloutView, nowMs: number): number | null {
  assert(Number.isFinite(nowMs), "time must be finite");
  const { policy, rollout } = view;
  let next: number | null = null;
  for (const replica of view.containers) {
    if (replica.desired !== "running" || replica.version !== rollout.toVersion || !isHealthy(replica)) continue;
    const readyAtMs = replica.healthySinceMs + policy.minHealthyTimeMs;
    if (readyAtMs > nowMs && (next === null || readyAtMs < next)) next = readyAtMs;
  }
  return next;
}
