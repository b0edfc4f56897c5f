import { assert } from "../../lib/assert.js";
import { drainStepContainersMax } from "./limits.js";
import type { DrainDecision, DrainDeploymentView, DrainReplica, DrainView } from "./drain-view.js";

export function isHealthy(replica: DrainReplica): boolean {
  return replica.state === "running" && replica.health === "healthy";
}

/** A replacement counts once it has been healthy for the deployment's min_healthy_time. */
export function isReady(replica: DrainReplica | undefined, minHealthyTimeMs: number, nowMs: number): boolean {
  return (
    replica !== undefined &&
    replica.desired === "running" &&
    isHealthy(replica) &&
    nowMs - replica.healthySinceMs >= minHealthyTimeMs
  );
}

/** With --ignore-singletons, replicas of single-replica deployments stay where they are. */
function isIgnored(view: DrainView, replica: DrainReplica): boolean {
  return (
    view.ignoreSingletons && replica.desired === "running" && view.deployments.get(replica.deployment)?.replicas === 1
  );
}

/**
 * The drain controller's decision for one draining node at `nowMs` (leader time). Pure: a new
 * leader reading the same state decides the same, and the step counter in the decision makes the
 * FSM apply each step once.
 *
 * In order: nothing left on the node (but ignored singletons) finishes the drain; past the
 * deadline, whatever is left and still wanted running is stopped; otherwise each deployment with
 * replicas on the node stops those whose replacement counts healthy, as far as its disruption
 * budget allows, and starts replacements for more, up to max_parallel migrations in flight.
 */
export function decideDrain(view: DrainView, nowMs: number): DrainDecision {
  assert(Number.isFinite(nowMs), "time must be finite");
  const left = view.onNode.filter((r) => !isIgnored(view, r));
  if (left.length === 0)
    return { kind: "finish", stepSeq: view.stepSeq, reason: "every container on the node has stopped" };
  const wanted = left.filter((r) => r.desired === "running");
  if (nowMs >= view.deadlineAtMs) {
    if (wanted.length === 0) return { kind: "wait", reason: `deadline passed; ${left.length} containers stopping` };
    return {
      kind: "step",
      stepSeq: view.stepSeq,
      migrateIds: [],
      stopIds: wanted.slice(0, drainStepContainersMax).map((r) => r.id),
      atDeadline: true,
      reason: `deadline reached with ${wanted.length} containers left`,
    };
  }
  const migrateIds: string[] = [];
  const stopIds: string[] = [];
  const names = [...new Set(wanted.map((r) => r.deployment))].sort();
  for (const name of names) {
    const deployment = view.deployments.get(name);
    assert(deployment !== undefined, `replica of unknown deployment ${name} on ${view.nodeId}`);
    const room = drainStepContainersMax - Math.max(migrateIds.length, stopIds.length);
    if (room <= 0) break;
    const mine = wanted.filter((r) => r.deployment === name);
    const planned = planDeployment(deployment, mine, nowMs, room);
    migrateIds.push(...planned.migrate);
    stopIds.push(...planned.stop);
  }
  if (migrateIds.length === 0 && stopIds.length === 0) {
    const changing = names.filter((name) => view.deployments.get(name)?.converged === false);
    const why = changing.length > 0 ? `; ${changing.join(", ")} changing version` : "";
    return {
      kind: "wait",
      reason: `${wanted.length} replicas wait for replacements to count or for the budget, ${left.length - wanted.length} stopping${why}`,
    };
  }
  return {
    kind: "step",
    stepSeq: view.stepSeq,
    migrateIds,
    stopIds,
    atDeadline: false,
    reason: `${wanted.length} replicas left on the node`,
  };
}

/**
 * One deployment's share of a step: stops of replicas whose replacement is ready, while its
 * healthy count stays at or above replicas - max_unavailable, then new replacements up to
 * max_parallel migrations in flight (none while it changes version: a replacement runs the one
 * version the deployment asks).
 */
function planDeployment(
  deployment: DrainDeploymentView,
  onNode: readonly DrainReplica[],
  nowMs: number,
  room: number,
): { migrate: string[]; stop: string[] } {
  const byId = new Map(deployment.containers.map((c) => [c.id, c]));
  const here = new Set(onNode.map((r) => r.id));
  const migrations = deployment.migrations.filter((m) => here.has(m.from));
  const floor = deployment.replicas - deployment.maxUnavailable;
  let healthy = deployment.containers.filter((c) => c.desired === "running" && isHealthy(c)).length;
  const stop: string[] = [];
  for (const migration of migrations) {
    if (stop.length >= room) break;
    if (!isReady(byId.get(migration.to), deployment.minHealthyTimeMs, nowMs)) continue;
    const from = byId.get(migration.from);
    const cost = from !== undefined && isHealthy(from) ? 1 : 0;
    if (healthy - cost < floor) continue;
    healthy -= cost;
    stop.push(migration.from);
  }
  const migrating = new Set(migrations.map((m) => m.from));
  // max_parallel bounds the deployment's migrations, from whichever draining node.
  const inFlight = deployment.migrations.length - stop.length;
  const free = deployment.converged ? Math.min(room, deployment.maxParallel - inFlight) : 0;
  // Replicas that are not healthy first: their replacement restores capacity rather than moving it.
  const candidates = onNode
    .filter((r) => !migrating.has(r.id))
    .sort((a, b) => Number(isHealthy(a)) - Number(isHealthy(b)) || a.ordinal - b.ordinal);
  const migrate = candidates.slice(0, Math.max(0, free)).map((r) => r.id);
  return { migrate, stop };
}
