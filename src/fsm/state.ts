/**
 * The plain TypeScript shape of the cluster state. The FSM owns these records and mutates them
 * only inside apply(); everything handed out by the read API is to be treated as read-only.
 * Protobuf types exist only at the edges (commands, snapshots, the API converters).
 */
import type { Region } from "./limits.js";

export type NodeStatus = "ready" | "down" | "draining";
export type Strategy = "binpack" | "spread" | "latency";
export type DesiredState = "running" | "stopped";
export type Health = "healthy" | "unhealthy" | "unknown";

/**
 * pending -> scheduled -> starting -> running -> (unhealthy -> restarting -> starting) ...
 * -> stopped | failed | lost. The last three are terminal.
 */
export type ContainerState = "pending" | "scheduled" | "starting" | "running" | "unhealthy" | "restarting" | "stopped" | "failed" | "lost";

export const containerStates: readonly ContainerState[] = [
  "pending",
  "scheduled",
  "starting",
  "running",
  "unhealthy",
  "restarting",
  "stopped",
  "failed",
  "lost",
];

export interface Resources {
  cpuMillicores: number;
  memoryMib: number;
}

export interface NodeRecord {
  readonly id: string;
  /** Fixed for the node's life: a container's region is its node's. */
  readonly region: Region;
  capacity: Resources;
  /**
   * Invariant: equals the sum of the requests of the containers that hold capacity on this node
   * (see holdsCapacity), and never exceeds capacity.
   */
  allocated: Resources;
  status: NodeStatus;
  agentAddress: string;
  lastStatusChangeAtMs: number;
  statusReason: string;
}

export interface HealthCheckSpec {
  path: string;
  periodMs: number;
  timeoutMs: number;
  failureThreshold: number;
  successThreshold: number;
  initialDelayMs: number;
}

export interface RestartPolicySpec {
  initialDelayMs: number;
  factor: number;
  maxDelayMs: number;
  resetAfterMs: number;
}

/** A validated spec with every default filled in (validation.ts builds these). */
export interface DeploymentSpec {
  name: string;
  image: string;
  replicas: number;
  cpuMillicores: number;
  memoryMib: number;
  strategy: Strategy;
  /** Only place replicas in these regions (empty: any). */
  regions: Region[];
  clientRegions: Region[];
  onePerNode: boolean;
  healthCheck: HealthCheckSpec;
  restartPolicy: RestartPolicySpec;
  progressDeadlineMs: number;
}

export interface DeploymentRecord {
  /** Invariant: spec.replicas equals the number of this deployment's containers wanted running. */
  spec: DeploymentSpec;
  /** Counts spec changes; 1 at creation. Scaling changes replicas, not the version. */
  version: number;
  createdRevision: number;
  updatedRevision: number;
  /** Invariant: above the ordinal of every container of this name. */
  nextContainerOrdinal: number;
  /** Why containers are still pending, as the scheduler last explained it; '' when none are. */
  pendingReason: string;
}

export interface ContainerRecord {
  /** Invariant: `${deployment}-${ordinal}`. */
  readonly id: string;
  readonly deployment: string;
  readonly ordinal: number;
  /** The deployment version it was created from. */
  readonly version: number;
  /** Its request, kept here so capacity is released exactly even after its deployment is gone. */
  readonly cpuMillicores: number;
  readonly memoryMib: number;
  /** '' while pending; afterwards the node it was placed on (kept after it ends, for history). */
  node: string;
  /** Its node's region, '' while pending. */
  region: Region | "";
  desired: DesiredState;
  state: ContainerState;
  restartCount: number;
  /** Leader wall-clock time before which a restart must not happen (0: none pending). */
  nextRestartAtMs: number;
  health: Health;
  updatedRevision: number;
}

export type EventKind =
  | "deployed"
  | "scaled"
  | "deleted"
  | "scheduled"
  | "node-registered"
  | "node-ready"
  | "node-down"
  | "node-draining"
  | "container-unhealthy"
  | "container-restarting"
  | "container-exited"
  | "container-failed"
  | "container-lost"
  | "container-removed";

export interface FsmEvent {
  /** 1 for the first event ever appended, then consecutive. */
  readonly seq: number;
  readonly revision: number;
  readonly atMs: number;
  readonly kind: EventKind;
  readonly deployment: string;
  readonly container: string;
  readonly node: string;
  readonly message: string;
}

export function containerId(deployment: string, ordinal: number): string {
  return `${deployment}-${ordinal}`;
}

export function isTerminal(state: ContainerState): boolean {
  return state === "stopped" || state === "failed" || state === "lost";
}

/** A container holds its request on its node from placement until it is known to have ended. */
export function holdsCapacity(container: Pick<ContainerRecord, "node" | "state">): boolean {
  return container.node !== "" && !isTerminal(container.state);
}

/**
 * The lifecycle's legal moves. Agents may skip a step they did not observe (a container that
 * started between two reports goes scheduled -> running), never go back to pending or scheduled,
 * and nothing leaves a terminal state.
 */
const nextStates: Readonly<Record<ContainerState, readonly ContainerState[]>> = {
  pending: ["scheduled"],
  scheduled: ["starting", "running", "unhealthy", "restarting", "stopped", "failed", "lost"],
  starting: ["running", "unhealthy", "restarting", "stopped", "failed", "lost"],
  running: ["unhealthy", "restarting", "stopped", "failed", "lost"],
  unhealthy: ["running", "restarting", "stopped", "failed", "lost"],
  restarting: ["starting", "running", "unhealthy", "stopped", "failed", "lost"],
  stopped: [],
  failed: [],
  lost: [],
};

export function containerTransitionAllowed(from: ContainerState, to: ContainerState): boolean {
  return nextStates[from].includes(to);
}

export function fitsOn(node: Pick<NodeRecord, "capacity" | "allocated">, request: Resources): boolean {
  return (
    node.allocated.cpuMillicores + request.cpuMillicores <= node.capacity.cpuMillicores &&
    node.allocated.memoryMib + request.memoryMib <= node.capacity.memoryMib
  );
}
