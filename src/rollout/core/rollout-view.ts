import type { RolloutProgress, UpdatePolicy } from "./rollout-policy.js";

export type ReplicaState =
  "pending" | "scheduled" | "starting" | "running" | "unhealthy" | "restarting" | "stopped" | "failed" | "lost";

/** One container of the deployment as the rollout judges it. */
export interface ReplicaView {
  readonly id: string;
  readonly ordinal: number;
  readonly version: number;
  /** Only replicas wanted running take part; the others are on their way out. */
  readonly desired: "running" | "stopped";
  readonly state: ReplicaState;
  readonly health: "healthy" | "unhealthy" | "unknown";
  /** Leader time since which it is healthy; 0 unless healthy. */
  readonly healthySinceMs: number;
  /** Leader time of its placement; 0 while pending. */
  readonly placedAtMs: number;
}

/** Everything one decision reads: a deployment, its rollout and its containers. */
export interface RolloutView {
  readonly deployment: string;
  readonly replicas: number;
  readonly policy: UpdatePolicy;
  readonly rollout: RolloutProgress;
  /** The newest version that rolled out successfully, other than the rollout's; 0 when none. */
  readonly stableVersion: number;
  /** The scheduler found no room for the pending replicas (the deployment has a pending reason). */
  readonly placementBlocked: boolean;
  readonly containers: readonly ReplicaView[];
}
