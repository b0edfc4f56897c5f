/**
 * Conversions between the FSM's plain state and the protobuf types: the enums (for commands and
 * snapshots) and the API messages of orchestrator.v1 (for the API layer).
 */
import { assertNever } from "../lib/assert.js";
import { HealthState, OperationKind as PbOperationKind } from "../gen/orchestrator/v1/fsm.js";
import * as pb from "../gen/orchestrator/v1/types.js";
import { addressesToProto, workloadToProto } from "./workload.js";
import type { DeploymentStatusSummary, DeploymentView } from "./read-model.js";
import type {
  ContainerRecord,
  ContainerState,
  DeploymentSpec,
  DesiredState,
  FsmEvent,
  Health,
  NodeDrainRecord,
  NodeRecord,
  NodeStatus,
  OperationKind,
  OperationOutcome,
  OperationRecord,
  RolloutRecord,
  Strategy,
  VersionRecord,
} from "./state.js";

export function strategyToProto(strategy: Strategy): pb.Strategy {
  switch (strategy) {
    case "binpack":
      return pb.Strategy.STRATEGY_BINPACK;
    case "spread":
      return pb.Strategy.STRATEGY_SPREAD;
    case "latency":
      return pb.Strategy.STRATEGY_LATENCY;
    default:
      return assertNever(strategy, "strategy");
  }
}

/** Null for unspecified or unknown values (validation maps unspecified to the default). */
export function strategyFromProto(strategy: pb.Strategy): Strategy | null {
  switch (strategy) {
    case pb.Strategy.STRATEGY_BINPACK:
      return "binpack";
    case pb.Strategy.STRATEGY_SPREAD:
      return "spread";
    case pb.Strategy.STRATEGY_LATENCY:
      return "latency";
    default:
      return null;
  }
}

export function nodeStatusToProto(status: NodeStatus): pb.NodeStatus {
  switch (status) {
    case "ready":
      return pb.NodeStatus.NODE_STATUS_READY;
    case "down":
      return pb.NodeStatus.NODE_STATUS_DOWN;
    case "draining":
      return pb.NodeStatus.NODE_STATUS_DRAINING;
    default:
      return assertNever(status, "node status");
  }
}

/** Null for unspecified or unknown values. */
export function nodeStatusFromProto(status: pb.NodeStatus): NodeStatus | null {
  switch (status) {
    case pb.NodeStatus.NODE_STATUS_READY:
      return "ready";
    case pb.NodeStatus.NODE_STATUS_DOWN:
      return "down";
    case pb.NodeStatus.NODE_STATUS_DRAINING:
      return "draining";
    default:
      return null;
  }
}

const containerStateCodes: Readonly<Record<ContainerState, pb.ContainerState>> = {
  pending: pb.ContainerState.CONTAINER_STATE_PENDING,
  scheduled: pb.ContainerState.CONTAINER_STATE_SCHEDULED,
  starting: pb.ContainerState.CONTAINER_STATE_STARTING,
  running: pb.ContainerState.CONTAINER_STATE_RUNNING,
  unhealthy: pb.ContainerState.CONTAINER_STATE_UNHEALTHY,
  restarting: pb.ContainerState.CONTAINER_STATE_RESTARTING,
  stopped: pb.ContainerState.CONTAINER_STATE_STOPPED,
  failed: pb.ContainerState.CONTAINER_STATE_FAILED,
  lost: pb.ContainerState.CONTAINER_STATE_LOST,
};
const containerStatesByCode = new Map<number, ContainerState>(
  Object.entries(containerStateCodes).map(([state, code]) => [code, state as ContainerState]),
);

export function containerStateToProto(state: ContainerState): pb.ContainerState {
  return containerStateCodes[state];
}

/** Null for unspecified or unknown values. */
export function containerStateFromProto(state: pb.ContainerState): ContainerState | null {
  return containerStatesByCode.get(state) ?? null;
}

export function desiredStateToProto(desired: DesiredState): pb.DesiredState {
  return desired === "running" ? pb.DesiredState.DESIRED_STATE_RUNNING : pb.DesiredState.DESIRED_STATE_STOPPED;
}

export function desiredStateFromProto(desired: pb.DesiredState): DesiredState | null {
  if (desired === pb.DesiredState.DESIRED_STATE_RUNNING) return "running";
  if (desired === pb.DesiredState.DESIRED_STATE_STOPPED) return "stopped";
  return null;
}

export function healthToProto(health: Health): HealthState {
  switch (health) {
    case "healthy":
      return HealthState.HEALTH_STATE_HEALTHY;
    case "unhealthy":
      return HealthState.HEALTH_STATE_UNHEALTHY;
    case "unknown":
      return HealthState.HEALTH_STATE_UNKNOWN;
    default:
      return assertNever(health, "health");
  }
}

/** Null for unspecified or unknown values. */
export function healthFromProto(health: HealthState): Health | null {
  switch (health) {
    case HealthState.HEALTH_STATE_HEALTHY:
      return "healthy";
    case HealthState.HEALTH_STATE_UNHEALTHY:
      return "unhealthy";
    case HealthState.HEALTH_STATE_UNKNOWN:
      return "unknown";
    default:
      return null;
  }
}

export function operationKindToProto(kind: OperationKind): PbOperationKind {
  switch (kind) {
    case "deploy":
      return PbOperationKind.OPERATION_KIND_DEPLOY;
    case "scale":
      return PbOperationKind.OPERATION_KIND_SCALE;
    case "replacement":
      return PbOperationKind.OPERATION_KIND_REPLACEMENT;
    case "rollout":
      return PbOperationKind.OPERATION_KIND_ROLLOUT;
    default:
      return assertNever(kind, "operation kind");
  }
}

/** Null for unspecified or unknown values. */
export function operationKindFromProto(kind: PbOperationKind): OperationKind | null {
  switch (kind) {
    case PbOperationKind.OPERATION_KIND_DEPLOY:
      return "deploy";
    case PbOperationKind.OPERATION_KIND_SCALE:
      return "scale";
    case PbOperationKind.OPERATION_KIND_REPLACEMENT:
      return "replacement";
    case PbOperationKind.OPERATION_KIND_ROLLOUT:
      return "rollout";
    default:
      return null;
  }
}

export function openOperationToProto(operation: OperationRecord): pb.DeploymentOperation {
  return {
    id: operation.id,
    kind: operation.kind,
    startedAtMs: operation.startedAtMs,
    deadlineAtMs: operation.deadlineAtMs,
    finished: false,
    succeeded: false,
    reason: "",
    finishedAtMs: 0,
  };
}

export function outcomeToProto(outcome: OperationOutcome): pb.DeploymentOperation {
  return {
    id: outcome.operationId,
    kind: outcome.kind,
    startedAtMs: outcome.startedAtMs,
    deadlineAtMs: outcome.deadlineAtMs,
    finished: true,
    succeeded: outcome.succeeded,
    reason: outcome.reason,
    finishedAtMs: outcome.finishedAtMs,
  };
}

export function specToProto(spec: DeploymentSpec): pb.DeploymentSpec {
  return {
    name: spec.name,
    image: spec.image,
    replicas: spec.replicas,
    cpuMillicores: spec.cpuMillicores,
    memoryMib: spec.memoryMib,
    strategy: strategyToProto(spec.strategy),
    regions: [...spec.regions],
    clientRegions: [...spec.clientRegions],
    onePerNode: spec.onePerNode,
    healthCheck: { ...spec.healthCheck },
    restartPolicy: { ...spec.restartPolicy },
    progressDeadlineMs: spec.progressDeadlineMs,
    update: { ...spec.update },
    maxUnavailable: spec.maxUnavailable,
    workload: workloadToProto(spec),
  };
}

export function versionToProto(entry: VersionRecord): pb.DeploymentVersion {
  return {
    version: entry.version,
    spec: specToProto(entry.spec),
    actor: entry.actor,
    atMs: entry.atMs,
    reason: entry.reason,
    outcome: entry.outcome,
    revision: entry.revision,
  };
}

export function rolloutToProto(rollout: RolloutRecord): pb.Rollout {
  return { ...rollout, pausedBy: rollout.pausedBy ?? "" };
}

/**
 * The API's status counts cover the replicas wanted running: scheduled includes starting and
 * restarting, running includes unhealthy, failed includes exited ones. The detail breaks out
 * starting, restarting and unhealthy, and counts what is not wanted running any more: replicas
 * lost with their node and replaced (kept as history), and surplus ones still stopping.
 */
export function statusToProto(status: DeploymentStatusSummary): pb.DeploymentStatus {
  const s = status.byState;
  return {
    desired: status.desired,
    pending: s.pending,
    scheduled: s.scheduled + s.starting + s.restarting,
    running: s.running + s.unhealthy,
    healthy: status.healthy,
    failed: s.failed + s.lost + s.stopped,
    pendingReason: status.pendingReason,
    detail: {
      starting: s.starting,
      restarting: status.restarting,
      unhealthy: status.unhealthy,
      lost: status.lost,
      stopping: status.stopping,
    },
  };
}

export function deploymentToProto(view: DeploymentView): pb.Deployment {
  return {
    spec: specToProto(view.deployment.spec),
    version: view.deployment.version,
    createdRevision: view.deployment.createdRevision,
    updatedRevision: view.deployment.updatedRevision,
    specRevision: view.deployment.specRevision,
    status: statusToProto(view.status),
    recentEvents: view.recentEvents.map(eventToProto),
    openOperation: view.openOperation === null ? undefined : openOperationToProto(view.openOperation),
    lastOutcome: view.lastOutcome === null ? undefined : outcomeToProto(view.lastOutcome),
    history: view.deployment.history.map(versionToProto),
    rollout: view.deployment.rollout === null ? undefined : rolloutToProto(view.deployment.rollout),
  };
}

export function containerToProto(container: Readonly<ContainerRecord>): pb.Container {
  return {
    id: container.id,
    deployment: container.deployment,
    version: container.version,
    node: container.node,
    region: container.region,
    desiredState: desiredStateToProto(container.desired),
    state: containerStateToProto(container.state),
    restartCount: container.restartCount,
    nextRestartAtMs: container.nextRestartAtMs,
    health: container.health,
    updatedRevision: container.updatedRevision,
    healthySinceMs: container.healthySinceMs,
    placedAtMs: container.placedAtMs,
    addresses: addressesToProto(container.addresses),
  };
}

/** `containers` is the number of containers assigned to the node (holding its capacity). */
export function nodeToProto(node: Readonly<NodeRecord>, containers: number): pb.Node {
  return {
    id: node.id,
    region: node.region,
    capacity: { ...node.capacity },
    allocated: { ...node.allocated },
    status: nodeStatusToProto(node.status),
    agentAddress: node.agentAddress,
    containers,
    ineligible: !node.eligible,
    drain: node.drain === null ? undefined : nodeDrainToProto(node.drain),
    notReadyReason: node.notReadyReason,
    notReadySinceMs: node.notReadySinceMs,
  };
}

export function nodeDrainToProto(drain: Readonly<NodeDrainRecord>): pb.NodeDrain {
  return { ...drain };
}

/** A drain record from a snapshot or the API; null when its state is unknown. */
export function nodeDrainFromProto(drain: pb.NodeDrain): NodeDrainRecord | null {
  const state = drain.state === "draining" || drain.state === "complete" ? drain.state : null;
  if (state === null) return null;
  return {
    state,
    startedAtMs: drain.startedAtMs,
    deadlineAtMs: drain.deadlineAtMs,
    ignoreSingletons: drain.ignoreSingletons,
    stepSeq: drain.stepSeq,
    actor: drain.actor,
    migrated: drain.migrated,
    stoppedAtDeadline: drain.stoppedAtDeadline,
    finishedAtMs: drain.finishedAtMs,
    reason: drain.reason,
  };
}

export function eventToProto(event: FsmEvent): pb.Event {
  return {
    revision: event.revision,
    atMs: event.atMs,
    kind: event.kind,
    deployment: event.deployment,
    container: event.container,
    node: event.node,
    message: event.message,
    actor: event.actor,
  };
}
