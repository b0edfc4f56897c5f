import {
  ContainerState,
  Deployment,
  NodeStatus,
  Strategy,
  type Container,
  type Node,
} from "../../src/gen/orchestrator/v1/types.js";

/** Small, fully populated API objects for handlers and rendering tests. */
export function sampleDeployment(
  overrides: { name?: string; replicas?: number; running?: number; pendingReason?: string } = {},
): Deployment {
  const replicas = overrides.replicas ?? 3;
  const running = overrides.running ?? replicas;
  return Deployment.fromPartial({
    spec: {
      name: overrides.name ?? "web",
      image: "nginx:latest",
      replicas,
      cpuMillicores: 500,
      memoryMib: 256,
      strategy: Strategy.STRATEGY_SPREAD,
      regions: ["us-east-1", "eu-west-1"],
    },
    version: 2,
    createdRevision: 10,
    updatedRevision: 42,
    status: {
      desired: replicas,
      running,
      healthy: running,
      pending: replicas - running,
      pendingReason: overrides.pendingReason ?? "",
    },
    recentEvents: [
      { revision: 41, atMs: 0, kind: "scaled", deployment: "web", message: "scaled to 3", actor: "alice" },
    ],
  });
}

export function sampleContainer(id: string, node: string): Container {
  return {
    id,
    deployment: "web",
    version: 2,
    node,
    region: "us-east-1",
    desiredState: 1,
    state: ContainerState.CONTAINER_STATE_RUNNING,
    restartCount: 1,
    nextRestartAtMs: 0,
    health: "healthy",
    updatedRevision: 40,
  };
}

export function sampleNode(id: string): Node {
  return {
    id,
    region: "eu-west-1",
    capacity: { cpuMillicores: 8000, memoryMib: 16384 },
    allocated: { cpuMillicores: 1500, memoryMib: 2048 },
    status: NodeStatus.NODE_STATUS_READY,
    ineligible: false,
    agentAddress: "127.0.0.1:9102",
    containers: 3,
    notReadyReason: "",
    notReadySinceMs: 0,
  };
}
