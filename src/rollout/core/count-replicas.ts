import type { ReplicaView, RolloutView } from "./rollout-view.js";

/**
 * The deployment's replicas wanted running, split by version and by what the rollout may count.
 * A new replica is ready once it has been healthy for min_healthy_time; an old one counts as
 * soon as it is healthy (it has proven itself before).
 */
export interface ReplicaCounts {
  /** Wanted-running replicas of the rollout's version. Invariant: <= replicas (the FSM keeps it). */
  readonly current: number;
  /** Of those, the ones that count: healthy for at least min_healthy_time. */
  readonly ready: number;
  /** current - ready: replacements in flight. */
  readonly inFlight: number;
  /** Wanted-running replicas of other versions, the ones to stop first (see stopOrder). */
  readonly old: readonly ReplicaView[];
  readonly oldHealthy: number;
  /** The first new replica, by ordinal, that missed its healthy deadline (null: none). */
  readonly late: ReplicaView | null;
  /** New replicas not placed yet. */
  readonly unplaced: number;
}

export function isHealthy(replica: ReplicaView): boolean {
  return replica.state === "running" && replica.health === "healthy";
}

export function isReady(replica: ReplicaView, minHealthyTimeMs: number, nowMs: number): boolean {
  return isHealthy(replica) && nowMs - replica.healthySinceMs >= minHealthyTimeMs;
}

export function countReplicas(view: RolloutView, nowMs: number): ReplicaCounts {
  const { policy, rollout } = view;
  let current = 0;
  let ready = 0;
  let unplaced = 0;
  let late: ReplicaView | null = null;
  const old: ReplicaView[] = [];
  for (const replica of view.containers) {
    if (replica.desired !== "running") continue;
    if (replica.version !== rollout.toVersion) {
      old.push(replica);
      continue;
    }
    current += 1;
    if (isReady(replica, policy.minHealthyTimeMs, nowMs)) {
      ready += 1;
      continue;
    }
    if (replica.state === "pending") unplaced += 1;
    else if (
      nowMs >= replica.placedAtMs + policy.healthyDeadlineMs &&
      (late === null || replica.ordinal < late.ordinal)
    )
      late = replica;
  }
  old.sort(stopOrder);
  return {
    current,
    ready,
    inFlight: current - ready,
    old,
    oldHealthy: old.filter(isHealthy).length,
    late,
    unplaced,
  };
}

/** Old replicas go unplaced first, then the unhealthy, then the healthy; newest first within each. */
function stopOrder(a: ReplicaView, b: ReplicaView): number {
  const rank = (r: ReplicaView) => (r.state === "pending" ? 0 : isHealthy(r) ? 2 : 1);
  return rank(a) - rank(b) || b.ordinal - a.ordinal;
}
