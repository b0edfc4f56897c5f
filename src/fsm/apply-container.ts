/**
 * What agents observe about containers, and the leader forgetting containers whose end no
 * agent can confirm. Reports are matched to the node they come from: a container that moved,
 * was removed or was declared lost with its node is no longer that agent's business, and its
 * report is ignored (the agent stops whatever is no longer assigned to it). A crashed (failed)
 * container is revived only by the leader's restart decision, never by an agent's report.
 */
import { assertNever } from "../lib/assert.js";
import type { ContainerStatusCommand, RemoveContainerCommand } from "../gen/orchestrator/v1/fsm.js";
import { HealthState } from "../gen/orchestrator/v1/fsm.js";
import * as pb from "../gen/orchestrator/v1/types.js";
import type { ApplyResult } from "./apply-result.js";
import type { ClusterState } from "./cluster-state.js";
import { fsmLimits } from "./limits.js";
import { containerStateFromProto, healthFromProto } from "./proto-convert.js";
import { failure, success } from "./result.js";
import {
  containerTransitionAllowed,
  isTerminal,
  type ContainerRecord,
  type ContainerState,
  type EventKind,
  type Health,
} from "./state.js";
import { plainEqual, validateNodeId, validateText } from "./validation.js";
import { addressesFromProto, validateAddresses } from "./workload.js";

/** States an agent can observe; pending and scheduled are the FSM's, lost is the leader's verdict. */
const observableStates: readonly ContainerState[] = [
  "starting",
  "running",
  "unhealthy",
  "restarting",
  "stopped",
  "failed",
];

export function applyContainerStatus(state: ClusterState, command: ContainerStatusCommand, atMs: number): ApplyResult {
  const problem =
    (command.containerId === "" ? failure("INVALID_ARGUMENT", "container status without a container id") : null) ??
    validateText("container id", command.containerId, fsmLimits.containerIdLengthMax) ??
    validateNodeId(command.nodeId) ??
    validateText("status message", command.message, fsmLimits.messageLengthMax) ??
    validateAddresses(command.containerId, command.addresses?.addresses ?? []);
  if (problem !== null) return problem;
  let to: ContainerState | null = null;
  if (command.state !== pb.ContainerState.CONTAINER_STATE_UNSPECIFIED) {
    to = containerStateFromProto(command.state);
    if (to === null || !observableStates.includes(to)) {
      return failure(
        "INVALID_ARGUMENT",
        `agents report containers as ${observableStates.join(", ")}; got state ${command.state}`,
      );
    }
  }
  let health: Health | null = null;
  if (command.health !== HealthState.HEALTH_STATE_UNSPECIFIED) {
    health = healthFromProto(command.health);
    if (health === null)
      return failure(
        "INVALID_ARGUMENT",
        `container health ${command.health} is not one of healthy, unhealthy, unknown`,
      );
  }
  const ignored = (why: string): ApplyResult =>
    success({ kind: "container-status", containerId: command.containerId, applied: false, ignoredReason: why });
  const container = state.containers.get(command.containerId);
  if (container === undefined) return ignored(`container ${command.containerId} does not exist (any more)`);
  if (container.node !== command.nodeId) {
    return ignored(
      `container ${container.id} is ${container.node === "" ? "not placed" : `on node ${container.node}`}, not on ${command.nodeId}`,
    );
  }
  if (container.state === "lost")
    return ignored(
      `container ${container.id} was lost with node ${container.node} and replaced; it is no longer assigned there`,
    );
  if (command.instanceRestartCount !== undefined && command.instanceRestartCount < container.restartCount) {
    return ignored(
      `the report is about container ${container.id}'s instance of restart ${command.instanceRestartCount}; it is at restart ${container.restartCount} now`,
    );
  }
  if (
    to !== null &&
    to !== container.state &&
    (container.state === "failed" || !containerTransitionAllowed(container.state, to))
  ) {
    return failure(
      "FAILED_PRECONDITION",
      `container ${container.id} cannot go from ${container.state} to ${to}; the report is refused`,
    );
  }
  observe(state, container, to, health, command.message, atMs);
  if (state.containers.get(container.id) === container) recordAddresses(state, container, command);
  return success({ kind: "container-status", containerId: container.id, applied: true, ignoredReason: "" });
}

function observe(
  state: ClusterState,
  container: ContainerRecord,
  to: ContainerState | null,
  health: Health | null,
  message: string,
  atMs: number,
): void {
  const stateChanges = to !== null && to !== container.state;
  if (stateChanges) state.transitionContainer(container, to);
  const nextHealth = health ?? (stateChanges ? healthAfter(container.state, container.health) : container.health);
  state.setHealth(container, nextHealth, atMs);
  if (!stateChanges) return;
  if (container.desired === "stopped" && isTerminal(container.state)) {
    // The stop we asked for is done: its capacity is already released, the record goes.
    state.removeContainer(container);
    return;
  }
  const kind = eventFor(container.state);
  if (kind === null || container.desired === "stopped") return;
  const detail = message === "" ? "" : `: ${message}`;
  state.addEvent(
    atMs,
    kind,
    { deployment: container.deployment, container: container.id, node: container.node },
    `container ${container.id} ${container.state} on ${container.node}${detail}`,
  );
}

/** Unless the report says otherwise: a container that is not running has no known health. */
function healthAfter(state: ContainerState, previous: Health): Health {
  if (state === "running") return previous;
  if (state === "unhealthy") return "unhealthy";
  return "unknown";
}

/** Transitions worth an event; routine progress (starting, running) is not. */
function eventFor(to: ContainerState): EventKind | null {
  switch (to) {
    case "unhealthy":
      return "container-unhealthy";
    case "restarting":
      return "container-restarting";
    case "stopped":
      return "container-exited";
    case "failed":
      return "container-failed";
    case "lost":
      return "container-lost";
    case "pending":
    case "scheduled":
    case "starting":
    case "running":
      return null;
    default:
      return assertNever(to, "container state");
  }
}

export function applyRemoveContainer(state: ClusterState, command: RemoveContainerCommand, atMs: number): ApplyResult {
  const problem = validateText("removal reason", command.reason, fsmLimits.reasonLengthMax);
  if (problem !== null) return problem;
  const container = state.containers.get(command.containerId);
  if (container === undefined)
    return success({ kind: "remove-container", containerId: command.containerId, removed: false });
  if (container.desired === "running") {
    return failure(
      "FAILED_PRECONDITION",
      `container ${container.id} is wanted running by deployment ${container.deployment}; scale the deployment down or delete it instead of removing the container`,
    );
  }
  const node = container.node;
  state.removeContainer(container);
  const why = command.reason === "" ? "" : `: ${command.reason}`;
  state.addEvent(
    atMs,
    "container-removed",
    { deployment: container.deployment, container: container.id, node },
    `container ${container.id} forgotten on ${node}${why}`,
  );
  return success({ kind: "remove-container", containerId: container.id, removed: true });
}

/**
 * A live instance's report carries where its ports are reached; an ended one's addresses are
 * gone with it (a restarted instance reports new ones), so nobody is sent to a stale port.
 */
function recordAddresses(state: ClusterState, container: ContainerRecord, command: ContainerStatusCommand): void {
  const next =
    container.state === "starting" || container.state === "running" || container.state === "unhealthy"
      ? command.addresses === undefined
        ? container.addresses
        : addressesFromProto(command.addresses)
      : [];
  if (plainEqual(next, container.addresses)) return;
  container.addresses = next;
  state.touchContainer(container);
}
