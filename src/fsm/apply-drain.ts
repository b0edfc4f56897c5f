/**
 * Node eligibility and drains. An operator cordons a node (eligibility) or drains it: the node
 * turns ineligible and draining, and the leader's drain controller (src/drain) records its
 * decisions here as steps. A step starts replacements for replicas on the node (migrations of
 * their deployments) and stops replicas whose replacement counts healthy, or, once the deadline
 * passed, whatever is left. Each step carries the drain's step counter, so a step proposed by a
 * deposed leader and by its successor is applied once, and none is skipped. The drain completes
 * when nothing holds capacity on the node any more (its agent reported every container stopped).
 */
import type {
  NodeDrainFinishCommand,
  NodeDrainStartCommand,
  NodeDrainStepCommand,
  NodeEligibilityCommand,
} from "../gen/orchestrator/v1/fsm.js";
import { setStatus, upStatus } from "./apply-node.js";
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
  type NodeDrainRecord,
  type NodeRecord,
} from "./state.js";
import { validateNodeId, validateText } from "./validation.js";

/** Containers named in a step's event before it summarises the rest. */
const containersInEventMax = 5;

function notFound(nodeId: string): FsmFailure {
  return failure("NOT_FOUND", `node ${nodeId} is not registered; orchctl nodes lists the nodes`);
}

export function applyNodeEligibility(state: ClusterState, command: NodeEligibilityCommand, atMs: number): ApplyResult {
  const problem = validateNodeId(command.nodeId) ?? validateText("actor", command.actor, fsmLimits.actorLengthMax);
  if (problem !== null) return problem;
  const node = state.nodes.get(command.nodeId);
  if (node === undefined) return notFound(command.nodeId);
  if (command.eligible && node.drain?.state === "draining")
    return failure(
      "FAILED_PRECONDITION",
      `node ${node.id} is draining; it turns eligible only with orchctl node eligibility ${node.id} --enable once the drain completed`,
    );
  const result = { kind: "node-eligibility", nodeId: node.id, eligible: command.eligible } as const;
  if (node.eligible === command.eligible) return success({ ...result, changed: false });
  node.eligible = command.eligible;
  state.touchNode(node);
  const by = command.actor === "" ? "" : ` by ${command.actor}`;
  state.addEvent(
    atMs,
    "node-eligibility",
    { node: node.id },
    `node ${node.id} ${command.eligible ? "eligible for new containers" : "ineligible: nothing new is placed there"}${by}`,
  );
  return success({ ...result, changed: true });
}

export function applyNodeDrainStart(state: ClusterState, command: NodeDrainStartCommand, atMs: number): ApplyResult {
  const problem =
    validateNodeId(command.nodeId) ??
    validateText("actor", command.actor, fsmLimits.actorLengthMax) ??
    (Number.isSafeInteger(command.deadlineMs) &&
    command.deadlineMs > 0 &&
    command.deadlineMs <= fsmLimits.drainDeadlineMsMax
      ? null
      : failure(
          "INVALID_ARGUMENT",
          `drain deadline must be 1..${fsmLimits.drainDeadlineMsMax} ms, got ${command.deadlineMs}`,
        ));
  if (problem !== null) return problem;
  const node = state.nodes.get(command.nodeId);
  if (node === undefined) return notFound(command.nodeId);
  const deadlineAtMs = atMs + command.deadlineMs;
  const drain = node.drain;
  const by = command.actor === "" ? "" : ` by ${command.actor}`;
  if (drain !== null && drain.state === "draining") {
    // A second drain of a draining node changes its deadline and singleton choice, nothing else.
    drain.deadlineAtMs = deadlineAtMs;
    drain.ignoreSingletons = command.ignoreSingletons;
    state.touchNode(node);
    state.addEvent(
      atMs,
      "node-drain-started",
      { node: node.id },
      `drain of node ${node.id} updated${by}: deadline in ${command.deadlineMs} ms${singletonsText(drain)}`,
    );
    return success({ kind: "node-drain-start", nodeId: node.id, changed: true, complete: false });
  }
  node.eligible = false;
  const started: NodeDrainRecord = {
    state: "draining",
    startedAtMs: atMs,
    deadlineAtMs,
    ignoreSingletons: command.ignoreSingletons,
    stepSeq: 0,
    actor: command.actor,
    migrated: 0,
    stoppedAtDeadline: 0,
    finishedAtMs: 0,
    reason: "",
  };
  node.drain = started;
  const holding = state.holdingCount(node.id);
  state.addEvent(
    atMs,
    "node-drain-started",
    { node: node.id },
    `drain of node ${node.id} started${by}: ${holding} containers to move, deadline in ${command.deadlineMs} ms${singletonsText(started)}`,
  );
  // A down node holds nothing (NodeDown lost it all): it is drained already, and stays ineligible.
  if (node.status === "down" && holding === 0) {
    completeDrain(state, node, started, "the node is down and holds nothing", atMs);
    return success({ kind: "node-drain-start", nodeId: node.id, changed: true, complete: true });
  }
  if (node.status !== "down") setStatus(node, "draining", `drain${by}`, atMs);
  state.touchNode(node);
  return success({ kind: "node-drain-start", nodeId: node.id, changed: true, complete: false });
}

function singletonsText(drain: NodeDrainRecord): string {
  return drain.ignoreSingletons ? "; single-replica deployments stay" : "";
}

/** The drain in progress on the node, or why a drain command cannot apply. */
function activeDrain(
  state: ClusterState,
  nodeId: string,
  reason: string,
): FsmFailure | { node: NodeRecord; drain: NodeDrainRecord } {
  const problem = validateNodeId(nodeId) ?? validateText("drain reason", reason, fsmLimits.reasonLengthMax);
  if (problem !== null) return problem;
  const node = state.nodes.get(nodeId);
  if (node === undefined) return notFound(nodeId);
  const drain = node.drain;
  if (drain === null || drain.state !== "draining")
    return failure(
      "FAILED_PRECONDITION",
      `node ${nodeId} is not draining; orchctl node drain ${nodeId} starts a drain`,
    );
  return { node, drain };
}

/** A replica the drain leaves where it is: of a single-replica deployment, with --ignore-singletons. */
export function isIgnoredSingleton(
  drain: Readonly<NodeDrainRecord>,
  deployment: Readonly<DeploymentRecord> | undefined,
  container: Readonly<ContainerRecord>,
): boolean {
  return drain.ignoreSingletons && container.desired === "running" && deployment?.spec.replicas === 1;
}

/** The deployment runs one version as asked: no rollout under way and none failed half-way. */
export function isConverged(deployment: Readonly<DeploymentRecord>): boolean {
  const rollout = deployment.rollout;
  return rollout === null || (!isRolloutActive(rollout.state) && rollout.state !== "failed");
}

function isReplacementReady(deployment: DeploymentRecord, replacement: ContainerRecord | undefined, atMs: number) {
  return (
    replacement !== undefined &&
    replacement.desired === "running" &&
    isHealthy(replacement) &&
    atMs - replacement.healthySinceMs >= deployment.spec.update.minHealthyTimeMs
  );
}

export function applyNodeDrainStep(state: ClusterState, command: NodeDrainStepCommand, atMs: number): ApplyResult {
  const migrateIds = command.migrateContainerIds;
  const stopIds = command.stopContainerIds;
  if (migrateIds.length > fsmLimits.drainStepContainersMax || stopIds.length > fsmLimits.drainStepContainersMax)
    return failure("INVALID_ARGUMENT", `a drain step names at most ${fsmLimits.drainStepContainersMax} containers`);
  const found = activeDrain(state, command.nodeId, command.reason);
  if ("ok" in found) return found;
  const { node, drain } = found;
  const result = { kind: "node-drain-step", nodeId: node.id, stepSeq: command.stepSeq } as const;
  if (command.stepSeq !== drain.stepSeq)
    return success({
      ...result,
      applied: false,
      migrating: 0,
      stopped: 0,
      ignoredReason: `step ${command.stepSeq} is not the drain's next (${drain.stepSeq})`,
    });
  if (command.atDeadline && atMs < drain.deadlineAtMs)
    return failure("FAILED_PRECONDITION", `the drain of ${node.id} has not reached its deadline`);
  const checked = checkDrainStep(state, node, drain, command, atMs);
  if ("ok" in checked) return checked;
  if (state.containers.size + checked.migrate.length + checked.stop.length > fsmLimits.containersMax)
    return failure("RESOURCE_EXHAUSTED", `the cluster holds ${state.containers.size} containers; no room to migrate`);
  for (const container of checked.migrate) {
    const deployment = state.deployments.get(container.deployment) as DeploymentRecord;
    deployment.migrations = state.openMigrations(deployment).filter((m) => m.from !== container.id);
    const replacement = state.createContainer(deployment);
    deployment.migrations.push({ from: container.id, to: replacement.id });
    state.touchDeployment(deployment);
  }
  let replaced = 0;
  // Replicas of each deployment's current version wanted running, counted once per step and kept
  // up to date as it stops and starts them (a deadline step may stop thousands).
  const currentCounts = new Map<string, number>();
  for (const container of checked.stop) {
    const deployment = state.deployments.get(container.deployment) as DeploymentRecord;
    const name = deployment.spec.name;
    let current = currentCounts.get(name) ?? currentReplicas(state, deployment);
    const migrating = state.openMigrations(deployment).some((m) => m.from === container.id);
    if (container.desired === "running" && container.version === deployment.version) current -= 1;
    if (isTerminal(container.state)) state.removeContainer(container);
    else state.stopContainer(container);
    // Stopped at the deadline without a replacement: one is started, as for a node that died.
    if (!migrating && current < deployment.spec.replicas + state.openMigrations(deployment).length) {
      state.createContainer(deployment);
      current += 1;
      replaced += 1;
    }
    currentCounts.set(name, current);
    deployment.migrations = state.openMigrations(deployment);
    state.touchDeployment(deployment);
  }
  if (command.atDeadline) drain.stoppedAtDeadline += checked.stop.length;
  else drain.migrated += checked.stop.length;
  drain.stepSeq += 1;
  state.touchNode(node);
  const list = (items: ContainerRecord[]) => {
    const shown = items.slice(0, containersInEventMax).map((c) => c.id);
    const more = items.length > containersInEventMax ? ` and ${items.length - containersInEventMax} more` : "";
    return `${shown.join(", ")}${more}`;
  };
  const parts: string[] = [];
  if (checked.migrate.length > 0) parts.push(`replacing ${list(checked.migrate)}`);
  if (checked.stop.length > 0)
    parts.push(`${command.atDeadline ? "deadline reached, stopping" : "stopping"} ${list(checked.stop)}`);
  if (replaced > 0) parts.push(`${replaced} replacements pending`);
  const why = command.reason === "" ? "" : ` (${command.reason})`;
  state.addEvent(
    atMs,
    "node-drain-progress",
    { node: node.id },
    `drain of ${node.id} step ${command.stepSeq}: ${parts.join("; ") || "nothing"}${why}`,
  );
  return success({
    ...result,
    applied: true,
    migrating: checked.migrate.length,
    stopped: checked.stop.length,
    ignoredReason: "",
  });
}

/**
 * A step re-checked against the state at this point of the log: each container is on the node,
 * wanted running, named once; a migration is of a converged deployment, not a migration already;
 * a stop before the deadline is of a replica whose replacement counts healthy, and never leaves
 * its deployment below its disruption budget (replicas - max_unavailable healthy).
 */
function checkDrainStep(
  state: ClusterState,
  node: NodeRecord,
  drain: NodeDrainRecord,
  command: NodeDrainStepCommand,
  atMs: number,
): FsmFailure | { migrate: ContainerRecord[]; stop: ContainerRecord[] } {
  const seen = new Set<string>();
  const onNode = (id: string): FsmFailure | ContainerRecord => {
    const container = state.containers.get(id);
    if (seen.has(id)) return failure("INVALID_ARGUMENT", `a drain step names container ${id} twice`);
    seen.add(id);
    if (container === undefined || container.node !== node.id || container.desired !== "running")
      return failure("FAILED_PRECONDITION", `container ${id} is not a replica on ${node.id} wanted running`);
    if (isIgnoredSingleton(drain, state.deployments.get(container.deployment), container))
      return failure("FAILED_PRECONDITION", `container ${id} is a singleton the drain of ${node.id} leaves alone`);
    return container;
  };
  const migrate: ContainerRecord[] = [];
  for (const id of command.migrateContainerIds) {
    const container = onNode(id);
    if ("ok" in container) return container;
    const deployment = state.deployments.get(container.deployment) as DeploymentRecord;
    if (!isConverged(deployment))
      return failure("FAILED_PRECONDITION", `deployment ${deployment.spec.name} is changing version; migrate later`);
    if (state.openMigrations(deployment).some((m) => m.from === id))
      return failure("FAILED_PRECONDITION", `container ${id} already has a replacement`);
    migrate.push(container);
  }
  const stop: ContainerRecord[] = [];
  const healthyLeft = new Map<string, number>();
  for (const id of command.stopContainerIds) {
    const container = onNode(id);
    if ("ok" in container) return container;
    stop.push(container);
    if (command.atDeadline) continue;
    const deployment = state.deployments.get(container.deployment) as DeploymentRecord;
    const migration = state.openMigrations(deployment).find((m) => m.from === id);
    if (migration === undefined || !isReplacementReady(deployment, state.containers.get(migration.to), atMs))
      return failure(
        "FAILED_PRECONDITION",
        `container ${id} has no replacement healthy for ${deployment.spec.update.minHealthyTimeMs} ms yet; it stays`,
      );
    const name = deployment.spec.name;
    let healthy = healthyLeft.get(name);
    if (healthy === undefined)
      healthy = state.containersOf(name).filter((c) => c.desired === "running" && isHealthy(c)).length;
    if (isHealthy(container)) healthy -= 1;
    healthyLeft.set(name, healthy);
    const floor = deployment.spec.replicas - deployment.spec.maxUnavailable;
    if (healthy < floor)
      return failure(
        "FAILED_PRECONDITION",
        `stopping ${id} would leave ${healthy} replicas of ${name} healthy, below its budget of ${floor} (replicas - max_unavailable)`,
      );
  }
  // At most max_parallel migrations of a deployment in flight, counting those this step ends.
  const stopping = new Set(stop.map((c) => c.id));
  for (const name of new Set(migrate.map((c) => c.deployment))) {
    const deployment = state.deployments.get(name) as DeploymentRecord;
    const inFlight = state.openMigrations(deployment).filter((m) => !stopping.has(m.from)).length;
    const starting = migrate.filter((c) => c.deployment === name).length;
    if (inFlight + starting > deployment.spec.update.maxParallel)
      return failure(
        "FAILED_PRECONDITION",
        `${inFlight + starting} migrations of ${name} at once would exceed its max_parallel (${deployment.spec.update.maxParallel})`,
      );
  }
  return { migrate, stop };
}

/** Replicas of the deployment's current version wanted running (as NodeDown counts them to replace one). */
function currentReplicas(state: ClusterState, deployment: DeploymentRecord): number {
  return state
    .containersOf(deployment.spec.name)
    .filter((c) => c.desired === "running" && c.version === deployment.version).length;
}

export function applyNodeDrainFinish(state: ClusterState, command: NodeDrainFinishCommand, atMs: number): ApplyResult {
  const found = activeDrain(state, command.nodeId, command.reason);
  if ("ok" in found) return found;
  const { node, drain } = found;
  const result = { kind: "node-drain-finish", nodeId: node.id } as const;
  if (command.stepSeq !== drain.stepSeq)
    return success({
      ...result,
      applied: false,
      ignoredReason: `step ${command.stepSeq} is not the drain's next (${drain.stepSeq})`,
    });
  const left = state
    .holdingOn(node.id)
    .filter((c) => !isIgnoredSingleton(drain, state.deployments.get(c.deployment), c)).length;
  if (left > 0)
    return failure("FAILED_PRECONDITION", `node ${node.id} still holds ${left} containers; the drain goes on`);
  drain.stepSeq += 1;
  completeDrain(state, node, drain, command.reason, atMs);
  return success({ ...result, applied: true, ignoredReason: "" });
}

function completeDrain(state: ClusterState, node: NodeRecord, drain: NodeDrainRecord, reason: string, atMs: number) {
  drain.state = "complete";
  drain.finishedAtMs = atMs;
  drain.reason = reason;
  if (node.status === "draining") setStatus(node, upStatus(node), "drain complete", atMs);
  state.touchNode(node);
  const forced = drain.stoppedAtDeadline > 0 ? `, ${drain.stoppedAtDeadline} stopped at the deadline` : "";
  state.addEvent(
    atMs,
    "node-drain-complete",
    { node: node.id },
    `drain of node ${node.id} complete: ${drain.migrated} migrated${forced}; it stays ineligible (${reason})`,
  );
}

/**
 * A scale, a new version or a delete of the deployment ends its migrations: each replacement
 * still wanted is stopped (removed if unplaced) and the replica it was to replace stays, for the
 * drain to migrate again under the new spec. Stopping a replacement costs no healthy replica the
 * deployment relies on: its replica is still running.
 */
export function abandonMigrations(state: ClusterState, deployment: DeploymentRecord): void {
  if (deployment.migrations.length === 0) return;
  for (const migration of state.openMigrations(deployment)) {
    const replacement = state.containers.get(migration.to) as ContainerRecord;
    if (replacement.node === "" || isTerminal(replacement.state)) state.removeContainer(replacement);
    else state.stopContainer(replacement);
  }
  deployment.migrations = [];
  state.touchDeployment(deployment);
}
