/**
 * Deploy, scale and delete.
 *
 * Scale-down and capacity. A surplus container that was never placed, or has already ended,
 * is removed at once (it holds nothing). A placed, live one is marked desired=stopped and keeps
 * holding its request on its node until it is known to have ended: its agent reports it stopped
 * or failed (ContainerStatus), or the leader forgets it (RemoveContainer, e.g. its node is
 * down). Only then is its capacity released and its record removed. So a node's allocation is
 * always the sum of what is placed on it and not yet known to have ended, and a replacement can
 * never be placed into room that a container still shutting down occupies.
 *
 * Which surplus goes first: unplaced ones, then ended ones (a crashed one gives back the room
 * it kept for its restart), then the live ones; newest (highest ordinal) first within each
 * group, so the oldest, longest-proven replicas stay. A spread deployment's live ones go from
 * the region holding the most of them (newest first there), so what stays is as even over the
 * regions as before; binpack and latency-aware deployments keep the newest-first order (a
 * latency-aware one is meant to sit in the nearest regions, not evenly).
 *
 * A deploy, and a scale that changes the count, open the deployment's operation (see
 * apply-operation.ts); a delete drops it, along with the lost containers kept as history.
 */
import { abandonMigrations } from "./apply-drain.js";
import type { DeleteCommand, DeployCommand, ScaleCommand } from "../gen/orchestrator/v1/fsm.js";
import type * as pb from "../gen/orchestrator/v1/types.js";
import { openOperation } from "./apply-operation.js";
import type { ApplyResult, DeployResult } from "./apply-result.js";
import { errorBudgetAt } from "./error-budget.js";
import type { ClusterState } from "./cluster-state.js";
import { fsmLimits } from "./limits.js";
import { failure, success } from "./result.js";
import {
  isTerminal,
  type ContainerRecord,
  type DeploymentRecord,
  type DeploymentSpec,
  type Strategy,
} from "./state.js";
import {
  specDifferences,
  validateDeploymentName,
  validateDeploymentSpec,
  validateScale,
  validateText,
} from "./validation.js";
import { startVersion, type VersionMeta } from "./version-history.js";

/**
 * Creates a deployment, or changes one: an identical spec is a no-op, a change of replicas alone
 * a scale, any other change a new version and a rollout to it (with the new replica count, if
 * that changed too). A new version is refused while the cluster's 30-day error budget is spent,
 * unless forced.
 */
export function applyDeploy(
  state: ClusterState,
  command: DeployCommand,
  defaultActor: string,
  atMs: number,
  keepPolicy = true,
): ApplyResult {
  // Entries of older formats are applied as they were when first committed (with the defaults).
  const current = keepPolicy && command.spec !== undefined ? state.deployments.get(command.spec.name)?.spec : undefined;
  const requested = command.spec === undefined ? undefined : withCurrentPolicy(command.spec, current);
  const checked = validateDeploymentSpec(requested, state.nodeCapacities());
  if (!checked.ok) return checked;
  const problem =
    validateText("actor", command.actor ?? "", fsmLimits.actorLengthMax) ??
    validateText("deploy reason", command.reason ?? "", fsmLimits.reasonLengthMax);
  if (problem !== null) return problem;
  const spec = checked.value;
  const meta = { actor: command.actor || defaultActor, atMs, reason: command.reason || "deploy" };
  const force = command.force ?? false;
  const existing = state.deployments.get(spec.name);
  if (existing !== undefined) return redeploy(state, existing, spec, meta, force);
  if (state.deployments.size >= fsmLimits.deploymentsMax) {
    return failure(
      "RESOURCE_EXHAUSTED",
      `the cluster already holds ${state.deployments.size} deployments, the most it allows; delete one first`,
    );
  }
  const room = containerRoom(state, spec.replicas);
  if (room !== null) return room;
  const deployment = state.createDeployment(spec, meta);
  for (let i = 0; i < spec.replicas; i++) state.createContainer(deployment);
  openOperation(state, deployment, "deploy", atMs);
  state.addEvent(
    atMs,
    "deployed",
    { deployment: spec.name },
    `deployed ${spec.name} (${spec.image}): ${spec.replicas} replicas of ${spec.cpuMillicores}m cpu / ${spec.memoryMib}Mi memory, strategy ${spec.strategy}`,
  );
  return success({ kind: "deploy", name: spec.name, version: deployment.version, created: true, result: "created" });
}

/**
 * A spec without an update policy keeps the deployment's current one (canary capped at the new
 * replica count), so re-running a deploy without the policy flags neither resets the policy nor
 * makes a new version; a new deployment takes the defaults.
 */
export function withCurrentPolicy(spec: pb.DeploymentSpec, existing: DeploymentSpec | undefined): pb.DeploymentSpec {
  if (existing === undefined) return spec;
  // The disruption budget is policy too: a deploy that does not name it keeps it.
  const kept = spec.maxUnavailable === undefined ? { ...spec, maxUnavailable: existing.maxUnavailable } : spec;
  if (kept.update !== undefined) return kept;
  const current = existing.update;
  return { ...kept, update: { ...current, canary: Math.min(current.canary, spec.replicas) } };
}

function redeploy(
  state: ClusterState,
  deployment: DeploymentRecord,
  spec: DeploymentSpec,
  meta: VersionMeta,
  force: boolean,
): ApplyResult {
  const name = spec.name;
  const differences = specDifferences(deployment.spec, spec);
  const done = (result: DeployResult) =>
    success({ kind: "deploy", name, version: deployment.version, created: false, result } as const);
  if (differences.length === 0) return done("unchanged");
  if (
    deployment.spec.replicas !== spec.replicas &&
    specDifferences(scaledSpec(deployment.spec, spec.replicas), spec).length === 0
  ) {
    const scaled = scaleTo(state, deployment, spec.replicas, meta.atMs);
    return scaled.ok ? done("scaled") : scaled;
  }
  const budget = errorBudgetAt(state, meta.atMs);
  if (budget.spent && !force) {
    const message = `the cluster's 30-day error budget is spent (${budget.failed} failed operations, ${Number(budget.allowedFailures.toFixed(4))} allowed): new versions are refused until it recovers; deploy with --force to ship ${name} anyway`;
    return failure("FAILED_PRECONDITION", message);
  }
  if (spec.replicas > deployment.spec.replicas) {
    const room = containerRoom(state, spec.replicas - deployment.spec.replicas + spec.update.maxSurge);
    if (room !== null) return room;
  }
  startVersion(state, deployment, spec, meta, { isRevert: false, skipCanary: false });
  state.addEvent(
    meta.atMs,
    "configured",
    { deployment: name },
    `configured ${name} v${deployment.version}: ${differences.join(", ")}`,
  );
  return done("configured");
}

export function applyScale(state: ClusterState, command: ScaleCommand, atMs: number): ApplyResult {
  const problem = validateScale(command.name, command.replicas);
  if (problem !== null) return problem;
  const deployment = state.deployments.get(command.name);
  if (deployment === undefined) return notFound(command.name);
  return scaleTo(state, deployment, command.replicas, atMs);
}

/**
 * A new replica count. Up: new pending replicas of the current version. Down: the surplus goes,
 * old versions first (a rollout in progress is not undone), then, if the current version still
 * runs more than the new count, its own surplus.
 */
function scaleTo(state: ClusterState, deployment: DeploymentRecord, target: number, atMs: number): ApplyResult {
  const name = deployment.spec.name;
  const previous = deployment.spec.replicas;
  const unchanged = {
    kind: "scale",
    name,
    replicas: target,
    previousReplicas: previous,
    created: 0,
    removed: 0,
    stopping: 0,
  } as const;
  if (target === previous) return success(unchanged);
  abandonMigrations(state, deployment);
  if (target > previous) {
    const room = containerRoom(state, target - previous);
    if (room !== null) return room;
    for (let i = previous; i < target; i++) state.createContainer(deployment);
    setReplicas(state, deployment, target);
    openOperation(state, deployment, "scale", atMs);
    state.addEvent(atMs, "scaled", { deployment: name }, `scaled ${name} from ${previous} to ${target} replicas`);
    return success({ ...unchanged, created: target - previous });
  }
  const wanted = wantedRunning(state, name);
  const ordered = scaleDownOrder(wanted, deployment.spec.strategy, deployment.version);
  const victims = ordered.slice(0, previous - target);
  const chosen = new Set(victims);
  const currentLeft = ordered.filter((c) => c.version === deployment.version && !chosen.has(c));
  if (currentLeft.length > target) victims.push(...currentLeft.slice(0, currentLeft.length - target));
  const { removed, stopping } = shedContainers(state, victims);
  setReplicas(state, deployment, target);
  openOperation(state, deployment, "scale", atMs);
  state.addEvent(
    atMs,
    "scaled",
    { deployment: name },
    `scaled ${name} from ${previous} to ${target} replicas (${removed} removed, ${stopping} stopping)`,
  );
  return success({ ...unchanged, removed, stopping });
}

export function applyDelete(state: ClusterState, command: DeleteCommand, atMs: number): ApplyResult {
  const problem = validateDeploymentName(command.name);
  if (problem !== null) return problem;
  if (!state.deployments.has(command.name)) return notFound(command.name);
  const { removed, stopping } = shedContainers(state, scaleDownOrder(wantedRunning(state, command.name), "binpack"));
  // Replaced containers kept as history go with their deployment.
  for (const container of state.containersOf(command.name))
    if (container.state === "lost") state.removeContainer(container);
  state.operations.dropDeployment(command.name);
  state.deleteDeployment(command.name);
  state.addEvent(
    atMs,
    "deleted",
    { deployment: command.name },
    `deleted ${command.name}: ${removed} containers removed, ${stopping} stopping`,
  );
  return success({ kind: "delete", name: command.name, removed, stopping });
}

function notFound(name: string): ApplyResult {
  return failure("NOT_FOUND", `deployment ${name} not found; orchctl list shows the deployments`);
}

function containerRoom(state: ClusterState, more: number): ApplyResult | null {
  if (state.containers.size + more <= fsmLimits.containersMax) return null;
  return failure(
    "RESOURCE_EXHAUSTED",
    `the cluster holds ${state.containers.size} containers and allows at most ${fsmLimits.containersMax}; ${more} more do not fit: scale something down or delete a deployment first`,
  );
}

/** The spec after a scale: the replica count, and the canary count capped at it. */
export function scaledSpec(spec: DeploymentSpec, replicas: number): DeploymentSpec {
  return { ...spec, replicas, update: { ...spec.update, canary: Math.min(spec.update.canary, replicas) } };
}

function setReplicas(state: ClusterState, deployment: DeploymentRecord, replicas: number): void {
  deployment.spec = scaledSpec(deployment.spec, replicas);
  deployment.specRevision = state.revision;
  state.touchDeployment(deployment);
}

function wantedRunning(state: ClusterState, name: string): ContainerRecord[] {
  return state.containersOf(name).filter((container) => container.desired === "running");
}

function shedRank(container: ContainerRecord): number {
  if (container.node === "") return 0;
  if (isTerminal(container.state)) return 1;
  return 2;
}

/**
 * The order in which surplus replicas go (see the file comment); live replicas of versions other
 * than `currentVersion` go before the current version's.
 */
export function scaleDownOrder(
  containers: readonly ContainerRecord[],
  strategy: Strategy,
  currentVersion = Number.NaN,
): ContainerRecord[] {
  const old = containers.filter((c) => shedRank(c) === 2 && c.version !== currentVersion);
  if (old.length > 0 && old.length < containers.filter((c) => shedRank(c) === 2).length) {
    const oldSet = new Set(old);
    const rest = containers.filter((c) => !oldSet.has(c));
    const notLive = scaleDownOrder(
      rest.filter((c) => shedRank(c) < 2),
      strategy,
    );
    return [
      ...notLive,
      ...scaleDownOrder(old, strategy),
      ...scaleDownOrder(
        rest.filter((c) => shedRank(c) === 2),
        strategy,
      ),
    ];
  }
  const ranked = [...containers].sort((a, b) => shedRank(a) - shedRank(b) || b.ordinal - a.ordinal);
  const firstLive = ranked.findIndex((c) => shedRank(c) === 2);
  if (strategy !== "spread" || firstLive < 0) return ranked;
  // Live ones by region, newest first; each turn takes from the fullest region (ties: the
  // region whose next victim is newest), so the counts left stay as even as they were.
  const byRegion = new Map<string, { readonly queue: ContainerRecord[]; head: number }>();
  for (const container of ranked.slice(firstLive)) {
    const region = byRegion.get(container.region);
    if (region === undefined) byRegion.set(container.region, { queue: [container], head: 0 });
    else region.queue.push(container);
  }
  const order = ranked.slice(0, firstLive);
  while (order.length < ranked.length) {
    let best: { readonly queue: ContainerRecord[]; head: number } | null = null;
    for (const region of byRegion.values()) {
      const left = region.queue.length - region.head;
      if (left === 0) continue;
      const bestLeft = best === null ? 0 : best.queue.length - best.head;
      if (
        best === null ||
        left > bestLeft ||
        (left === bestLeft && region.queue[region.head].ordinal > best.queue[best.head].ordinal)
      )
        best = region;
    }
    if (best === null) break;
    order.push(best.queue[best.head++]);
  }
  return order;
}

function shedContainers(
  state: ClusterState,
  victims: readonly ContainerRecord[],
): { removed: number; stopping: number } {
  let removed = 0;
  let stopping = 0;
  for (const container of victims) {
    if (shedRank(container) < 2) {
      state.removeContainer(container);
      removed += 1;
    } else {
      state.stopContainer(container);
      stopping += 1;
    }
  }
  return { removed, stopping };
}
