/**
 * Node registration and status. Nodes are never forgotten: a dead node is marked down (its
 * containers' fate is decided by later commands, NodeDown above all), and a returning one
 * re-registers.
 */
import { assertNever } from "../lib/assert.js";
import type { NodeReadinessCommand, RegisterNodeCommand, SetNodeStatusCommand } from "../gen/orchestrator/v1/fsm.js";
import type { ApplyResult } from "./apply-result.js";
import type { ClusterState } from "./cluster-state.js";
import { fsmLimits } from "./limits.js";
import { nodeStatusFromProto } from "./proto-convert.js";
import { failure, success } from "./result.js";
import type { EventKind, NodeRecord, NodeStatus } from "./state.js";
import { validateNodeId, validateNodeRegistration, validateText } from "./validation.js";

/** Idempotent: a known node takes the new address (and capacity) and turns ready. */
export function applyRegisterNode(state: ClusterState, command: RegisterNodeCommand, atMs: number): ApplyResult {
  const checked = validateNodeRegistration(command);
  if (!checked.ok) return checked;
  const { nodeId, region, capacity, agentAddress } = checked.value;
  const existing = state.nodes.get(nodeId);
  if (existing === undefined) {
    if (state.nodes.size >= fsmLimits.nodesMax) {
      return failure(
        "RESOURCE_EXHAUSTED",
        `the cluster already has ${state.nodes.size} nodes, the most it allows; node ${nodeId} cannot join`,
      );
    }
    state.putNode({
      id: nodeId,
      region,
      capacity,
      allocated: { cpuMillicores: 0, memoryMib: 0 },
      status: "ready",
      agentAddress,
      lastStatusChangeAtMs: atMs,
      statusReason: "registered",
      eligible: true,
      drain: null,
      notReadyReason: "",
      notReadySinceMs: 0,
    });
    state.addEvent(
      atMs,
      "node-registered",
      { node: nodeId },
      `node ${nodeId} joined in ${region} with ${capacity.cpuMillicores}m cpu, ${capacity.memoryMib}Mi memory`,
    );
    return success({ kind: "register-node", nodeId, created: true });
  }
  if (existing.region !== region) {
    return failure(
      "FAILED_PRECONDITION",
      `node ${nodeId} is registered in ${existing.region}, not ${region}; a node cannot change region: register it under a new id`,
    );
  }
  if (capacity.cpuMillicores < existing.allocated.cpuMillicores || capacity.memoryMib < existing.allocated.memoryMib) {
    return failure(
      "FAILED_PRECONDITION",
      `node ${nodeId} cannot shrink to ${capacity.cpuMillicores}m cpu / ${capacity.memoryMib}Mi memory: its containers hold ${existing.allocated.cpuMillicores}m / ${existing.allocated.memoryMib}Mi; register with at least that, or stop containers first`,
    );
  }
  existing.agentAddress = agentAddress;
  existing.capacity = capacity;
  const up = upStatus(existing);
  if (existing.status !== up) setStatus(existing, up, "re-registered", atMs);
  state.touchNode(existing);
  state.addEvent(
    atMs,
    "node-registered",
    { node: nodeId },
    `node ${nodeId} re-registered at ${agentAddress}; it is ${up}`,
  );
  return success({ kind: "register-node", nodeId, created: false });
}

export function applySetNodeStatus(state: ClusterState, command: SetNodeStatusCommand, atMs: number): ApplyResult {
  const problem =
    validateNodeId(command.nodeId) ?? validateText("node status reason", command.reason, fsmLimits.reasonLengthMax);
  if (problem !== null) return problem;
  let status = nodeStatusFromProto(command.status);
  if (status === null)
    return failure("INVALID_ARGUMENT", `node status ${command.status} is not one of ready, down, draining`);
  const node = state.nodes.get(command.nodeId);
  if (node === undefined)
    return failure("NOT_FOUND", `node ${command.nodeId} is not registered; orchctl nodes lists the nodes`);
  // A node that comes back mid-drain is still draining.
  if (status === "ready") status = upStatus(node);
  if (node.status === status) return success({ kind: "set-node-status", nodeId: node.id, status, changed: false });
  const previous = node.status;
  setStatus(node, status, command.reason, atMs);
  state.touchNode(node);
  const why = command.reason === "" ? "" : `: ${command.reason}`;
  state.addEvent(atMs, statusEvent(status), { node: node.id }, `node ${node.id} ${previous} -> ${status}${why}`);
  return success({ kind: "set-node-status", nodeId: node.id, status, changed: true });
}

/** What a live node's status is: draining while a drain of it runs, else ready. */
export function upStatus(node: Readonly<NodeRecord>): NodeStatus {
  return node.drain?.state === "draining" ? "draining" : "ready";
}

/**
 * The node's agent can (ready) or cannot (not ready, with its reason) run containers. Only a
 * change is recorded (with an event); the same word again is a no-op. The status is left alone:
 * a not-ready node is alive (its heartbeats count), only unfit for new containers; the leader
 * declares it down if it stays so too long (src/health/core/node-liveness.ts).
 */
export function applyNodeReadiness(state: ClusterState, command: NodeReadinessCommand, atMs: number): ApplyResult {
  const problem =
    validateNodeId(command.nodeId) ?? validateText("node not-ready reason", command.reason, fsmLimits.reasonLengthMax);
  if (problem !== null) return problem;
  if (!command.ready && command.reason === "")
    return failure("INVALID_ARGUMENT", `node ${command.nodeId} is said not ready without a reason; give one`);
  const node = state.nodes.get(command.nodeId);
  if (node === undefined)
    return failure("NOT_FOUND", `node ${command.nodeId} is not registered; orchctl nodes lists the nodes`);
  const reason = command.ready ? "" : command.reason;
  const result = { kind: "node-readiness", nodeId: node.id, ready: command.ready } as const;
  if (node.notReadyReason === reason) return success({ ...result, changed: false });
  const wasReady = node.notReadyReason === "";
  node.notReadyReason = reason;
  // A new reason while still not ready keeps the start of the outage.
  if (command.ready) node.notReadySinceMs = 0;
  else if (wasReady) node.notReadySinceMs = atMs;
  state.touchNode(node);
  const message = command.ready
    ? `node ${node.id} is ready again: its agent can run containers`
    : `node ${node.id} not ready: ${reason}; nothing new is placed on it`;
  const kind = command.ready ? "node-ready" : "node-not-ready";
  state.addEvent(atMs, kind, { node: node.id }, message);
  // Also in the events of each deployment with containers there, so `orchctl get` shows it.
  const deployments = new Set(state.holdingOn(node.id).map((c) => c.deployment));
  for (const deployment of [...deployments].sort()) state.addEvent(atMs, kind, { deployment, node: node.id }, message);
  return success({ ...result, changed: true });
}

export function setStatus(node: NodeRecord, status: NodeStatus, reason: string, atMs: number): void {
  node.status = status;
  node.statusReason = reason;
  node.lastStatusChangeAtMs = atMs;
}

function statusEvent(status: NodeStatus): EventKind {
  switch (status) {
    case "ready":
      return "node-ready";
    case "down":
      return "node-down";
    case "draining":
      return "node-draining";
    default:
      return assertNever(status, "node status");
  }
}
