import { randomUUID } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import type { RequestOf, ResponseOf, UnaryMethod } from "../../src/cli/client.js";
import {
  DeleteRequest,
  DeployRequest,
  GetDeploymentRequest,
  GetSloRequest,
  ListNodesRequest,
  type GetSloResponse,
} from "../../src/gen/orchestrator/v1/orchestrator.js";
import {
  ContainerState,
  DeploymentSpec,
  NodeStatus,
  Strategy,
  type Container,
  type Deployment,
  type Event,
  type HealthCheck,
  type Node,
  type RestartPolicy,
} from "../../src/gen/orchestrator/v1/types.js";
import { isGrpcFailure, waitFor, type TestCluster } from "../cluster/harness.js";
import { SchedulerCluster, type AgentContainerJson } from "../scheduler-e2e/harness.js";

/**
 * Health and self-healing end to end (docs/architecture.md, "Health and self-healing"): three real
 * replicas and three real node-agent processes (test/scheduler-e2e/harness.ts, which cleans up
 * every process by PID), driven through the gRPC API so that the health-check spec, the restart
 * policy and the progress deadline can be set, and through the agents' fault hooks.
 *
 * Everything waits for a condition with a deadline; the only sleeps are poll intervals.
 */

/** A container as the tests look at it. */
export interface ContainerView {
  readonly id: string;
  readonly node: string;
  readonly region: string;
  readonly state: string;
  readonly desired: "running" | "stopped" | "unknown";
  readonly health: string;
  readonly restartCount: number;
  readonly nextRestartAtMs: number;
}

export interface NodeView {
  readonly id: string;
  readonly region: string;
  readonly status: "ready" | "down" | "draining" | "unknown";
  readonly agentAddress: string;
  readonly containers: number;
}

export interface DeploymentView {
  readonly deployment: Deployment;
  readonly containers: ContainerView[];
}

/** The fields of a deployment the tests set; everything else takes a small default. */
export interface HealthDeploySpec {
  readonly name: string;
  /** nginx:latest when absent. */
  readonly image?: string;
  readonly replicas: number;
  readonly cpuMillicores?: number;
  readonly memoryMib?: number;
  readonly strategy?: Strategy;
  readonly regions?: readonly string[];
  readonly onePerNode?: boolean;
  readonly healthCheck?: Partial<HealthCheck>;
  readonly restartPolicy?: Partial<RestartPolicy>;
  readonly progressDeadlineMs?: number;
}

/** One metric sample from a Prometheus text page. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** What a "restarted" event says about the back-off (health-controller.ts writes it). */
export interface RestartDecisionView {
  readonly event: Event;
  readonly delayMs: number;
  readonly ceilingMs: number;
  readonly capMs: number;
}

export function containerStateName(state: ContainerState): string {
  const name = ContainerState[state] as string | undefined;
  return name === undefined ? "unknown" : name.replace(/^CONTAINER_STATE_/, "").toLowerCase();
}

function nodeStatusName(status: NodeStatus): NodeView["status"] {
  switch (status) {
    case NodeStatus.NODE_STATUS_READY:
      return "ready";
    case NodeStatus.NODE_STATUS_DOWN:
      return "down";
    case NodeStatus.NODE_STATUS_DRAINING:
      return "draining";
    default:
      return "unknown";
  }
}

export function containerView(c: Container): ContainerView {
  return {
    id: c.id,
    node: c.node,
    region: c.region,
    state: containerStateName(c.state),
    desired: c.desiredState === 1 ? "running" : c.desiredState === 2 ? "stopped" : "unknown",
    health: c.health,
    restartCount: c.restartCount,
    nextRestartAtMs: c.nextRestartAtMs,
  };
}

/** Parses the back-off figures out of a "restarted" event ("... back-off in 412 ms (ceiling 800 ms, cap 60000 ms)"). */
export function restartDecision(event: Event): RestartDecisionView {
  const match = /back-off in (\d+) ms \(ceiling (\d+) ms, cap (\d+) ms\)/.exec(event.message);
  if (match === null) throw new Error(`restarted event without back-off figures: ${JSON.stringify(event.message)}`);
  return { event, delayMs: Number(match[1]), ceilingMs: Number(match[2]), capMs: Number(match[3]) };
}

export function parseMetrics(body: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of body.split("\n")) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)$/.exec(line);
    if (match === null) continue;
    const labels: Record<string, string> = {};
    for (const pair of (match[3] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[pair[1]] = pair[2];
    samples.push({ name: match[1], labels, value: Number(match[4]) });
  }
  return samples;
}

/** The value of the one sample of `name` whose labels include `labels`; undefined when there is none. */
export function sampleValue(
  samples: readonly Sample[],
  name: string,
  labels: Readonly<Record<string, string>> = {},
): number | undefined {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length === 0) return undefined;
  return found.reduce((sum, s) => sum + s.value, 0);
}

export async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

export class HealthCluster {
  private readonly clientId = `health-e2e-${randomUUID()}`;
  private seq = 0;
  private leader: string | undefined;
  /** Every event seen per deployment, by revision+kind+container, so a poll never loses one to the 10-event window. */
  private readonly seenEvents = new Map<string, Map<string, Event>>();

  private constructor(readonly sc: SchedulerCluster) {}

  static async start(name: string, nodesPerRegion = 2): Promise<HealthCluster> {
    const sc = await SchedulerCluster.start({ name, nodesPerRegion, cpuMillicores: 8000, memoryMib: 16384 });
    return new HealthCluster(sc);
  }

  get cluster(): TestCluster {
    return this.sc.cluster;
  }

  async close(): Promise<void> {
    await this.sc.close();
  }

  async dumpLogs(lines = 60): Promise<void> {
    await this.sc.dumpLogs(lines);
  }

  /** The current leader's id (asked of the running replicas when unknown). */
  async leaderId(refresh = false): Promise<string> {
    if (refresh || this.leader === undefined || !this.cluster.running().includes(this.leader)) {
      this.leader = (await this.cluster.waitForLeader({ timeoutMs: 30_000 })).leaderId;
    }
    return this.leader;
  }

  /**
   * One unary call to the leader. UNAVAILABLE and DEADLINE_EXCEEDED (an election, a killed
   * replica) make it find the leader again and retry, within `timeoutMs`; other errors fail.
   */
  async call<K extends UnaryMethod>(method: K, request: RequestOf<K>, timeoutMs = 30_000): Promise<ResponseOf<K>> {
    const deadline = Date.now() + timeoutMs;
    let refresh = false;
    for (;;) {
      const id = await this.leaderId(refresh);
      try {
        return await this.cluster.call(id, method, request, { timeoutMs: 3_000 });
      } catch (error) {
        const retryable =
          isGrpcFailure(error) &&
          (error.code === grpc.status.UNAVAILABLE || error.code === grpc.status.DEADLINE_EXCEEDED);
        if (!retryable || Date.now() >= deadline) throw error;
        refresh = true;
        await sleep(100);
      }
    }
  }

  private header(): { clientId: string; seq: number } {
    this.seq += 1;
    return { clientId: this.clientId, seq: this.seq };
  }

  async deploy(spec: HealthDeploySpec): Promise<Deployment> {
    const full = DeploymentSpec.fromPartial({
      name: spec.name,
      image: spec.image ?? "nginx:latest",
      replicas: spec.replicas,
      cpuMillicores: spec.cpuMillicores ?? 250,
      memoryMib: spec.memoryMib ?? 128,
      strategy: spec.strategy ?? Strategy.STRATEGY_BINPACK,
      regions: [...(spec.regions ?? [])],
      onePerNode: spec.onePerNode ?? false,
      healthCheck: spec.healthCheck,
      restartPolicy: spec.restartPolicy,
      progressDeadlineMs: spec.progressDeadlineMs ?? 0,
    });
    const response = await this.call("deploy", DeployRequest.fromPartial({ header: this.header(), spec: full }));
    if (response.deployment === undefined) throw new Error(`deploy ${spec.name}: no deployment in the answer`);
    return response.deployment;
  }

  async delete(name: string): Promise<void> {
    await this.call("delete", DeleteRequest.fromPartial({ header: this.header(), name }));
  }

  /** Deletes the deployment and waits until none of its containers is left. */
  async deleteAndWait(name: string, timeoutMs = 30_000): Promise<void> {
    await this.delete(name);
    await waitFor(
      `deployment ${name} and its containers to be gone`,
      async () => {
        try {
          await this.call("getDeployment", GetDeploymentRequest.fromPartial({ name }), 5_000);
          return false;
        } catch (error) {
          return isGrpcFailure(error) && error.code === grpc.status.NOT_FOUND;
        }
      },
      { timeoutMs, intervalMs: 200 },
    );
    await waitFor(
      `the agents to run nothing of ${name}`,
      async () =>
        (await this.allAgentInstances()).every(
          (i) => i.deployment !== name || i.state === "stopped" || i.state === "failed",
        ),
      { timeoutMs, intervalMs: 200 },
    );
  }

  /** A linearizable read of the deployment and its containers; records its recent events. */
  async get(name: string): Promise<DeploymentView> {
    const response = await this.call("getDeployment", GetDeploymentRequest.fromPartial({ name }));
    if (response.deployment === undefined) throw new Error(`deployment ${name} missing from its GetDeployment answer`);
    this.remember(name, response.deployment.recentEvents);
    return { deployment: response.deployment, containers: response.containers.map(containerView) };
  }

  async container(name: string, id: string): Promise<ContainerView> {
    const found = (await this.get(name)).containers.find((c) => c.id === id);
    if (found === undefined) throw new Error(`container ${id} not found in deployment ${name}`);
    return found;
  }

  /** Every event of the deployment seen by any get() so far, oldest first. */
  events(name: string, kind?: string, container?: string): Event[] {
    const all = [...(this.seenEvents.get(name)?.values() ?? [])];
    return all
      .filter((e) => (kind === undefined || e.kind === kind) && (container === undefined || e.container === container))
      .sort((a, b) => a.revision - b.revision);
  }

  private remember(name: string, events: readonly Event[]): void {
    let seen = this.seenEvents.get(name);
    if (seen === undefined) {
      seen = new Map();
      this.seenEvents.set(name, seen);
    }
    for (const e of events) seen.set(`${e.revision}/${e.kind}/${e.container}/${e.node}`, e);
  }

  async nodes(): Promise<NodeView[]> {
    const response = await this.call("listNodes", ListNodesRequest.fromPartial({}));
    return response.nodes.map((n: Node) => ({
      id: n.id,
      region: n.region,
      status: nodeStatusName(n.status),
      agentAddress: n.agentAddress,
      containers: n.containers,
    }));
  }

  async node(id: string): Promise<NodeView> {
    const found = (await this.nodes()).find((n) => n.id === id);
    if (found === undefined) throw new Error(`node ${id} is not registered`);
    return found;
  }

  async agentAddressOf(nodeId: string): Promise<string> {
    return (await this.node(nodeId)).agentAddress;
  }

  async slo(): Promise<GetSloResponse> {
    return this.call("getSlo", GetSloRequest.fromPartial({}));
  }

  /** Waits until the deployment has `replicas` containers, all running and healthy, and returns them. */
  async waitHealthy(name: string, replicas: number, timeoutMs = 30_000): Promise<ContainerView[]> {
    return waitFor(
      `${name}: ${replicas} containers running and healthy`,
      async () => {
        const { containers } = await this.get(name);
        const live = containers.filter((c) => c.desired === "running");
        return live.length === replicas && live.every((c) => c.state === "running" && c.health === "healthy")
          ? live
          : undefined;
      },
      { timeoutMs, intervalMs: 100 },
    );
  }

  /** POST to an agent's fault hook; fails unless the agent answers 200. */
  async fault(agentAddress: string, target: "containers" | "nodes", id: string, action: string): Promise<void> {
    const response = await fetch(`http://${agentAddress}/faults/${target}/${encodeURIComponent(id)}/${action}`, {
      method: "POST",
      signal: AbortSignal.timeout(3_000),
    });
    const body = await response.text();
    if (response.status !== 200)
      throw new Error(`fault ${action} on ${target} ${id} at ${agentAddress}: HTTP ${response.status} ${body.trim()}`);
  }

  /** A container fault through the agent of the node the container runs on. */
  async containerFault(container: ContainerView, action: "crash" | "unhealthy" | "healthy" | "hang"): Promise<void> {
    await this.fault(await this.agentAddressOf(container.node), "containers", container.id, action);
  }

  async nodeFault(nodeId: string, action: "kill" | "revive"): Promise<void> {
    await this.fault(await this.agentAddressOf(nodeId), "nodes", nodeId, action);
  }

  /** The status of GET http://<agent>/containers/<id>/health, through the agent of the container's node. */
  async healthStatus(container: ContainerView): Promise<number> {
    const address = await this.agentAddressOf(container.node);
    const response = await fetch(`http://${address}/containers/${encodeURIComponent(container.id)}/health`, {
      signal: AbortSignal.timeout(3_000),
    });
    await response.text();
    return response.status;
  }

  /** What one agent runs (its GET /containers). */
  async agentInstances(agentAddress: string): Promise<AgentContainerJson[]> {
    return this.sc.agentContainers(agentAddress);
  }

  async allAgentInstances(): Promise<AgentContainerJson[]> {
    return (await Promise.all(this.sc.agentAddresses().map((a) => this.agentInstances(a)))).flat();
  }

  /** The agent's instance of a container, if it has one. */
  async agentInstance(agentAddress: string, containerId: string): Promise<AgentContainerJson | undefined> {
    return (await this.agentInstances(agentAddress)).find((i) => i.containerId === containerId);
  }

  /** Every sample on a replica's /metrics. */
  async metrics(replicaId: string): Promise<Sample[]> {
    const response = await fetch(`http://${this.cluster.cluster.replica(replicaId).metricsAddress}/metrics`, {
      signal: AbortSignal.timeout(3_000),
    });
    return parseMetrics(await response.text());
  }

  /** Every sample on an agent's /metrics. */
  async agentMetrics(agentAddress: string): Promise<Sample[]> {
    const response = await fetch(`http://${agentAddress}/metrics`, { signal: AbortSignal.timeout(3_000) });
    return parseMetrics(await response.text());
  }
}
