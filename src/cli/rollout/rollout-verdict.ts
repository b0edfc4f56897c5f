/**
 * Where the rollout to one version stands, read from a deployment: still going (and how far),
 * or over, with whether it succeeded and why. Pure, so the follower's decisions are tested on
 * their own.
 */
import type { Container, Deployment } from "../../gen/orchestrator/v1/types.js";
import { DesiredState } from "../../gen/orchestrator/v1/types.js";

export type RolloutVerdict =
  | {
      readonly kind: "going";
      readonly state: string;
      /** Replicas of the new version wanted running and healthy. */
      readonly healthy: number;
      readonly desired: number;
      readonly reason: string;
    }
  | { readonly kind: "ended"; readonly succeeded: boolean; readonly state: string; readonly message: string };

export function rolloutVerdict(
  deployment: Deployment,
  containers: readonly Container[],
  toVersion: number,
): RolloutVerdict {
  const name = deployment.spec?.name ?? "";
  const rollout = deployment.rollout;
  if (rollout === undefined)
    return { kind: "ended", succeeded: false, state: "none", message: `${name} has never rolled out a version` };
  if (rollout.toVersion === toVersion) {
    const why = rollout.reason === "" ? "" : `: ${rollout.reason}`;
    switch (rollout.state) {
      case "succeeded":
        return {
          kind: "ended",
          succeeded: true,
          state: "succeeded",
          message: `rollout of ${name} to v${toVersion} succeeded`,
        };
      case "failed":
        return {
          kind: "ended",
          succeeded: false,
          state: "failed",
          message: `rollout of ${name} to v${toVersion} failed${why}`,
        };
      case "reverted":
        return {
          kind: "ended",
          succeeded: false,
          state: "reverted",
          // A revert rollout that completed: the deployment is back, but the change it undid failed.
          message: `${name} reverted from failed v${rollout.fromVersion}; v${toVersion} now runs the last good spec${why}`,
        };
      default: {
        const healthy = containers.filter(
          (c) =>
            c.version === toVersion && c.desiredState === DesiredState.DESIRED_STATE_RUNNING && c.health === "healthy",
        ).length;
        return {
          kind: "going",
          state: rollout.state,
          healthy,
          desired: deployment.spec?.replicas ?? 0,
          reason: rollout.reason,
        };
      }
    }
  }
  // A later rollout replaced the one followed: its version's outcome says how it ended.
  const entry = deployment.history.find((v) => v.version === toVersion);
  const outcome = entry?.outcome ?? "unknown";
  if (outcome === "succeeded")
    return {
      kind: "ended",
      succeeded: true,
      state: "succeeded",
      message: `rollout of ${name} to v${toVersion} succeeded`,
    };
  const now = `now rolling out v${rollout.toVersion}${rollout.isRevert ? " (a revert)" : ""}`;
  const state = rollout.isRevert && outcome === "failed" ? "reverted" : outcome;
  const why = rollout.isRevert ? `, reverted: ${rollout.reason}` : "";
  return {
    kind: "ended",
    succeeded: false,
    state,
    message: `rollout of ${name} to v${toVersion} ${outcome}${why}; ${now}`,
  };
}
