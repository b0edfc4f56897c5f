/**
 * Rollout commands. The leader's rollout controller decides (src/rollout/core) and these record
 * its decisions: steps, the end, the automatic revert, and the burn-rate pause; operators
 * promote, pause, resume and undo. Each step carries the rollout's step counter, so a step
 * proposed twice (an old and a new leader) is applied once, and none is skipped.
 */
import {
  RolloutOutcome,
  RolloutPauser as PbRolloutPauser,
  type RolloutFinishCommand,
  type RolloutPauseCommand,
  type RolloutPromoteCommand,
  type RolloutResumeCommand,
  type RolloutRevertCommand,
  type RolloutStepCommand,
  type RolloutUndoCommand,
} from "../gen/orchestrator/v1/fsm.js";
import { closeOperation } from "./apply-operation.js";
import type { ApplyResult } from "./apply-result.js";
import type { ClusterState } from "./cluster-state.js";
import { fsmLimits } from "./limits.js";
import { failure, success, type FsmFailure } from "./result.js";
import {
  isHealthy,
  isRolloutActive,
  isTerminal,
  type ContainerRecord,
  type DeploymentRecord,
  type RolloutPauser,
  type RolloutRecord,
} from "./state.js";
import { specDifferences, validateDeploymentName, validateText } from "./validation.js";
import { rollbackSpec, stableVersion, startVersion, versionEntry } from "./version-history.js";

/** Stopped replicas named in a step's event before it summarises the rest. */
const stopsInEventMax = 5;

/** The actor of the leader's own decisions. */
export const leaderActor = "rollout-controller";

function invalid(message: string): FsmFailure {
  return failure("INVALID_ARGUMENT", message);
}

function isUint(value: number, max: number): boolean {
  return Number.isSafeInteger(value) && value >= 0 && value <= max;
}

/** The deployment and its active rollout, or why a rollout command cannot apply. */
function activeRollout(
  state: ClusterState,
  name: string,
  toVersion: number,
): FsmFailure | { deployment: DeploymentRecord; rollout: RolloutRecord } {
  const problem =
    validateDeploymentName(name) ??
    (isUint(toVersion, Number.MAX_SAFE_INTEGER) ? null : invalid(`to_version ${toVersion} is not a version`));
  if (problem !== null) return problem;
  const deployment = state.deployments.get(name);
  if (deployment === undefined)
    return failure("NOT_FOUND", `deployment ${name} not found; orchctl list shows the deployments`);
  const rollout = deployment.rollout;
  if (rollout === null || !isRolloutActive(rollout.state)) {
    const last =
      rollout === null
        ? "it has never rolled out a new version"
        : `its last rollout, to v${rollout.toVersion}, ${rollout.state}`;
    return failure(
      "FAILED_PRECONDITION",
      `deployment ${name} has no rollout in progress (${last}); deploy a changed spec to start one`,
    );
  }
  if (toVersion !== 0 && rollout.toVersion !== toVersion)
    return failure("FAILED_PRECONDITION", `deployment ${name} is rolling out v${rollout.toVersion}, not v${toVersion}`);
  return { deployment, rollout };
}

function wantedRunning(state: ClusterState, name: string) {
  return state.containersOf(name).filter((c) => c.desired === "running");
}

export function applyRolloutStep(state: ClusterState, command: RolloutStepCommand, atMs: number): ApplyResult {
  const ids = command.stopContainerIds;
  const problem =
    (isUint(command.stepSeq, Number.MAX_SAFE_INTEGER)
      ? null
      : invalid(`step_seq ${command.stepSeq} is not a step number`)) ??
    (command.startCount <= fsmLimits.rolloutStepContainersMax && ids.length <= fsmLimits.rolloutStepContainersMax
      ? null
      : invalid(`a rollout step starts and stops at most ${fsmLimits.rolloutStepContainersMax} containers each`)) ??
    validateText("step reason", command.reason, fsmLimits.reasonLengthMax) ??
    (new Set(ids).size === ids.length ? null : invalid("a rollout step names a container to stop twice"));
  if (problem !== null) return problem;
  const found = activeRollout(state, command.deployment, command.toVersion);
  if ("ok" in found) return found;
  const { deployment, rollout } = found;
  const name = deployment.spec.name;
  const result = {
    kind: "rollout-step",
    deployment: name,
    toVersion: rollout.toVersion,
    stepSeq: command.stepSeq,
  } as const;
  if (command.stepSeq !== rollout.stepSeq) {
    const why = command.stepSeq < rollout.stepSeq ? "was already applied" : "is ahead of the rollout";
    return success({
      ...result,
      applied: false,
      started: 0,
      stopped: 0,
      ignoredReason: `step ${command.stepSeq} ${why} (next: ${rollout.stepSeq})`,
    });
  }
  if (rollout.state !== "running")
    return failure(
      "FAILED_PRECONDITION",
      `the rollout of ${name} to v${rollout.toVersion} is ${rollout.state}; no step is taken`,
    );
  if (!rollout.promoted && ids.length > 0)
    return failure(
      "FAILED_PRECONDITION",
      `the rollout of ${name} is in its canary phase: old replicas are stopped only after promotion`,
    );
  const victims = checkStep(state, deployment, rollout, command);
  if (!Array.isArray(victims)) return victims;
  if (state.containers.size + command.startCount > fsmLimits.containersMax)
    return failure(
      "RESOURCE_EXHAUSTED",
      `the cluster holds ${state.containers.size} containers; ${command.startCount} more do not fit`,
    );
  for (const container of victims) {
    if (container.node === "" || isTerminal(container.state)) state.removeContainer(container);
    else state.stopContainer(container);
  }
  for (let i = 0; i < command.startCount; i++) state.createContainer(deployment);
  rollout.stepSeq += 1;
  rollout.lastProgressAtMs = atMs;
  const canary = Math.min(deployment.spec.update.canary, deployment.spec.replicas);
  const awaiting =
    !rollout.promoted && wantedRunning(state, name).filter((c) => c.version === rollout.toVersion).length >= canary;
  if (awaiting) rollout.state = "awaiting-promotion";
  state.touchDeployment(deployment);
  const why = command.reason === "" ? "" : ` (${command.reason})`;
  const shown = victims.slice(0, stopsInEventMax).map((c) => c.id);
  const more = victims.length > stopsInEventMax ? ` and ${victims.length - stopsInEventMax} more` : "";
  const stopped = victims.length === 0 ? "" : `, stopping ${shown.join(", ")}${more}`;
  state.addEvent(
    atMs,
    "rollout-step",
    { deployment: name },
    `step ${command.stepSeq} of ${name} to v${rollout.toVersion}: started ${command.startCount}${stopped}${why}`,
  );
  if (awaiting)
    state.addEvent(
      atMs,
      "rollout-awaiting-promotion",
      { deployment: name },
      `${canary} canaries of ${name} v${rollout.toVersion} started; orchctl rollout promote ${name} continues`,
    );
  return success({ ...result, applied: true, started: command.startCount, stopped: victims.length, ignoredReason: "" });
}

/**
 * What a step stops, re-checked against the state at this point of the log: old replicas of the
 * deployment wanted running; no more new ones than `replicas`; and no stop of healthy ones that
 * would leave fewer than replicas - max_parallel healthy (the core never asks it; a step decided
 * on a state that has since moved might).
 */
function checkStep(
  state: ClusterState,
  deployment: DeploymentRecord,
  rollout: RolloutRecord,
  command: RolloutStepCommand,
): ContainerRecord[] | FsmFailure {
  const name = deployment.spec.name;
  const ids = command.stopContainerIds;
  const wanted = wantedRunning(state, name);
  const victims: ContainerRecord[] = [];
  for (const id of ids) {
    const container = state.containers.get(id);
    if (container === undefined || container.deployment !== name || container.desired !== "running")
      return failure(
        "FAILED_PRECONDITION",
        `container ${id} is not a replica of ${name} wanted running; the step is refused`,
      );
    if (container.version === rollout.toVersion)
      return failure(
        "FAILED_PRECONDITION",
        `container ${id} already runs v${rollout.toVersion}; a step stops only old replicas`,
      );
    victims.push(container);
  }
  const current = wanted.filter((c) => c.version === rollout.toVersion).length;
  if (current + command.startCount > deployment.spec.replicas)
    return failure(
      "FAILED_PRECONDITION",
      `starting ${command.startCount} would run ${current + command.startCount} replicas of v${rollout.toVersion}, more than ${deployment.spec.replicas}`,
    );
  const healthyStops = victims.filter(isHealthy).length;
  const floor = deployment.spec.replicas - deployment.spec.update.maxParallel;
  const healthyAfter = wanted.filter(isHealthy).length - healthyStops;
  if (healthyStops > 0 && healthyAfter < floor)
    return failure(
      "FAILED_PRECONDITION",
      `stopping ${healthyStops} healthy replicas of ${name} would leave ${healthyAfter} healthy, below replicas - max_parallel (${floor})`,
    );
  return victims;
}

export function applyRolloutFinish(state: ClusterState, command: RolloutFinishCommand, atMs: number): ApplyResult {
  const problem = validateText("finish reason", command.reason, fsmLimits.reasonLengthMax);
  if (problem !== null) return problem;
  if (
    command.outcome !== RolloutOutcome.ROLLOUT_OUTCOME_SUCCEEDED &&
    command.outcome !== RolloutOutcome.ROLLOUT_OUTCOME_FAILED
  )
    return invalid(`rollout outcome ${command.outcome} is neither succeeded nor failed`);
  const found = activeRollout(state, command.deployment, command.toVersion);
  if ("ok" in found) return found;
  const { deployment, rollout } = found;
  const name = deployment.spec.name;
  const succeeded = command.outcome === RolloutOutcome.ROLLOUT_OUTCOME_SUCCEEDED;
  if (succeeded) {
    const wanted = wantedRunning(state, name);
    const current = wanted.filter((c) => c.version === rollout.toVersion).length;
    if (wanted.length !== deployment.spec.replicas || current !== wanted.length)
      return failure(
        "FAILED_PRECONDITION",
        `${name} runs ${current} of ${wanted.length} replicas at v${rollout.toVersion} and wants ${deployment.spec.replicas}: the rollout has not succeeded yet`,
      );
  }
  endRollout(state, deployment, rollout, succeeded, command.reason, atMs);
  return success({ kind: "rollout-finish", deployment: name, toVersion: rollout.toVersion, state: rollout.state });
}

function endRollout(
  state: ClusterState,
  deployment: DeploymentRecord,
  rollout: RolloutRecord,
  succeeded: boolean,
  reason: string,
  atMs: number,
): void {
  const name = deployment.spec.name;
  rollout.state = succeeded ? (rollout.isRevert ? "reverted" : "succeeded") : "failed";
  rollout.pausedBy = null;
  rollout.finishedAtMs = atMs;
  rollout.reason = reason;
  const entry = versionEntry(deployment, rollout.toVersion);
  if (entry !== undefined) entry.outcome = succeeded ? "succeeded" : "failed";
  state.touchDeployment(deployment);
  if (state.operations.get(rollout.operationId) !== undefined)
    closeOperation(state, rollout.operationId, succeeded, reason, atMs);
  const why = reason === "" ? "" : `: ${reason}`;
  state.addEvent(
    atMs,
    succeeded ? "rollout-succeeded" : "rollout-failed",
    { deployment: name },
    `rollout of ${name} to v${rollout.toVersion} ${rollout.state}${why}`,
  );
}

/** Ends the failing rollout (counted failed) and rolls back to the last version that rolled out. */
export function applyRolloutRevert(state: ClusterState, command: RolloutRevertCommand, atMs: number): ApplyResult {
  const problem = validateText("revert reason", command.reason, fsmLimits.reasonLengthMax);
  if (problem !== null) return problem;
  const found = activeRollout(state, command.deployment, command.toVersion);
  if ("ok" in found) return found;
  const { deployment, rollout } = found;
  const name = deployment.spec.name;
  if (rollout.isRevert)
    return failure(
      "FAILED_PRECONDITION",
      `the rollout of ${name} to v${rollout.toVersion} is itself a revert; finish it as failed instead`,
    );
  const target = stableVersion(deployment, rollout.toVersion);
  if (target === undefined)
    return failure(
      "FAILED_PRECONDITION",
      `no version of ${name} has rolled out successfully; there is nothing to revert to`,
    );
  const failedVersion = rollout.toVersion;
  endRollout(state, deployment, rollout, false, command.reason, atMs);
  startVersion(
    state,
    deployment,
    rollbackSpec(deployment, target),
    { actor: leaderActor, atMs, reason: `auto-revert to v${target.version} after: ${command.reason}` },
    { isRevert: true, skipCanary: true },
  );
  state.addEvent(
    atMs,
    "rollout-reverting",
    { deployment: name },
    `reverting ${name} from v${failedVersion} to the spec of v${target.version} as v${deployment.version}`,
  );
  return success({
    kind: "rollout-revert",
    deployment: name,
    failedVersion,
    revertedTo: target.version,
    version: deployment.version,
  });
}

export function applyRolloutPromote(state: ClusterState, command: RolloutPromoteCommand, atMs: number): ApplyResult {
  const problem = validateText("actor", command.actor, fsmLimits.actorLengthMax);
  if (problem !== null) return problem;
  const found = activeRollout(state, command.deployment, 0);
  if ("ok" in found) return found;
  const { deployment, rollout } = found;
  const name = deployment.spec.name;
  if (rollout.promoted)
    return failure(
      "FAILED_PRECONDITION",
      `the rollout of ${name} to v${rollout.toVersion} has no canary phase to promote (${rollout.state})`,
    );
  rollout.promoted = true;
  if (rollout.state === "awaiting-promotion") rollout.state = "running";
  rollout.lastProgressAtMs = atMs;
  state.touchDeployment(deployment);
  state.addEvent(
    atMs,
    "rollout-promoted",
    { deployment: name },
    `canaries of ${name} v${rollout.toVersion} promoted by ${command.actor || state.actor || "an operator"}`,
  );
  return success({ kind: "rollout-control", deployment: name, state: rollout.state, changed: true });
}

function pauser(by: PbRolloutPauser): RolloutPauser | null {
  if (by === PbRolloutPauser.ROLLOUT_PAUSER_OPERATOR) return "operator";
  if (by === PbRolloutPauser.ROLLOUT_PAUSER_BURN_RATE) return "burn-rate";
  return null;
}

/** What a pause and a resume both check first: who asks, their texts, and the active rollout. */
function pauseControl(
  state: ClusterState,
  command: RolloutPauseCommand | RolloutResumeCommand,
  verb: "pause" | "resume",
):
  | FsmFailure
  | {
      by: RolloutPauser;
      deployment: DeploymentRecord;
      rollout: RolloutRecord;
      name: string;
      unchanged: { kind: "rollout-control"; deployment: string; state: RolloutRecord["state"]; changed: false };
    } {
  const by = pauser(command.by);
  if (by === null) return invalid(`a ${verb} says who ${verb}s: operator or burn-rate`);
  const problem =
    validateText(`${verb} reason`, command.reason, fsmLimits.reasonLengthMax) ??
    validateText("actor", command.actor, fsmLimits.actorLengthMax);
  if (problem !== null) return problem;
  const found = activeRollout(state, command.deployment, command.toVersion);
  if ("ok" in found) return found;
  const { deployment, rollout } = found;
  const name = deployment.spec.name;
  const unchanged = { kind: "rollout-control", deployment: name, state: rollout.state, changed: false } as const;
  return { by, deployment, rollout, name, unchanged };
}

/** An operator's pause outranks the burn-rate one: only the operator lifts it. */
export function applyRolloutPause(state: ClusterState, command: RolloutPauseCommand, atMs: number): ApplyResult {
  const found = pauseControl(state, command, "pause");
  if ("ok" in found) return found;
  const { by, deployment, rollout, name, unchanged } = found;
  if (rollout.state === "awaiting-promotion") {
    if (by === "burn-rate") return success(unchanged);
    return failure(
      "FAILED_PRECONDITION",
      `the rollout of ${name} is already waiting for promotion; nothing moves until orchctl rollout promote ${name}`,
    );
  }
  if (rollout.state === "paused" && (rollout.pausedBy === "operator" || by === "burn-rate")) return success(unchanged);
  rollout.state = "paused";
  rollout.pausedBy = by;
  rollout.reason = command.reason;
  state.touchDeployment(deployment);
  const why = command.reason === "" ? "" : `: ${command.reason}`;
  state.addEvent(
    atMs,
    "rollout-paused",
    { deployment: name },
    `rollout of ${name} to v${rollout.toVersion} paused by ${by === "operator" ? command.actor || state.actor || "an operator" : "the burn-rate gate"}${why}`,
  );
  return success({ ...unchanged, state: rollout.state, changed: true });
}

export function applyRolloutResume(state: ClusterState, command: RolloutResumeCommand, atMs: number): ApplyResult {
  const found = pauseControl(state, command, "resume");
  if ("ok" in found) return found;
  const { by, deployment, rollout, name, unchanged } = found;
  if (rollout.state !== "paused" || (by === "burn-rate" && rollout.pausedBy !== "burn-rate")) return success(unchanged);
  rollout.state = "running";
  rollout.pausedBy = null;
  // Paused time is not a lack of progress.
  rollout.lastProgressAtMs = atMs;
  rollout.reason = command.reason;
  state.touchDeployment(deployment);
  const why = command.reason === "" ? "" : `: ${command.reason}`;
  state.addEvent(
    atMs,
    "rollout-resumed",
    { deployment: name },
    `rollout of ${name} to v${rollout.toVersion} resumed by ${by === "operator" ? command.actor || state.actor || "an operator" : "the burn-rate gate"}${why}`,
  );
  return success({ ...unchanged, state: rollout.state, changed: true });
}

/**
 * Rolls back to a version of the history as a new version (kubectl rollout undo): to_version,
 * or the version before the current one. Not gated by the error budget: it undoes a change.
 */
export function applyRolloutUndo(
  state: ClusterState,
  command: RolloutUndoCommand,
  defaultActor: string,
  atMs: number,
): ApplyResult {
  const problem =
    validateDeploymentName(command.deployment) ??
    (isUint(command.toVersion, Number.MAX_SAFE_INTEGER)
      ? null
      : invalid(`to_version ${command.toVersion} is not a version`)) ??
    validateText("actor", command.actor, fsmLimits.actorLengthMax);
  if (problem !== null) return problem;
  const deployment = state.deployments.get(command.deployment);
  if (deployment === undefined)
    return failure("NOT_FOUND", `deployment ${command.deployment} not found; orchctl list shows the deployments`);
  const history = deployment.history;
  const target = command.toVersion === 0 ? history[history.length - 2] : versionEntry(deployment, command.toVersion);
  if (target === undefined) {
    const kept = history.map((entry) => `v${entry.version}`).join(", ");
    const what =
      command.toVersion === 0 ? `no version before v${deployment.version}` : `no version ${command.toVersion}`;
    return failure("NOT_FOUND", `deployment ${deployment.spec.name} has ${what} in its history (kept: ${kept})`);
  }
  const spec = rollbackSpec(deployment, target);
  const result = { kind: "rollout-undo", deployment: deployment.spec.name, toVersion: target.version } as const;
  if (specDifferences(deployment.spec, spec).length === 0)
    return success({ ...result, version: deployment.version, changed: false });
  startVersion(
    state,
    deployment,
    spec,
    { actor: command.actor || defaultActor, atMs, reason: `undo to v${target.version}` },
    { isRevert: false, skipCanary: true },
  );
  return success({ ...result, version: deployment.version, changed: true });
}
