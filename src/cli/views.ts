import {
  ContainerState,
  DesiredState,
  NodeStatus,
  Strategy,
  type Container,
  type Deployment,
  type DeploymentSpec,
  type DeploymentStatus,
  type Event,
  type Node,
  type Resources,
} from "../gen/orchestrator/v1/types.js";

/**
 * The API's entities as plain JSON for --output json: enum values as lowercase names
 * ("running", "spread"), every field present (ts-proto's toJSON would drop zeros), units in the
 * field names. These shapes are what scripts read, so they change only by adding fields.
 */

/** "CONTAINER_STATE_RUNNING" -> "running"; unspecified or unknown values become `fallback`. */
function enumName(names: Record<number, string>, value: number, prefix: string, fallback: string): string {
  const name = names[value];
  if (name === undefined || !name.startsWith(prefix) || name.endsWith("_UNSPECIFIED")) return fallback;
  return name.slice(prefix.length).toLowerCase().replaceAll("_", "-");
}

export function strategyName(strategy: Strategy): string {
  // The proto says an unset strategy means binpack.
  return enumName(Strategy, strategy, "STRATEGY_", "binpack");
}

export function containerStateName(state: ContainerState): string {
  return enumName(ContainerState, state, "CONTAINER_STATE_", "unknown");
}

export function desiredStateName(state: DesiredState): string {
  return enumName(DesiredState, state, "DESIRED_STATE_", "unknown");
}

export function nodeStatusName(status: NodeStatus): string {
  return enumName(NodeStatus, status, "NODE_STATUS_", "unknown");
}

export const STRATEGY_BY_NAME: Readonly<Record<string, Strategy>> = {
  binpack: Strategy.STRATEGY_BINPACK,
  spread: Strategy.STRATEGY_SPREAD,
  latency: Strategy.STRATEGY_LATENCY,
};

const EMPTY_STATUS: DeploymentStatus = {
  desired: 0,
  pending: 0,
  scheduled: 0,
  running: 0,
  healthy: 0,
  failed: 0,
  pendingReason: "",
};

export function statusOf(deployment: Deployment): DeploymentStatus {
  return deployment.status ?? EMPTY_STATUS;
}

export function specOf(deployment: Deployment): DeploymentSpec {
  return (
    deployment.spec ?? {
      name: "",
      image: "",
      replicas: 0,
      cpuMillicores: 0,
      memoryMib: 0,
      strategy: Strategy.STRATEGY_UNSPECIFIED,
      regions: [],
      clientRegions: [],
      onePerNode: false,
      progressDeadlineMs: 0,
    }
  );
}

export function eventView(event: Event) {
  return {
    revision: event.revision,
    atMs: event.atMs,
    at: event.atMs > 0 ? new Date(event.atMs).toISOString() : null,
    kind: event.kind,
    deployment: event.deployment,
    container: event.container,
    node: event.node,
    message: event.message,
    actor: event.actor,
  };
}

export function deploymentView(deployment: Deployment) {
  const spec = specOf(deployment);
  const status = statusOf(deployment);
  return {
    name: spec.name,
    image: spec.image,
    replicas: spec.replicas,
    cpuMillicores: spec.cpuMillicores,
    memoryMib: spec.memoryMib,
    strategy: strategyName(spec.strategy),
    regions: spec.regions,
    clientRegions: spec.clientRegions,
    onePerNode: spec.onePerNode,
    healthCheck: spec.healthCheck ?? null,
    restartPolicy: spec.restartPolicy ?? null,
    progressDeadlineMs: spec.progressDeadlineMs,
    version: deployment.version,
    createdRevision: deployment.createdRevision,
    updatedRevision: deployment.updatedRevision,
    status: { ...status },
    recentEvents: deployment.recentEvents.map(eventView),
  };
}

export function containerView(container: Container) {
  return {
    id: container.id,
    deployment: container.deployment,
    version: container.version,
    node: container.node,
    region: container.region,
    state: containerStateName(container.state),
    desiredState: desiredStateName(container.desiredState),
    health: container.health === "" ? "unknown" : container.health,
    restartCount: container.restartCount,
    nextRestartAtMs: container.nextRestartAtMs,
    updatedRevision: container.updatedRevision,
    addresses: addressesView(container),
  };
}

/** name -> host:port of each named port (empty for simulated containers). */
export function addressesView(container: Container): Record<string, string> {
  return Object.fromEntries((container.addresses?.addresses ?? []).map((a) => [a.name, a.address]));
}

function resourcesView(resources: Resources | undefined) {
  return { cpuMillicores: resources?.cpuMillicores ?? 0, memoryMib: resources?.memoryMib ?? 0 };
}

export function nodeView(node: Node) {
  return {
    id: node.id,
    region: node.region,
    status: nodeStatusName(node.status),
    capacity: resourcesView(node.capacity),
    allocated: resourcesView(node.allocated),
    containers: node.containers,
    agentAddress: node.agentAddress,
    eligible: !node.ineligible,
    drain: node.drain === undefined ? null : { ...node.drain },
    // Empty when the node's agent can run containers.
    notReadyReason: node.notReadyReason,
    notReadySinceMs: node.notReadySinceMs,
  };
}
