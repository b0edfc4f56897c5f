/**
 * Versions of a deployment and the start of a rollout to a new one (a deploy of a changed spec,
 * an automatic revert, an operator's undo).
 *
 * A new version takes over the running containers whose spec it shares (all but replicas, the
 * update policy and the operations' progress deadline, see sameTemplate): they already run what
 * it asks for, so a revert keeps the healthy replicas of the version it goes back to untouched,
 * as Kubernetes reuses an old ReplicaSet. At most `replicas` are taken over; the rest are old
 * replicas the rollout stops.
 *
 * The history keeps the last fsmLimits.versionHistoryMax versions and, beyond them, the newest
 * version that rolled out successfully (the revert target).
 */
import { abandonMigrations } from "./apply-drain.js";
import { assert } from "../lib/assert.js";
import { openOperation } from "./apply-operation.js";
import type { ClusterState } from "./cluster-state.js";
import { fsmLimits } from "./limits.js";
import {
  isRolloutActive,
  type ContainerRecord,
  type DeploymentRecord,
  type DeploymentSpec,
  type VersionRecord,
} from "./state.js";
import { sameTemplate } from "./validation.js";

export interface VersionMeta {
  readonly actor: string;
  readonly atMs: number;
  readonly reason: string;
}

/** The entry of `version` in the history, if it is still kept. */
export function versionEntry(deployment: Readonly<DeploymentRecord>, version: number): VersionRecord | undefined {
  return deployment.history.find((entry) => entry.version === version);
}

/** The newest version that rolled out successfully, other than `except`. */
export function stableVersion(deployment: Readonly<DeploymentRecord>, except = 0): VersionRecord | undefined {
  for (let i = deployment.history.length - 1; i >= 0; i--) {
    const entry = deployment.history[i];
    if (entry.outcome === "succeeded" && entry.version !== except) return entry;
  }
  return undefined;
}

/** The spec a rollback to `entry` deploys: its spec at today's replica count, without a canary beyond it. */
export function rollbackSpec(deployment: Readonly<DeploymentRecord>, entry: VersionRecord): DeploymentSpec {
  const replicas = deployment.spec.replicas;
  return {
    ...entry.spec,
    replicas,
    update: { ...entry.spec.update, canary: Math.min(entry.spec.update.canary, replicas) },
  };
}

/**
 * Makes `spec` version N+1 of the deployment and starts a rollout to it. An active rollout is
 * superseded (its version's outcome says so, and its operation is dropped uncounted).
 */
export function startVersion(
  state: ClusterState,
  deployment: DeploymentRecord,
  spec: DeploymentSpec,
  meta: VersionMeta,
  kind: { readonly isRevert: boolean; readonly skipCanary: boolean },
): void {
  const isRevert = kind.isRevert;
  const name = deployment.spec.name;
  assert(spec.name === name, "a version of another deployment");
  const fromVersion = deployment.version;
  // Drain replacements of the old spec would outnumber `replicas` next to the new version's.
  abandonMigrations(state, deployment);
  const previous = deployment.rollout;
  if (previous !== null && isRolloutActive(previous.state)) {
    const entry = versionEntry(deployment, previous.toVersion);
    if (entry !== undefined && entry.outcome === "pending") entry.outcome = "superseded";
    previous.state = "failed";
    previous.pausedBy = null;
    previous.finishedAtMs = meta.atMs;
    previous.reason = `superseded by v${fromVersion + 1} (${meta.reason})`;
  }
  const specs = new Map(deployment.history.map((entry) => [entry.version, entry.spec]));
  const version = fromVersion + 1;
  deployment.version = version;
  deployment.spec = spec;
  deployment.specRevision = state.revision;
  deployment.history.push({ ...meta, version, spec, revision: state.revision, outcome: "pending" });
  pruneHistory(deployment);
  const { current, old } = takeOver(state, deployment, specs);
  // The rollout's operation supersedes whatever was open: its outcome is the version's.
  openOperation(state, deployment, "rollout", meta.atMs);
  const canary = Math.min(spec.update.canary, spec.replicas);
  const promoted = isRevert || kind.skipCanary || canary === 0 || old === 0;
  deployment.rollout = {
    fromVersion,
    toVersion: version,
    state: !promoted && current >= canary ? "awaiting-promotion" : "running",
    isRevert,
    pausedBy: null,
    startedAtMs: meta.atMs,
    lastProgressAtMs: meta.atMs,
    finishedAtMs: 0,
    reason: meta.reason,
    stepSeq: 0,
    promoted,
    operationId: `${name}-${state.revision}`,
  };
  state.touchDeployment(deployment);
  const kept = current > 0 ? `; ${current} running replicas already match it` : "";
  state.addEvent(
    meta.atMs,
    "rollout-started",
    { deployment: name },
    `rolling out ${name} v${fromVersion} -> v${version} (${meta.reason})${kept}; ${old} to replace${isRevert ? ", no canary phase" : ""}`,
  );
}

/** Relabels up to `replicas` running containers whose spec matches; counts current and old ones. */
function takeOver(
  state: ClusterState,
  deployment: DeploymentRecord,
  specs: ReadonlyMap<number, DeploymentSpec>,
): { current: number; old: number } {
  const wanted = state.containersOf(deployment.spec.name).filter((c) => c.desired === "running");
  const matching = wanted
    .filter((c) => {
      const spec = specs.get(c.version);
      return spec !== undefined && sameTemplate(spec, deployment.spec);
    })
    .sort(byHealthThenOrdinal);
  const taken = matching.slice(0, deployment.spec.replicas);
  for (const container of taken) state.relabelContainer(container, deployment.version);
  return { current: taken.length, old: wanted.length - taken.length };
}

function byHealthThenOrdinal(a: ContainerRecord, b: ContainerRecord): number {
  const rank = (c: ContainerRecord) => (c.health === "healthy" ? 0 : c.node !== "" ? 1 : 2);
  return rank(a) - rank(b) || a.ordinal - b.ordinal;
}

function pruneHistory(deployment: DeploymentRecord): void {
  const history = deployment.history;
  if (history.length <= fsmLimits.versionHistoryMax) return;
  const keep = stableVersion(deployment);
  const cut = history.length - fsmLimits.versionHistoryMax;
  const kept = history.slice(cut);
  const dropped = history.slice(0, cut);
  deployment.history = keep !== undefined && dropped.includes(keep) && !kept.includes(keep) ? [keep, ...kept] : kept;
}
