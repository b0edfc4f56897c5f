/**
 * Applying a scheduler plan (Nomad's plan_apply): the scheduler read a state that may since
 * have moved (other plans, a deposed leader's plan, nodes going down, scale-downs), so every
 * placement is checked again against the state at this point of the log, in the plan's order,
 * with the allocations of the placements applied before it. What fits is applied; the rest is
 * counted by reason and left pending for the scheduler's next try. No node is ever over-committed.
 */
import type { ApplyPlanCommand, Placement } from "../gen/orchestrator/v1/fsm.js";
import type { ApplyResult, PlacementRejection, RejectionCount } from "./apply-result.js";
import type { ClusterState } from "./cluster-state.js";
import { fsmLimits } from "./limits.js";
import { failure, success } from "./result.js";
import { holdsCapacity, type ContainerRecord, type DeploymentRecord, type NodeRecord } from "./state.js";
import { validateDeploymentName, validateText } from "./validation.js";

/** Placements named in a plan's event before it summarises the rest. */
const placementsInEventMax = 5;

export function applyPlan(state: ClusterState, command: ApplyPlanCommand, atMs: number): ApplyResult {
  const problem =
    validateText("plan id", command.planId, fsmLimits.planIdLengthMax) ??
    validateDeploymentName(command.deployment) ??
    validateText("pending reason", command.pendingReason, fsmLimits.reasonLengthMax);
  if (problem !== null) return problem;
  if (command.placements.length > fsmLimits.placementsPerPlanMax) {
    return failure(
      "INVALID_ARGUMENT",
      `plan ${command.planId} has ${command.placements.length} placements; split it into plans of at most ${fsmLimits.placementsPerPlanMax}`,
    );
  }
  const deployment = state.deployments.get(command.deployment);
  if (deployment === undefined || deployment.version !== command.deploymentVersion) {
    // The plan was computed for something that no longer exists: nothing in it can apply.
    const reason: PlacementRejection = deployment === undefined ? "deployment-missing" : "deployment-version-changed";
    const rejections = command.placements.length === 0 ? [] : [{ reason, count: command.placements.length }];
    return success({ ...planResult(command, 0), rejected: command.placements.length, rejections });
  }
  const rejections = new Map<PlacementRejection, number>();
  const placed: { containerId: string; nodeId: string }[] = [];
  // One per node: the nodes holding a replica of this deployment, gathered once per plan and kept
  // current as the plan places. (Listing each target node's containers per placement cost
  // placements x containers-per-node: seconds per replica at a million containers.)
  const occupied = deployment.spec.onePerNode ? nodesHoldingReplicas(state, deployment.spec.name) : null;
  for (const placement of command.placements) {
    const checked = checkPlacement(state, deployment, placement, occupied);
    if (typeof checked === "string") {
      rejections.set(checked, (rejections.get(checked) ?? 0) + 1);
      continue;
    }
    state.placeContainer(checked.container, checked.node, atMs);
    occupied?.add(checked.node.id);
    placed.push({ containerId: checked.container.id, nodeId: checked.node.id });
  }
  const counts = [...rejections]
    .map(([reason, count]) => ({ reason, count }))
    .sort((a, b) => (a.reason < b.reason ? -1 : 1));
  const rejected = command.placements.length - placed.length;
  recordPendingReason(state, deployment, command.pendingReason, counts);
  if (placed.length > 0) {
    const shown = placed
      .slice(0, placementsInEventMax)
      .map((p) => `${p.containerId} on ${p.nodeId}`)
      .join(", ");
    const more = placed.length > placementsInEventMax ? ` and ${placed.length - placementsInEventMax} more` : "";
    const refused = rejected > 0 ? `; ${rejected} rejected at apply (${describeRejections(counts)})` : "";
    const single = placed.length === 1 ? placed[0].containerId : "";
    state.addEvent(
      atMs,
      "scheduled",
      { deployment: deployment.spec.name, container: single },
      `placed ${shown}${more} (plan ${command.planId})${refused}`,
    );
  }
  return success({ ...planResult(command, placed.length), rejected, rejections: counts });
}

function planResult(command: ApplyPlanCommand, placed: number) {
  return { kind: "apply-plan", planId: command.planId, deployment: command.deployment, placed } as const;
}

/** The first check a placement fails, or what to place when it fits now. */
function checkPlacement(
  state: ClusterState,
  deployment: DeploymentRecord,
  placement: Placement,
  occupied: ReadonlySet<string> | null,
): PlacementRejection | { container: ContainerRecord; node: NodeRecord } {
  const container = state.containers.get(placement.containerId);
  if (container === undefined || container.deployment !== deployment.spec.name) return "container-missing";
  if (container.state !== "pending" || container.desired !== "running") return "container-not-pending";
  if (container.version !== deployment.version) return "deployment-version-changed";
  const node = state.nodes.get(placement.nodeId);
  if (node === undefined) return "node-missing";
  if (node.status !== "ready" || node.notReadyReason !== "") return "node-not-ready";
  if (!node.eligible) return "node-ineligible";
  const regions: readonly string[] = deployment.spec.regions;
  if (regions.length > 0 && !regions.includes(node.region)) return "region-constraint";
  if (node.allocated.cpuMillicores + container.cpuMillicores > node.capacity.cpuMillicores) return "insufficient-cpu";
  if (node.allocated.memoryMib + container.memoryMib > node.capacity.memoryMib) return "insufficient-memory";
  if (occupied !== null && occupied.has(node.id)) return "one-per-node";
  return { container, node };
}

/**
 * Nodes where a container of the deployment holds capacity, those still shutting down included:
 * one per node means one process per node.
 */
function nodesHoldingReplicas(state: ClusterState, deployment: string): Set<string> {
  const nodes = new Set<string>();
  for (const container of state.containersOf(deployment)) if (holdsCapacity(container)) nodes.add(container.node);
  return nodes;
}

/**
 * How a pending reason starts when the scheduler did place but the FSM refused the placement (a
 * stale plan): a transient state the scheduler retries at once, not a cluster without room.
 */
export const stalePlanReasonPrefix = "placements rejected at apply time";

function recordPendingReason(
  state: ClusterState,
  deployment: DeploymentRecord,
  planReason: string,
  counts: readonly RejectionCount[],
): void {
  if (state.pendingCount(deployment.spec.name) === 0) return;
  let reason = planReason;
  if (reason === "" && counts.length > 0)
    reason = `${stalePlanReasonPrefix} (${describeRejections(counts)}); the scheduler will retry`;
  if (reason === "" || reason === deployment.pendingReason) return;
  deployment.pendingReason = reason;
  state.touchDeployment(deployment);
}

function describeRejections(counts: readonly RejectionCount[]): string {
  return counts.map(({ reason, count }) => `${count} ${reason}`).join(", ");
}
