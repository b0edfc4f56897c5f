/**
 * The leader's health decisions (docs/architecture.md, "Health and self-healing"): probe verdicts,
 * restarts with their backoff, and backoff resets. The leader decides (probes, thresholds,
 * delays with jitter); these commands record the decisions in the log, so a new leader sees the
 * same health, the same restart in progress and the same backoff step as the old one.
 */
import type {
  ContainerHealthCommand,
  ResetBackoffCommand,
  RestartContainerCommand,
} from "../gen/orchestrator/v1/fsm.js";
import { assert } from "../lib/assert.js";
import type { ApplyResult } from "./apply-result.js";
import { formatDuration, openOperation } from "./apply-operation.js";
import type { ClusterState } from "./cluster-state.js";
import { fsmLimits } from "./limits.js";
import { healthFromProto } from "./proto-convert.js";
import { failure, success } from "./result.js";
import {
  isTerminal,
  restartableStates,
  type ContainerRecord,
  type ContainerState,
  type EventKind,
  type Health,
} from "./state.js";
import { validateText } from "./validation.js";

function validateContainerId(id: string): ReturnType<typeof validateText> {
  if (id === "") return failure("INVALID_ARGUMENT", "container id is empty");
  return validateText("container id", id, fsmLimits.containerIdLengthMax);
}

function notFound(id: string): ApplyResult {
  return failure("NOT_FOUND", `container ${id} not found; orchctl containers lists the containers`);
}

/**
 * A probe verdict. unhealthy takes running to unhealthy; healthy takes unhealthy back to
 * running; unknown (the node is unreachable) only records that. Verdicts about containers that
 * are gone, unplaced or ended are ignored: probes race with reports and removals.
 */
export function applyContainerHealth(state: ClusterState, command: ContainerHealthCommand, atMs: number): ApplyResult {
  const problem =
    validateContainerId(command.containerId) ??
    validateText("health reason", command.reason, fsmLimits.reasonLengthMax);
  if (problem !== null) return problem;
  const health = healthFromProto(command.health);
  if (health === null)
    return failure("INVALID_ARGUMENT", `container health ${command.health} is not one of healthy, unhealthy, unknown`);
  const ignored = (why: string): ApplyResult =>
    success({ kind: "container-health", containerId: command.containerId, applied: false, ignoredReason: why });
  const container = state.containers.get(command.containerId);
  if (container === undefined) return ignored(`container ${command.containerId} does not exist (any more)`);
  if (container.node === "") return ignored(`container ${container.id} is not placed yet`);
  if (isTerminal(container.state))
    return ignored(`container ${container.id} is ${container.state}; verdicts apply to live containers`);
  const previous = container.health;
  const to = verdictState(container.state, health);
  if (to !== null) state.transitionContainer(container, to);
  state.setHealth(container, health, atMs);
  const kind = verdictEvent(previous, health, to);
  if (kind !== null && container.desired === "running") {
    const why = command.reason === "" ? "" : `: ${command.reason}`;
    state.addEvent(
      atMs,
      kind,
      { deployment: container.deployment, container: container.id, node: container.node },
      `${verdictText(kind, container)}${why}`,
    );
  }
  return success({ kind: "container-health", containerId: container.id, applied: true, ignoredReason: "" });
}

function verdictState(from: ContainerState, health: Health): ContainerState | null {
  if (health === "unhealthy" && from === "running") return "unhealthy";
  if (health === "healthy" && from === "unhealthy") return "running";
  return null;
}

/** Worth an event: falling ill, recovering, losing sight; not every routine first "healthy". */
function verdictEvent(previous: Health, health: Health, to: ContainerState | null): EventKind | null {
  if (to === "unhealthy" || (health === "unhealthy" && previous !== "unhealthy")) return "container-unhealthy";
  if (to === "running" || (health === "healthy" && previous === "unhealthy")) return "container-healthy";
  if (health === "unknown" && previous !== "unknown") return "container-health-unknown";
  return null;
}

function verdictText(kind: EventKind, container: ContainerRecord): string {
  switch (kind) {
    case "container-unhealthy":
      return `container ${container.id} unhealthy on ${container.node}`;
    case "container-healthy":
      return `container ${container.id} healthy again on ${container.node}`;
    default:
      return `health of container ${container.id} on ${container.node} unknown`;
  }
}

/**
 * The leader restarts a container in place. It must be wanted running, in a restartable state
 * (starting, running, unhealthy, or failed: a crash keeps its node's capacity for exactly
 * this), and its node must not be down (NodeDown replaces containers of a dead node instead).
 */
export function applyRestartContainer(
  state: ClusterState,
  command: RestartContainerCommand,
  atMs: number,
): ApplyResult {
  const problem =
    validateContainerId(command.containerId) ??
    validateText("restart reason", command.reason, fsmLimits.reasonLengthMax) ??
    (isUint(command.delayMs, fsmLimits.restartDelayMsMax)
      ? null
      : failure(
          "INVALID_ARGUMENT",
          `restart delay must be 0..${fsmLimits.restartDelayMsMax} ms, got ${command.delayMs}`,
        )) ??
    (isUint(command.notBeforeMs, Number.MAX_SAFE_INTEGER)
      ? null
      : failure("INVALID_ARGUMENT", `restart not-before time ${command.notBeforeMs} is not a time in milliseconds`)) ??
    (isUint(command.backoffStep, fsmLimits.restartBackoffStepMax)
      ? null
      : failure(
          "INVALID_ARGUMENT",
          `backoff step must be 0..${fsmLimits.restartBackoffStepMax}, got ${command.backoffStep}`,
        ));
  if (problem !== null) return problem;
  const container = state.containers.get(command.containerId);
  if (container === undefined) return notFound(command.containerId);
  if (container.desired === "stopped") {
    return failure(
      "FAILED_PRECONDITION",
      `container ${container.id} is being stopped (scaled down or deleted); it is not restarted`,
    );
  }
  if (!restartableStates.includes(container.state)) {
    return failure(
      "FAILED_PRECONDITION",
      `container ${container.id} is ${container.state}; only ${restartableStates.join(", ")} containers are restarted`,
    );
  }
  const node = state.nodes.get(container.node);
  if (node?.status === "down") {
    return failure(
      "FAILED_PRECONDITION",
      `container ${container.id} is on node ${container.node}, which is down; declare the node down (NodeDown) to replace its containers elsewhere`,
    );
  }
  state.transitionContainer(container, "restarting");
  container.nextRestartAtMs = command.notBeforeMs;
  container.backoffStep = command.backoffStep;
  state.setHealth(container, "unknown", atMs);
  state.touchContainer(container);
  const why = command.reason === "" ? "" : ` (${command.reason})`;
  state.addEvent(
    atMs,
    "restarted",
    { deployment: container.deployment, container: container.id, node: container.node },
    `restarted ${container.id} on ${container.node} in ${formatDuration(command.delayMs)}${why}`,
  );
  const deployment = state.deployments.get(container.deployment);
  assert(deployment !== undefined, `container ${container.id} is wanted running but its deployment is gone`);
  openOperation(state, deployment, "replacement", atMs);
  return success({
    kind: "restart-container",
    containerId: container.id,
    restartCount: container.restartCount,
    nextRestartAtMs: container.nextRestartAtMs,
    backoffStep: container.backoffStep,
  });
}

/** The container was stable past its policy's reset-after: its next restart starts the backoff over. */
export function applyResetBackoff(state: ClusterState, command: ResetBackoffCommand): ApplyResult {
  const problem = validateContainerId(command.containerId);
  if (problem !== null) return problem;
  const container = state.containers.get(command.containerId);
  if (container === undefined) return notFound(command.containerId);
  if (container.backoffStep === 0) return success({ kind: "reset-backoff", containerId: container.id, changed: false });
  container.backoffStep = 0;
  state.touchContainer(container);
  return success({ kind: "reset-backoff", containerId: container.id, changed: true });
}

function isUint(value: number, max: number): boolean {
  return Number.isSafeInteger(value) && value >= 0 && value <= max;
}
