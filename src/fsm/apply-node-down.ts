/**
 * The leader declares a node dead (its heartbeats stopped past their TTL). Every container
 * holding capacity on it (placed and live, or crashed awaiting a restart in place) is lost and
 * gives its capacity back. A lost container that was wanted running is replaced: a new pending
 * container of the same deployment, at the deployment's current version, which the scheduler
 * places elsewhere; the lost one stays as history (wanted stopped, holding nothing, never
 * assigned again), at most fsmLimits.lostContainersKeptPerDeploymentMax per deployment. A lost
 * container that was being stopped is simply forgotten: its stop is moot.
 *
 * Idempotent: a node already down with nothing on it is left alone. When the node comes back,
 * RegisterNode (or SetNodeStatus ready) makes it ready; its agent stops what it still runs,
 * since nothing lost is assigned to it, and its reports about lost containers are ignored.
 */
import type { NodeDownCommand } from "../gen/orchestrator/v1/fsm.js";
import { assert } from "../lib/assert.js";
import { setStatus } from "./apply-node.js";
import { openOperation } from "./apply-operation.js";
import type { ApplyResult } from "./apply-result.js";
import type { ClusterState } from "./cluster-state.js";
import { fsmLimits } from "./limits.js";
import { failure, success } from "./result.js";
import type { ContainerRecord, DeploymentRecord } from "./state.js";
import { validateNodeId, validateText } from "./validation.js";

/** Replacements named in a deployment's "rescheduled" event before it summarises the rest. */
const replacementsInEventMax = 5;

export function applyNodeDown(state: ClusterState, command: NodeDownCommand, atMs: number): ApplyResult {
  const problem =
    validateNodeId(command.nodeId) ?? validateText("node down reason", command.reason, fsmLimits.reasonLengthMax);
  if (problem !== null) return problem;
  const node = state.nodes.get(command.nodeId);
  if (node === undefined)
    return failure("NOT_FOUND", `node ${command.nodeId} is not registered; orchctl nodes lists the nodes`);
  // The holding index has no replicated order: sort, so every replica numbers replacements alike.
  const victims = state.holdingOn(node.id).sort(byDeploymentThenOrdinal);
  const result = { kind: "node-down", nodeId: node.id, changed: false, lost: 0, rescheduled: 0 } as const;
  if (node.status === "down" && victims.length === 0) return success(result);
  const previous = node.status;
  if (previous !== "down") {
    setStatus(node, "down", command.reason, atMs);
    state.touchNode(node);
  }
  const why = command.reason === "" ? "" : `: ${command.reason}`;
  const wanted = victims.filter((container) => container.desired === "running").length;
  let rescheduled = 0;
  const currentCounts = new Map<string, number>();
  const move = previous === "down" ? "is down" : `${previous} -> down`;
  state.addEvent(
    atMs,
    "node-down",
    { node: node.id },
    `node ${node.id} ${move}${why}; ${victims.length} containers lost, ${wanted} rescheduled`,
  );
  const replaced = new Map<string, [string, string][]>();
  for (const container of victims) {
    state.transitionContainer(container, "lost");
    state.setHealth(container, "unknown", atMs);
    if (container.desired === "stopped") {
      state.removeContainer(container);
      state.addEvent(
        atMs,
        "container-lost",
        { deployment: container.deployment, container: container.id, node: node.id },
        `container ${container.id} lost with node ${node.id} while stopping; forgotten`,
      );
      continue;
    }
    const replacement = replace(state, container, currentCounts);
    if (replacement === null) continue;
    rescheduled += 1;
    const pairs = replaced.get(container.deployment) ?? [];
    pairs.push([container.id, replacement.id]);
    replaced.set(container.deployment, pairs);
  }
  for (const [name, pairs] of replaced) {
    const deployment = state.deployments.get(name);
    assert(deployment !== undefined, `replaced containers of missing deployment ${name}`);
    pruneLostHistory(state, name);
    const shown = pairs
      .slice(0, replacementsInEventMax)
      .map(([lost, fresh]) => `${lost} -> ${fresh}`)
      .join(", ");
    const more = pairs.length > replacementsInEventMax ? ` and ${pairs.length - replacementsInEventMax} more` : "";
    const single = pairs.length === 1 ? pairs[0][0] : "";
    state.addEvent(
      atMs,
      "rescheduled",
      { deployment: name, container: single, node: node.id },
      `rescheduled ${shown}${more}: node ${node.id} down${why}`,
    );
    openOperation(state, deployment, "replacement", atMs);
  }
  return success({ ...result, changed: true, lost: victims.length, rescheduled });
}

/**
 * A pending replacement of a lost container, at the deployment's version; the lost one is kept as
 * history if there is room. While versions change, a lost replica is replaced only if the current
 * version runs fewer than `replicas` (otherwise the rollout was about to stop it): null then.
 */
function replace(
  state: ClusterState,
  lost: ContainerRecord,
  currentCounts: Map<string, number>,
): ContainerRecord | null {
  const deployment: DeploymentRecord | undefined = state.deployments.get(lost.deployment);
  assert(deployment !== undefined, `container ${lost.id} was wanted running but its deployment is gone`);
  state.retireLostContainer(lost);
  // History gives way to the bound on containers: the replacement takes the lost one's slot.
  if (state.containers.size >= fsmLimits.containersMax) state.removeContainer(lost);
  // Counted once per deployment and command, then kept current: a node may hold thousands.
  let current = currentCounts.get(deployment.spec.name);
  if (current === undefined)
    current = state
      .containersOf(deployment.spec.name)
      .filter((c) => c.desired === "running" && c.version === deployment.version).length;
  else if (lost.version === deployment.version) current -= 1;
  const replace = current < deployment.spec.replicas;
  currentCounts.set(deployment.spec.name, replace ? current + 1 : current);
  return replace ? state.createContainer(deployment) : null;
}

/** Keeps the newest lost containers of a deployment (by when they were lost, then ordinal). */
function pruneLostHistory(state: ClusterState, deployment: string): void {
  const lost = state
    .containersOf(deployment)
    .filter((container) => container.state === "lost")
    .sort((a, b) => a.updatedRevision - b.updatedRevision || a.ordinal - b.ordinal);
  const excess = lost.length - fsmLimits.lostContainersKeptPerDeploymentMax;
  for (let i = 0; i < excess; i++) state.removeContainer(lost[i]);
}

function byDeploymentThenOrdinal(a: ContainerRecord, b: ContainerRecord): number {
  if (a.deployment !== b.deployment) return a.deployment < b.deployment ? -1 : 1;
  return a.ordinal - b.ordinal;
}
