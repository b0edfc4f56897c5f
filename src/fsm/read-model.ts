/**
 * Read-side views the API layer serves: a deployment with its status summary and recent
 * events, and filtered container listings. Reads never mutate the state.
 */
import type { ClusterState } from "./cluster-state.js";
import { fsmLimits } from "./limits.js";
import {
  containerStates,
  holdsCapacity,
  type ContainerRecord,
  type ContainerState,
  type DeploymentRecord,
  type FsmEvent,
  type OperationOutcome,
  type OperationRecord,
} from "./state.js";

export interface DeploymentStatusSummary {
  /** spec.replicas. */
  readonly desired: number;
  /** The containers wanted running, by state. */
  readonly byState: Readonly<Record<ContainerState, number>>;
  /** Containers wanted running that their probes find healthy. */
  readonly healthy: number;
  /** Containers wanted running that their probes find unhealthy (byState.unhealthy). */
  readonly unhealthy: number;
  /** Containers wanted running that are restarting, waiting for their backoff (byState.restarting). */
  readonly restarting: number;
  /** Surplus containers asked to stop that still hold their node's capacity. */
  readonly stopping: number;
  /** Containers lost with their node and replaced, kept as recent history (not in byState). */
  readonly lost: number;
  /** Why containers are pending, as the scheduler last said ('' when none are). */
  readonly pendingReason: string;
}

export interface DeploymentView {
  readonly deployment: Readonly<DeploymentRecord>;
  readonly status: DeploymentStatusSummary;
  /** Most recent first, at most fsmLimits.recentEventsMax. */
  readonly recentEvents: readonly FsmEvent[];
  /** The operation in progress, which the leader will judge; null when none is open. */
  readonly openOperation: OperationRecord | null;
  /** The outcome of the last closed operation; null when none has closed. */
  readonly lastOutcome: OperationOutcome | null;
}

export interface ContainerFilter {
  readonly deployment?: string;
  /** Containers assigned to this node: placed there and not yet known to have ended. */
  readonly node?: string;
  /** At most this many (0 or absent: fsmLimits.containersListDefault; capped at containersListMax). */
  readonly limit?: number;
}

export interface ContainerPage {
  readonly containers: readonly Readonly<ContainerRecord>[];
  /** Matching containers before the limit. */
  readonly total: number;
}

export interface EventFilter {
  readonly deployment?: string;
  /** Only events at or after this revision. */
  readonly sinceRevision?: number;
  /** At most this many (0 or absent: all the ring holds). */
  readonly limit?: number;
}

export function deploymentView(state: ClusterState, deployment: Readonly<DeploymentRecord>): DeploymentView {
  const name = deployment.spec.name;
  // Events of an earlier deployment of the same name are not this one's.
  const recentEvents = events(state, {
    deployment: name,
    limit: fsmLimits.recentEventsMax,
    sinceRevision: deployment.createdRevision,
  });
  return {
    deployment,
    status: deploymentStatus(state, deployment),
    recentEvents,
    openOperation: state.operations.ofDeployment(name) ?? null,
    lastOutcome: deployment.lastOutcome,
  };
}

/** The status summary alone: one pass over the deployment's containers, no event scan. */
export function deploymentStatus(state: ClusterState, deployment: Readonly<DeploymentRecord>): DeploymentStatusSummary {
  const byState = zeroByState();
  let healthy = 0;
  let stopping = 0;
  let lost = 0;
  for (const container of state.containersOf(deployment.spec.name)) {
    if (container.desired === "stopped") {
      if (holdsCapacity(container)) stopping += 1;
      else lost += 1;
      continue;
    }
    byState[container.state] += 1;
    if (container.health === "healthy") healthy += 1;
  }
  return {
    desired: deployment.spec.replicas,
    byState,
    healthy,
    unhealthy: byState.unhealthy,
    restarting: byState.restarting,
    stopping,
    lost,
    pendingReason: deployment.pendingReason,
  };
}

function zeroByState(): Record<ContainerState, number> {
  return Object.fromEntries(containerStates.map((s) => [s, 0])) as Record<ContainerState, number>;
}

/** Containers wanted running, by state, over the whole cluster: one pass, no per-deployment views. */
export function containerStateCounts(state: ClusterState): Record<ContainerState, number> {
  const byState = zeroByState();
  for (const container of state.containers.values()) {
    if (container.desired !== "stopped") byState[container.state] += 1;
  }
  return byState;
}

export function listContainers(state: ClusterState, filter: ContainerFilter = {}): ContainerPage {
  const limit = Math.min(filter.limit || fsmLimits.containersListDefault, fsmLimits.containersListMax);
  let matching: Iterable<ContainerRecord>;
  let total: number;
  if (filter.deployment !== undefined && filter.deployment !== "") {
    const node = filter.node ?? "";
    const all = state
      .containersOf(filter.deployment)
      .filter((c) => node === "" || (c.node === node && holdsCapacity(c)));
    matching = all.sort((a, b) => a.ordinal - b.ordinal);
    total = all.length;
  } else if (filter.node !== undefined && filter.node !== "") {
    const all = state
      .holdingOn(filter.node)
      .sort((a, b) => (a.deployment === b.deployment ? a.ordinal - b.ordinal : a.deployment < b.deployment ? -1 : 1));
    matching = all;
    total = all.length;
  } else {
    matching = state.containers.values();
    total = state.containers.size;
  }
  const containers: ContainerRecord[] = [];
  for (const container of matching) {
    if (containers.length >= limit) break;
    containers.push(container);
  }
  return { containers, total };
}

export function events(state: ClusterState, filter: EventFilter = {}): FsmEvent[] {
  const limit = Math.min(filter.limit || fsmLimits.eventsMax, fsmLimits.eventsMax);
  const deployment = filter.deployment ?? "";
  const since = filter.sinceRevision ?? 0;
  const out: FsmEvent[] = [];
  // A deployment's few newest events come from the ring's per-deployment index.
  const source =
    deployment !== "" && limit <= state.events.perDeploymentMax
      ? state.events.recentOf(deployment)
      : state.events.newestFirst();
  for (const event of source) {
    // Newest first: once events predate `since`, all the rest do too.
    if (out.length >= limit || event.revision < since) break;
    if (deployment === "" || event.deployment === deployment) out.push(event);
  }
  return out;
}
