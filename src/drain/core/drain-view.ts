/**
 * The drain core's own shapes (it may not import the FSM): a draining node as the leader's drain
 * controller reads it, and the decisions it returns.
 */

export type ReplicaState =
  "pending" | "scheduled" | "starting" | "running" | "unhealthy" | "restarting" | "stopped" | "failed" | "lost";

/** One container as the drain judges it. */
export interface DrainReplica {
  readonly id: string;
  readonly deployment: string;
  readonly ordinal: number;
  /** '' while pending. */
  readonly node: string;
  readonly desired: "running" | "stopped";
  readonly state: ReplicaState;
  readonly health: "healthy" | "unhealthy" | "unknown";
  /** Leader time since which it is healthy; 0 unless healthy. */
  readonly healthySinceMs: number;
}

/** A deployment with replicas on the draining node: its policy, budget, replicas and migrations. */
export interface DrainDeploymentView {
  readonly name: string;
  readonly replicas: number;
  /** Migrations in flight at once (update.max_parallel). */
  readonly maxParallel: number;
  /** Disruption budget: healthy never below replicas - maxUnavailable because of the drain. */
  readonly maxUnavailable: number;
  /** A replacement counts once healthy this long (update.min_healthy_time). */
  readonly minHealthyTimeMs: number;
  /** No version change under way or failed half-way: replacements of its one version can start. */
  readonly converged: boolean;
  /** Every container of the deployment. */
  readonly containers: readonly DrainReplica[];
  /** Open migrations: a replica and its replacement, both wanted running. */
  readonly migrations: readonly { readonly from: string; readonly to: string }[];
}

export interface DrainView {
  readonly nodeId: string;
  /** The number the next step (or the finish) must carry. */
  readonly stepSeq: number;
  readonly deadlineAtMs: number;
  readonly ignoreSingletons: boolean;
  /** Containers holding capacity on the node (wanted running, or stopping until their agent says stopped). */
  readonly onNode: readonly DrainReplica[];
  /** The deployments of the replicas on the node wanted running, by name. */
  readonly deployments: ReadonlyMap<string, DrainDeploymentView>;
}

/** Where the drain goes next. The controller proposes the matching FSM command. */
export type DrainDecision =
  | { readonly kind: "wait"; readonly reason: string }
  | {
      readonly kind: "step";
      readonly stepSeq: number;
      readonly migrateIds: readonly string[];
      readonly stopIds: readonly string[];
      readonly atDeadline: boolean;
      readonly reason: string;
    }
  | { readonly kind: "finish"; readonly stepSeq: number; readonly reason: string };
