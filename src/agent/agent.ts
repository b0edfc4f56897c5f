import type { ChannelCredentials } from "@grpc/grpc-js";
/**
 * The node agent: one region's simulated nodes. It registers them, heartbeats for the live
 * ones, keeps an assignment stream open to the leader and reconciles its simulated runtime
 * against every snapshot, reporting what its containers do. See src/agent/main.ts for flags.
 */
import { hostname } from "node:os";
import type { NodeSpec, WatchAssignmentsResponse } from "../gen/agent/v1/agent.js";
import { ContainerState, DesiredState } from "../gen/orchestrator/v1/types.js";
import { assert, assertNever } from "../lib/assert.js";
import { createLogger, type Logger } from "../lib/logger.js";
import type { RecordedState } from "./core/container-lifecycle.js";
import { reconcile, type AssignedContainer, type NodeInput, type ReconcileAction } from "./core/reconcile.js";
import { agentLimits } from "./limits.js";
import { createAgentMetrics, type AgentMetrics } from "./io/agent-metrics.js";
import {
  startAgentHttpServer,
  type AgentHttpServer,
  type ContainerFault,
  type ImageFaultRequest,
  type NodeFault,
} from "./io/agent-http-server.js";
import { AssignmentWatcher } from "./io/assignment-watcher.js";
import { ControlPlaneClient } from "./io/control-plane-client.js";
import { Heartbeater } from "./io/heartbeater.js";
import { Registrar } from "./io/registrar.js";
import { SimRuntime } from "./io/sim-runtime.js";
import type { ContainerRuntime, Instance, InstanceChange, RuntimeDriver } from "./io/container-runtime.js";
import { DockerRuntime } from "./io/docker-runtime.js";
import { workloadFromProto } from "../fsm/index.js";
import { StatusReporter } from "./io/status-reporter.js";

export interface AgentOptions {
  readonly region: string;
  /** Mutual TLS toward the control plane (--tls-ca, --tls-cert, --tls-key); plaintext when absent. */
  readonly credentials?: ChannelCredentials;
  /** An agent token (--token), sent with every call; none when absent. */
  readonly token?: string;
  readonly nodeCount: number;
  readonly cpuMillicores: number;
  readonly memoryMib: number;
  /** Control-plane API addresses (host:port), any of the replicas. */
  readonly endpoints: readonly string[];
  /** Where the HTTP server listens (port 0: a free port picked by the OS). */
  readonly httpAddress: string;
  /** The address the replicas reach the HTTP server at (default: the bound --http address). */
  readonly advertiseAddress?: string;
  readonly startDelayMs: number;
  /** Node ids are `<prefix>-n<i>`, i from 1. */
  readonly nodePrefix: string;
  readonly agentId: string;
  readonly heartbeatIntervalMs?: number;
  readonly logger?: Logger;
  /** sim (default): simulated containers; docker: real ones on the engine at dockerHost. */
  readonly driver?: RuntimeDriver;
  /** unix:///path/docker.sock or tcp://host:port (the docker driver). */
  readonly dockerHost?: string;
  /** Host ports handed to containers' named ports (the docker driver). */
  readonly hostPortFirst?: number;
  readonly hostPortLast?: number;
}

export interface AgentHandle {
  readonly agentId: string;
  readonly nodeIds: readonly string[];
  /** host:port the HTTP server is bound to. */
  readonly httpAddress: string;
  /** host:port registered as the nodes' agent address. */
  readonly advertiseAddress: string;
  /** The local containers now. */
  containers(): Instance[];
  nodeAlive(nodeId: string): boolean | undefined;
  /** An assignment stream to the leader is open and delivering. */
  connected(): boolean;
  /** The revision of the last snapshot reconciled (0 before any). */
  revision(): number;
  stop(): Promise<void>;
}

export function nodeIdsFor(prefix: string, count: number): string[] {
  assert(
    Number.isSafeInteger(count) && count >= 1 && count <= agentLimits.nodesMax,
    `node count ${count} within 1..${agentLimits.nodesMax}`,
  );
  return Array.from({ length: count }, (_, i) => `${prefix}-n${i + 1}`);
}

export async function startAgent(options: AgentOptions): Promise<AgentHandle> {
  const agent = new Agent(options);
  await agent.start();
  return agent;
}

class Agent implements AgentHandle {
  readonly agentId: string;
  readonly nodeIds: readonly string[];
  httpAddress = "";
  advertiseAddress = "";
  private readonly logger: Logger;
  private readonly alive = new Map<string, boolean>();
  private readonly abort = new AbortController();
  private readonly client: ControlPlaneClient;
  private readonly metrics: AgentMetrics;
  private readonly runtime: ContainerRuntime;
  private readonly reporter: StatusReporter;
  private readonly registrar: Registrar;
  private readonly heartbeater: Heartbeater;
  private readonly watcher: AssignmentWatcher;
  private http: AgentHttpServer | null = null;
  private latest: WatchAssignmentsResponse | null = null;
  private latestStreamSeq = 0;
  private watching: Promise<void> = Promise.resolve();

  constructor(private readonly options: AgentOptions) {
    this.agentId = options.agentId;
    this.nodeIds = nodeIdsFor(options.nodePrefix, options.nodeCount);
    for (const id of this.nodeIds) this.alive.set(id, true);
    this.logger = options.logger ?? createLogger({ agent: options.agentId, region: options.region });
    this.client = new ControlPlaneClient(options.endpoints, options.credentials, options.token);
    const signal = this.abort.signal;
    this.metrics = createAgentMetrics(
      { agent: options.agentId, region: options.region },
      {
        containersByState: () => this.runtime.countsByState(),
        nodes: () => {
          const alive = this.aliveNodeIds().length;
          return { alive, killed: this.nodeIds.length - alive };
        },
        connected: () => (this.watcher.connected ? 1 : 0),
        reportsQueued: () => this.reporter.queued,
      },
    );
    const base = { agentId: options.agentId, client: this.client, logger: this.logger, metrics: this.metrics };
    const nodeAlive = (id: string): boolean => this.alive.get(id) === true;
    this.runtime = this.createRuntime();
    this.reporter = new StatusReporter({ ...base, nodeAlive, signal });
    this.registrar = new Registrar({ ...base, nodeAlive, signal, specOf: (id) => this.nodeSpec(id) });
    this.heartbeater = new Heartbeater({
      ...base,
      intervalMs: options.heartbeatIntervalMs ?? agentLimits.heartbeatIntervalMsDefault,
      aliveNodeIds: () => this.aliveNodeIds(),
      notReadyReason: () => this.runtime.unavailableReason(),
      onReregister: (ids) => this.registrar.request(ids),
    });
    this.watcher = new AssignmentWatcher({
      ...base,
      nodeIds: this.nodeIds,
      signal,
      onSnapshot: (snapshot, seq) => this.snapshotArrived(snapshot, seq),
    });
  }

  private createRuntime(): ContainerRuntime {
    const onChange = (change: InstanceChange): void => this.containerChanged(change);
    if ((this.options.driver ?? "sim") === "sim")
      return new SimRuntime({ startDelayMs: this.options.startDelayMs, onChange });
    return new DockerRuntime({
      dockerHost: this.options.dockerHost ?? "unix:///var/run/docker.sock",
      nodeIds: this.nodeIds,
      // Filled in at start(), once the HTTP server knows its advertised address.
      advertiseHost: "",
      ...(this.options.hostPortFirst !== undefined ? { hostPortFirst: this.options.hostPortFirst } : {}),
      ...(this.options.hostPortLast !== undefined ? { hostPortLast: this.options.hostPortLast } : {}),
      logger: this.logger,
      onChange,
      onAvailability: (reason) => this.engineAvailability(reason),
    });
  }

  /** The engine went away (reason) or came back (null): containers wait; once back, reconcile. */
  private engineAvailability(reason: string | null): void {
    if (reason !== null) {
      this.logger.warn({ nodes: this.nodeIds, reason }, "nodes not ready: their container engine is unavailable");
      return;
    }
    this.logger.info({ nodes: this.nodeIds }, "nodes ready: their container engine answers");
    this.reconcile();
  }

  async start(): Promise<void> {
    this.http = await startAgentHttpServer(this.options.httpAddress, {
      metrics: this.metrics,
      instance: (id) => this.runtime.get(id),
      nodeAlive: (id) => this.alive.get(id),
      containers: () => this.containers(),
      nodes: () =>
        this.nodeIds.map((id) => ({
          id,
          alive: this.alive.get(id) === true,
          ready: this.runtime.unavailableReason() === null,
          reason: this.runtime.unavailableReason() ?? "",
        })),
      logs: (id, request, sink, signal) => this.runtime.logs(id, request, sink, signal),
      containerFault: (id, fault) => this.containerFault(id, fault),
      nodeFault: (id, fault) => this.nodeFault(id, fault),
      imageFault: (image, fault) => this.imageFault(image, fault),
    });
    this.httpAddress = this.http.address;
    this.advertiseAddress = this.options.advertiseAddress ?? advertisable(this.http.address, this.logger);
    if (this.runtime instanceof DockerRuntime) {
      this.runtime.setAdvertiseHost(this.advertiseAddress.slice(0, this.advertiseAddress.lastIndexOf(":")));
      this.runtime.open();
    }
    this.logger.info(
      {
        nodes: this.nodeIds,
        http: this.httpAddress,
        advertise: this.advertiseAddress,
        endpoints: this.options.endpoints,
        startDelayMs: this.options.startDelayMs,
        driver: this.runtime.driver,
      },
      "node agent started",
    );
    this.registrar.request(this.nodeIds);
    this.heartbeater.start();
    this.watching = this.watcher.run();
  }

  containers(): Instance[] {
    return this.runtime.list();
  }

  nodeAlive(nodeId: string): boolean | undefined {
    return this.alive.get(nodeId);
  }

  connected(): boolean {
    return this.watcher.connected;
  }

  revision(): number {
    return this.latest?.revision ?? 0;
  }

  async stop(): Promise<void> {
    if (this.abort.signal.aborted) return;
    this.abort.abort(new Error("the agent is stopping"));
    this.heartbeater.stop();
    await this.watching;
    this.runtime.close();
    this.client.close();
    await this.http?.close();
    this.logger.info({}, "node agent stopped");
  }

  private aliveNodeIds(): string[] {
    return this.nodeIds.filter((id) => this.alive.get(id) === true);
  }

  private nodeSpec(nodeId: string): NodeSpec {
    return {
      nodeId,
      region: this.options.region,
      capacity: { cpuMillicores: this.options.cpuMillicores, memoryMib: this.options.memoryMib },
      agentAddress: this.advertiseAddress,
    };
  }

  private snapshotArrived(snapshot: WatchAssignmentsResponse, streamSeq: number): void {
    this.metrics.snapshots.inc();
    const previous = this.latest;
    if (previous !== null && snapshot.revision < previous.revision) {
      // One stream never goes back, and a new leader serves its first snapshot only after a
      // ReadIndex, so it cannot either. Within a stream an older snapshot would be a straggler
      // (acting on it could stop what was just placed): ignore it. From a new stream it means
      // the cluster's state was replaced (wiped and rebuilt): that state is the truth now.
      if (streamSeq === this.latestStreamSeq) {
        this.logger.debug(
          { revision: snapshot.revision, latest: previous.revision },
          "ignoring an older assignment snapshot",
        );
        return;
      }
      this.logger.warn(
        { revision: snapshot.revision, latest: previous.revision },
        "the cluster's revision went back (was its state wiped?); following it",
      );
    }
    this.latest = snapshot;
    this.latestStreamSeq = streamSeq;
    this.reconcile();
  }

  private reconcile(): void {
    if (this.abort.signal.aborted) return;
    const snapshot = this.latest;
    if (snapshot === null) return;
    // Until the runtime knows what already runs (adoption), starting anything could duplicate it.
    if (!this.runtime.ready()) return;
    const byNode = new Map(snapshot.nodes.map((n) => [n.nodeId, n.assignments]));
    const nodes: NodeInput[] = this.nodeIds.map((nodeId) => {
      const assignments = byNode.get(nodeId);
      return { nodeId, alive: this.alive.get(nodeId) === true, assignments: assignments?.map(toAssigned) };
    });
    const actions = reconcile({
      revision: snapshot.revision,
      nodes,
      local: this.runtime.list(),
      lastReport: (id) => this.reporter.lastReport(id),
    });
    for (const action of actions) this.act(action);
    const keep = new Set(this.runtime.list().map((i) => i.containerId));
    for (const node of snapshot.nodes) for (const a of node.assignments) keep.add(a.containerId);
    this.reporter.retainOnly(keep);
  }

  private act(action: ReconcileAction): void {
    switch (action.kind) {
      case "start": {
        const { assignment } = action;
        const waitMs = Math.max(0, action.notBeforeMs - Date.now());
        this.logger.info(
          {
            container: assignment.containerId,
            node: action.nodeId,
            deployment: assignment.deployment,
            generation: action.generation,
            replacing: action.replacing,
            ...(waitMs > 0 ? { notBeforeMs: action.notBeforeMs, waitMs } : {}),
          },
          action.replacing || action.generation > 0 ? "restarting container" : "starting container",
        );
        this.runtime.start(
          {
            containerId: assignment.containerId,
            nodeId: action.nodeId,
            deployment: assignment.deployment,
            generation: action.generation,
            healthCheckPath: assignment.healthCheckPath,
            image: assignment.image,
            version: assignment.version,
            cpuMillicores: assignment.cpuMillicores,
            memoryMib: assignment.memoryMib,
            ...(assignment.workload !== undefined ? { workload: assignment.workload } : {}),
          },
          action.notBeforeMs,
        );
        return;
      }
      case "halt":
        this.logger.info({ container: action.containerId, reason: action.reason }, "halting container");
        this.runtime.halt(action.containerId);
        return;
      case "stop":
        this.logger.info({ container: action.containerId, reason: action.reason }, "stopping container");
        this.runtime.stop(action.containerId, action.reason);
        if (action.forget) this.runtime.forget(action.containerId);
        return;
      case "forget":
        this.runtime.forget(action.containerId);
        return;
      case "report": {
        this.logger.info(
          { container: action.containerId, node: action.nodeId, state: action.state },
          "the cluster's record lags this container; reporting again",
        );
        const addresses = this.runtime.get(action.containerId)?.addresses ?? [];
        this.reporter.enqueue({ ...action, message: "re-reported after reconciliation", addresses });
        return;
      }
      default:
        return assertNever(action, "reconcile action");
    }
  }

  private containerChanged(change: InstanceChange): void {
    this.metrics.transitions.inc({ to: change.state });
    this.logger.info(
      {
        container: change.containerId,
        node: change.nodeId,
        state: change.state,
        generation: change.generation,
        reason: change.message,
      },
      `container ${change.state}`,
    );
    this.reporter.enqueue(change);
  }

  private containerFault(containerId: string, fault: ContainerFault): true | string {
    const instance = this.runtime.get(containerId);
    if (instance === undefined) return `no container ${containerId} on this agent`;
    this.logger.warn({ container: containerId, node: instance.nodeId, fault }, "fault injected into a container");
    switch (fault) {
      case "crash":
        return this.runtime.crash(containerId) ? true : `container ${containerId} is not running (${instance.state})`;
      case "unhealthy":
      case "hang":
        this.runtime.setFault(containerId, fault);
        return true;
      case "healthy":
        this.runtime.setFault(containerId, "none");
        return true;
      default:
        return assertNever(fault, "container fault");
    }
  }

  private imageFault(image: string, fault: ImageFaultRequest): true | string {
    const touched = this.runtime.setImageFault(image, fault.kind === "healthy" ? null : fault);
    this.logger.warn(
      {
        image,
        fault: fault.kind,
        instances: touched,
        ...(fault.kind === "slow-start" ? { startDelayMs: fault.startDelayMs } : {}),
      },
      fault.kind === "healthy" ? "image fault cleared" : "fault injected into an image",
    );
    return true;
  }

  private nodeFault(nodeId: string, fault: NodeFault): true | string {
    const alive = this.alive.get(nodeId);
    if (alive === undefined) return `no node ${nodeId} on this agent (it runs ${this.nodeIds.join(", ")})`;
    switch (fault) {
      case "kill":
        if (!alive) return `node ${nodeId} is already killed`;
        this.alive.set(nodeId, false);
        this.logger.warn(
          { node: nodeId },
          "node killed (fault injected): no heartbeats, no reports, its containers stop answering",
        );
        return true;
      case "revive":
        if (alive) return `node ${nodeId} is not killed`;
        this.alive.set(nodeId, true);
        this.logger.warn({ node: nodeId }, "node revived (fault injected): heartbeating and reconciling again");
        this.heartbeater.beatNow();
        this.reconcile();
        return true;
      default:
        return assertNever(fault, "node fault");
    }
  }
}

function toAssigned(assignment: WatchAssignmentsResponse["nodes"][number]["assignments"][number]): AssignedContainer {
  return {
    containerId: assignment.containerId,
    deployment: assignment.deployment,
    // Anything but an explicit "running" stops: a newer control plane's unknown value is not a reason to run.
    desired: assignment.desiredState === DesiredState.DESIRED_STATE_RUNNING ? "running" : "stopped",
    recorded: recordedState(assignment.state),
    restartCount: assignment.restartCount,
    nextRestartAtMs: assignment.nextRestartAtMs,
    healthCheckPath: assignment.healthCheckPath,
    image: assignment.image,
    version: assignment.version,
    cpuMillicores: assignment.cpuMillicores,
    memoryMib: assignment.memoryMib,
    ...(assignment.workload !== undefined ? { workload: workloadFromProto(assignment.workload) } : {}),
  };
}

function recordedState(state: ContainerState): RecordedState {
  switch (state) {
    case ContainerState.CONTAINER_STATE_PENDING:
      return "pending";
    case ContainerState.CONTAINER_STATE_SCHEDULED:
      return "scheduled";
    case ContainerState.CONTAINER_STATE_STARTING:
      return "starting";
    case ContainerState.CONTAINER_STATE_RUNNING:
      return "running";
    case ContainerState.CONTAINER_STATE_UNHEALTHY:
      return "unhealthy";
    case ContainerState.CONTAINER_STATE_RESTARTING:
      return "restarting";
    case ContainerState.CONTAINER_STATE_STOPPED:
      return "stopped";
    case ContainerState.CONTAINER_STATE_FAILED:
      return "failed";
    case ContainerState.CONTAINER_STATE_LOST:
      return "lost";
    default:
      return "unknown";
  }
}

/** A wildcard bind address is no address to reach: advertise this host's name instead. */
function advertisable(bound: string, logger: Logger): string {
  const index = bound.lastIndexOf(":");
  const host = bound.slice(0, index);
  const port = bound.slice(index + 1);
  if (host !== "0.0.0.0" && host !== "[::]" && host !== "::") return bound;
  const name = `${hostname()}:${port}`;
  logger.warn(
    { http: bound, advertise: name },
    "--http binds every interface; advertising the host name (set --advertise to choose)",
  );
  return name;
}
