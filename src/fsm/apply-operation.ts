/**
 * Deployment operations, the units of the success rate (docs/architecture.md, "Success rate").
 *
 * Opening. The FSM opens one itself, at the command that starts it: a deploy (kind deploy), a
 * scale that changes the replica count (scale), and replacements after a node went down or a
 * restart (replacement). Its id is "<deployment>-<revision>", the same on every replica, and
 * its deadline is the start plus the deployment's progress deadline.
 *
 * One open operation per deployment. A deploy or scale supersedes the open one, which is
 * dropped: not counted, neither as a success nor as a failure. Every operation's goal is the
 * same (all desired replicas healthy), so the newer one's outcome speaks for both, and an
 * operator who scales twice in a row is not charged a failure for the first. A replacement
 * does not supersede: while an operation is open it joins it (its deadline stands), so a crash
 * loop cannot postpone its failure forever by restarting more often than the deadline.
 * Deleting a deployment drops its open operation.
 *
 * Closing. The leader's health controller judges the operation and proposes its outcome
 * (OperationOutcome). Closing one that is not open (never opened, superseded, dropped, already
 * closed) changes nothing, so a new leader may safely repeat its predecessor's verdicts.
 * Outcomes count in per-minute buckets (minute = floor(at_ms / 60000)) kept for 30 days.
 */
import type { OperationOutcomeCommand, OperationOutcomesCommand } from "../gen/orchestrator/v1/fsm.js";
import { assert } from "../lib/assert.js";
import type { ApplyResult } from "./apply-result.js";
import type { ClusterState } from "./cluster-state.js";
import { fsmLimits } from "./limits.js";
import { failure, success } from "./result.js";
import type { DeploymentRecord, OperationKind } from "./state.js";
import { validateText } from "./validation.js";

export function openOperation(
  state: ClusterState,
  deployment: DeploymentRecord,
  kind: OperationKind,
  atMs: number,
): void {
  const name = deployment.spec.name;
  assert(
    state.deployments.get(name) === deployment,
    `opening an operation for deployment ${name}, which is not in the state`,
  );
  const open = state.operations.ofDeployment(name);
  if (kind === "replacement" && open !== undefined) return;
  // A rollout's outcome covers the scales during it: the rollout ends with every replica healthy.
  if (kind === "scale" && open?.kind === "rollout") return;
  const deadlineMs =
    kind === "rollout" ? deployment.spec.update.progressDeadlineMs : deployment.spec.progressDeadlineMs;
  state.operations.open({
    id: `${name}-${state.revision}`,
    deployment: name,
    kind,
    startedAtMs: atMs,
    deadlineAtMs: atMs + deadlineMs,
    startedRevision: state.revision,
  });
  state.touchDeployment(deployment);
}

function validateOutcome(command: OperationOutcomeCommand): ApplyResult | null {
  return (
    (command.operationId === "" ? failure("INVALID_ARGUMENT", "operation outcome without an operation id") : null) ??
    validateText("operation id", command.operationId, fsmLimits.operationIdLengthMax) ??
    validateText("outcome reason", command.reason, fsmLimits.reasonLengthMax)
  );
}

/** Every verdict is checked before any is applied, so a bad one leaves the state untouched. */
export function applyOperationOutcomes(
  state: ClusterState,
  command: OperationOutcomesCommand,
  atMs: number,
): ApplyResult {
  if (command.outcomes.length === 0)
    return failure("INVALID_ARGUMENT", "operation outcomes command without any outcome");
  if (command.outcomes.length > fsmLimits.outcomesPerCommandMax) {
    return failure(
      "INVALID_ARGUMENT",
      `${command.outcomes.length} operation outcomes in one command; at most ${fsmLimits.outcomesPerCommandMax}`,
    );
  }
  for (const outcome of command.outcomes) {
    const problem = validateOutcome(outcome);
    if (problem !== null) return problem;
  }
  let recorded = 0;
  for (const outcome of command.outcomes) {
    const result = applyOperationOutcome(state, outcome, atMs);
    if (result.ok && result.value.kind === "operation-outcome" && result.value.recorded) recorded++;
  }
  return success({ kind: "operation-outcomes", recorded, ignored: command.outcomes.length - recorded });
}

export function applyOperationOutcome(
  state: ClusterState,
  command: OperationOutcomeCommand,
  atMs: number,
): ApplyResult {
  const problem = validateOutcome(command);
  if (problem !== null) return problem;
  const unchanged = { kind: "operation-outcome", operationId: command.operationId, recorded: false } as const;
  // A rollout's operation is closed by the rollout's end (RolloutFinish, RolloutRevert).
  const open = state.operations.get(command.operationId);
  if (open === undefined || open.kind === "rollout") return success(unchanged);
  closeOperation(state, command.operationId, command.succeeded, command.reason, atMs);
  return success({ ...unchanged, recorded: true });
}

/**
 * Closes an open operation with its outcome, counted in the success rate. A success outside a
 * version change in progress also marks the deployment's version as one that rolled out (the
 * first version has no rollout: its first success is its proof).
 */
export function closeOperation(
  state: ClusterState,
  operationId: string,
  succeeded: boolean,
  reason: string,
  atMs: number,
): void {
  const command = { succeeded, reason };
  const operation = state.operations.close(operationId);
  const deployment = state.deployments.get(operation.deployment);
  assert(deployment !== undefined, `open operation ${operation.id} outlived its deployment`);
  state.outcomes.record(atMs, command.succeeded);
  deployment.lastOutcome = {
    operationId: operation.id,
    kind: operation.kind,
    succeeded: command.succeeded,
    reason: command.reason,
    startedAtMs: operation.startedAtMs,
    deadlineAtMs: operation.deadlineAtMs,
    finishedAtMs: atMs,
  };
  deployment.recentOutcomes.push({ atMs, succeeded });
  if (deployment.recentOutcomes.length > fsmLimits.recentOutcomesKeptMax) deployment.recentOutcomes.shift();
  state.touchDeployment(deployment);
  const verdict = command.succeeded ? "succeeded" : "failed";
  const took = formatDuration(Math.max(0, atMs - operation.startedAtMs));
  const why = command.reason === "" ? "" : `: ${command.reason}`;
  state.addEvent(
    atMs,
    command.succeeded ? "operation-succeeded" : "operation-failed",
    { deployment: operation.deployment },
    `${operation.kind} operation ${operation.id} ${verdict} after ${took}${why}`,
  );
  const rollout = deployment.rollout;
  if (succeeded && (rollout === null || rollout.state === "succeeded" || rollout.state === "reverted")) {
    const entry = deployment.history[deployment.history.length - 1];
    if (entry.outcome === "pending") entry.outcome = "succeeded";
  }
}

/** "250ms", "1.5s", "90s": for events a person reads. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  return `${Number((ms / 1000).toFixed(3))}s`;
}
