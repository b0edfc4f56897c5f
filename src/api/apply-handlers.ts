/**
 * Apply and Plan (orchctl apply / plan).
 *
 * Apply proposes the whole file as one FSM command (ApplyFileCommand): it is applied all or
 * none, and its check index is compared in the FSM at apply time, where no other write can come
 * between the check and the change.
 *
 * Plan changes nothing. It reads the state (linearizably unless stale) and answers, per
 * deployment, what Apply would do: the fields that differ, the rollout it would start, and where
 * the pure scheduler would put the replicas that start first, planned on a fresh SchedulerState
 * built from the nodes, a copy: the leader's own scheduler model is never touched. The
 * deployments of a file are planned in order, each seeing the room the ones before it took.
 *
 * The check index is the highest spec revision among the deployments the file names (and the
 * revision of the last delete): the whole-cluster revision moves with every health report, so
 * a plan made against it would be stale within a second on a live cluster.
 */
import { OrchestratorError } from "../lib/errors.js";
import {
  deployResultOf,
  fsmLimits,
  holdsCapacity,
  sameTemplate,
  specFieldChanges,
  validateDeploymentSpec,
  withCurrentPolicy,
  type ClusterFsm,
  type DeployResult,
  type DeploymentRecord,
  type DeploymentSpec,
} from "../fsm/index.js";
import {
  type ApplyRequest,
  type ApplyResponse,
  type DeploymentPlan,
  type PlanRequest,
  type PlanResponse,
  type RolloutPreview,
} from "../gen/orchestrator/v1/orchestrator.js";
import type * as pb from "../gen/orchestrator/v1/types.js";
import { SchedulerState, planDeployment, schedulerLimits } from "../scheduler/core/index.js";
import { evaluationSeed, nodeView } from "../scheduler/io/scheduler-worker.js";
import { applyLimits } from "./apply-limits.js";
import type { Caller } from "./access-control.js";
import type { CommandProposer } from "./command-proposer.js";
import { deployResultToProto } from "./deploy-result.js";

export interface ApplyHandlerDeps {
  readonly fsm: ClusterFsm;
  readonly proposer: CommandProposer;
  /** Resolves once this replica's state reflects every write committed before the call (no-op when stale). */
  readBarrier(stale: boolean): Promise<void>;
}

function checkCount(specs: readonly pb.DeploymentSpec[], what: string): void {
  if (specs.length === 0) throw new OrchestratorError("INVALID_ARGUMENT", `${what} needs at least one deployment`);
  if (specs.length > applyLimits.specsMax)
    throw new OrchestratorError(
      "RESOURCE_EXHAUSTED",
      `${what} of ${specs.length} deployments refused: at most ${applyLimits.specsMax} at once; split the file`,
    );
}

/** The spec as the FSM would store it (defaults filled in, an absent policy kept), or why it is refused. */
function validated(fsm: ClusterFsm, input: pb.DeploymentSpec): DeploymentSpec {
  const current = fsm.getDeploymentRecord(input.name)?.spec;
  const checked = validateDeploymentSpec(withCurrentPolicy(input, current), fsm.nodeCapacities());
  if (!checked.ok) throw new OrchestratorError(checked.code, checked.message);
  return checked.value;
}

export function createApplyHandlers(deps: ApplyHandlerDeps): {
  apply(request: ApplyRequest, caller: Caller): Promise<ApplyResponse>;
  plan(request: PlanRequest): Promise<PlanResponse>;
} {
  const { fsm, proposer } = deps;
  return {
    async apply(request, caller) {
      checkCount(request.specs, "apply");
      // Early, readable refusals; the FSM checks again against the state it applies to.
      for (const spec of request.specs) validated(fsm, spec);
      const value = await proposer.propose(
        { header: request.header, caller },
        {
          kind: "apply-file",
          applyFile: {
            specs: request.specs,
            ...(request.checkIndex !== undefined ? { checkIndex: request.checkIndex } : {}),
            force: request.force,
            // Who asked travels in the envelope (the proposer stamps it).
            actor: "",
          },
        },
        "apply-file",
      );
      return {
        outcomes: value.outcomes.map((o) => ({
          name: o.name,
          result: deployResultToProto(o.result),
          version: o.version,
        })),
        revision: fsm.revision,
      };
    },
    async plan(request) {
      checkCount(request.specs, "plan");
      const seen = new Set<string>();
      for (const spec of request.specs) {
        if (seen.has(spec.name))
          throw new OrchestratorError("INVALID_ARGUMENT", `deployment ${spec.name} appears twice in one plan`);
        seen.add(spec.name);
      }
      await deps.readBarrier(request.stale);
      // A copy: planning here never moves the leader's scheduler model.
      const model = SchedulerState.fromNodes(fsm.listNodes().map(nodeView));
      let checkIndex = fsm.deletedRevision;
      const deployments: DeploymentPlan[] = [];
      for (const input of request.specs) {
        const spec = validated(fsm, input);
        const current = fsm.getDeploymentRecord(spec.name);
        if (current !== undefined) checkIndex = Math.max(checkIndex, current.specRevision);
        deployments.push(planOne(fsm, model, current, spec));
      }
      return { deployments, checkIndex, revision: fsm.revision };
    },
  };
}

function rolloutPreview(
  current: Readonly<DeploymentRecord> | undefined,
  spec: DeploymentSpec,
  result: DeployResult,
): RolloutPreview {
  const replaces = result === "configured" && current !== undefined && !sameTemplate(current.spec, spec);
  const canary = replaces ? Math.min(spec.update.canary, spec.replicas) : 0;
  return {
    newVersion: result === "created" || result === "configured",
    version: current === undefined ? 1 : result === "configured" ? current.version + 1 : current.version,
    replacesContainers: replaces,
    canary,
    maxParallel: spec.update.maxParallel,
    maxSurge: spec.update.maxSurge,
    steps: replaces ? Math.ceil((spec.replicas - canary) / spec.update.maxParallel) : 0,
    autoRevert: spec.update.autoRevert,
  };
}

/** How many replicas start first: all of a new one, the added ones, or the canaries (else max_surge) of a rollout. */
function replicasStartedFirst(
  current: Readonly<DeploymentRecord> | undefined,
  spec: DeploymentSpec,
  preview: RolloutPreview,
): number {
  if (current === undefined) return spec.replicas;
  if (preview.replacesContainers)
    return preview.canary > 0 ? preview.canary : Math.min(spec.replicas, spec.update.maxSurge);
  return Math.max(0, spec.replicas - current.spec.replicas);
}

function planOne(
  fsm: ClusterFsm,
  model: SchedulerState,
  current: Readonly<DeploymentRecord> | undefined,
  spec: DeploymentSpec,
): DeploymentPlan {
  const name = spec.name;
  const result = deployResultOf(current?.spec, spec);
  const preview = rolloutPreview(current, spec, result);
  const newReplicas = replicasStartedFirst(current, spec, preview);
  const planned = Math.min(newReplicas, applyLimits.placementsShownMax, schedulerLimits.containersPerPlanMax);
  const firstOrdinal = current?.nextContainerOrdinal ?? 0;
  const containerIds = Array.from({ length: planned }, (_, i) => `${name}-${firstOrdinal + i}`);
  const existing = new Map<string, number>();
  if (current !== undefined)
    for (const c of fsm.listContainers({ deployment: name, limit: fsmLimits.containersListMax }).containers)
      if (holdsCapacity(c)) existing.set(c.node, (existing.get(c.node) ?? 0) + 1);
  let placements: { container: string; node: string }[] = [];
  let pendingReason = "";
  if (planned > 0) {
    const request = {
      deployment: name,
      deploymentVersion: preview.version,
      cpuMillicores: spec.cpuMillicores,
      memoryMib: spec.memoryMib,
      strategy: spec.strategy,
      regions: spec.regions,
      clientRegions: spec.clientRegions,
      onePerNode: spec.onePerNode,
      containerIds,
      existing,
    };
    const plan = planDeployment(model, request, evaluationSeed(name, fsm.revision));
    model.applyPlan(plan, request);
    const nodeOf = new Map(plan.placements.map((p) => [p.containerId, p.nodeId]));
    placements = containerIds.map((id) => ({ container: id, node: nodeOf.get(id) ?? "" }));
    pendingReason = plan.pendingReason;
  }
  return {
    name,
    result: deployResultToProto(result),
    changes: specFieldChanges(current?.spec, spec),
    rollout: preview,
    placements,
    pendingReason,
    newReplicas,
  };
}
