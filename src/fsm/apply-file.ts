/**
 * orchctl apply: every deployment of a file created or changed as a deploy would, in one log
 * entry, all or none. Everything that could refuse one of them is checked first, against the
 * state at this point of the log; only then are they applied, so no file is half applied.
 *
 * The check index (see proto ApplyFileCommand) is compared here, at apply time, so no write
 * can slip in between the check and the change: a deployment whose spec or replicas changed,
 * or that was created, after the index refuses the file; so does one that is absent when any
 * deployment was deleted after it (deletes keep no per-name record; refusing is the safe side).
 * Health reports and placements do not move a deployment's spec revision, so a plan stays
 * valid on a live cluster until someone actually changes what it planned against.
 */
import type { ApplyFileCommand } from "../gen/orchestrator/v1/fsm.js";
import { assert } from "../lib/assert.js";
import { applyDeploy, scaledSpec, withCurrentPolicy } from "./apply-deployment.js";
import type { ApplyResult, DeployResult } from "./apply-result.js";
import type { ClusterState } from "./cluster-state.js";
import { errorBudgetAt } from "./error-budget.js";
import { fsmLimits } from "./limits.js";
import { failure, success, type FsmFailure } from "./result.js";
import type { DeploymentSpec } from "./state.js";
import { specDifferences, validateDeploymentSpec, validateText } from "./validation.js";

export interface ApplyFileOutcome {
  readonly name: string;
  readonly result: DeployResult;
  readonly version: number;
}

/** What each spec would do to the deployment of its name, without doing it. */
export function deployResultOf(current: DeploymentSpec | undefined, requested: DeploymentSpec): DeployResult {
  if (current === undefined) return "created";
  if (specDifferences(current, requested).length === 0) return "unchanged";
  if (specDifferences(scaledSpec(current, requested.replicas), requested).length === 0) return "scaled";
  return "configured";
}

/** Why the check index refuses the file, or null. */
export function staleCheck(
  state: Pick<ClusterState, "deployments" | "deletedRevision">,
  names: readonly string[],
  checkIndex: number,
): FsmFailure | null {
  for (const name of names) {
    const deployment = state.deployments.get(name);
    if (deployment !== undefined && deployment.specRevision > checkIndex)
      return failure(
        "FAILED_PRECONDITION",
        `deployment ${name} changed at revision ${deployment.specRevision}, after check index ${checkIndex}: run orchctl plan again and review it`,
      );
    if (deployment === undefined && state.deletedRevision > checkIndex)
      return failure(
        "FAILED_PRECONDITION",
        `a deployment was deleted at revision ${state.deletedRevision}, after check index ${checkIndex}, and ${name} does not exist: run orchctl plan again and review it`,
      );
  }
  return null;
}

export function applyFile(
  state: ClusterState,
  command: ApplyFileCommand,
  defaultActor: string,
  atMs: number,
): ApplyResult {
  const specs = command.specs;
  if (specs.length === 0) return failure("INVALID_ARGUMENT", "apply needs at least one deployment");
  if (specs.length > fsmLimits.applySpecsMax)
    return failure(
      "RESOURCE_EXHAUSTED",
      `apply of ${specs.length} deployments refused: at most ${fsmLimits.applySpecsMax} in one apply; split the file`,
    );
  const actorProblem = validateText("actor", command.actor, fsmLimits.actorLengthMax);
  if (actorProblem !== null) return actorProblem;
  const names = specs.map((spec) => spec.name);
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name)) return failure("INVALID_ARGUMENT", `deployment ${name} appears twice in one apply`);
    seen.add(name);
  }
  if (command.checkIndex !== undefined) {
    const stale = staleCheck(state, names, command.checkIndex);
    if (stale !== null) return stale;
  }
  const planned = precheck(state, command, atMs);
  if (!planned.ok) return planned;
  const outcomes: ApplyFileOutcome[] = [];
  for (const spec of specs) {
    // The error budget was judged once, for the whole file, above (a superseded rollout closing
    // mid-file must not refuse the rest): each deploy is forced past it.
    const applied = applyDeploy(
      state,
      { spec, actor: command.actor, force: true, reason: "apply" },
      defaultActor,
      atMs,
    );
    // precheck() refused everything applyDeploy can refuse: a failure here is a bug.
    assert(applied.ok, `apply of ${spec.name} failed after its checks passed`);
    const value = applied.value;
    assert(value.kind === "deploy", "deploy answered with another kind");
    outcomes.push({ name: value.name, result: value.result, version: value.version });
  }
  return success({ kind: "apply-file", outcomes });
}

/** Every refusal applyDeploy could make, for the whole file, before anything changes. */
function precheck(state: ClusterState, command: ApplyFileCommand, atMs: number): FsmFailure | { ok: true } {
  let created = 0;
  let moreContainers = 0;
  let newVersions = 0;
  for (const input of command.specs) {
    const checked = validateDeploymentSpec(
      withCurrentPolicy(input, state.deployments.get(input.name)?.spec),
      state.nodeCapacities(),
    );
    if (!checked.ok) return checked;
    const spec = checked.value;
    const current = state.deployments.get(spec.name)?.spec;
    const result = deployResultOf(current, spec);
    if (result === "created") {
      created += 1;
      moreContainers += spec.replicas;
    } else if (current !== undefined && result !== "unchanged") {
      moreContainers += Math.max(0, spec.replicas - current.replicas);
      if (result === "configured") {
        newVersions += 1;
        moreContainers += spec.update.maxSurge;
      }
    }
  }
  if (state.deployments.size + created > fsmLimits.deploymentsMax)
    return failure(
      "RESOURCE_EXHAUSTED",
      `the cluster holds ${state.deployments.size} deployments; ${created} more would pass the ${fsmLimits.deploymentsMax} it allows`,
    );
  if (state.containers.size + moreContainers > fsmLimits.containersMax)
    return failure(
      "RESOURCE_EXHAUSTED",
      `the cluster holds ${state.containers.size} containers and allows at most ${fsmLimits.containersMax}; this apply may need ${moreContainers} more`,
    );
  const budget = errorBudgetAt(state, atMs);
  if (newVersions > 0 && budget.spent && !command.force)
    return failure(
      "FAILED_PRECONDITION",
      `the cluster's 30-day error budget is spent (${budget.failed} failed operations, ${Number(budget.allowedFailures.toFixed(4))} allowed): this apply makes ${newVersions} new versions, refused until it recovers; apply with --force to ship anyway`,
    );
  return { ok: true };
}
