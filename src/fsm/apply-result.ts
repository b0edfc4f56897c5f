/**
 * What apply() returns for each command. Plain data only (no undefined, no Maps): the dedup
 * table replays these to retrying clients and the snapshot stores them as JSON.
 */
import type { FsmResult } from "./result.js";
import type { NodeStatus, RolloutState } from "./state.js";

/** Why apply refused one placement of a plan, in the order the checks run. */
export type PlacementRejection =
  | "deployment-missing"
  | "deployment-version-changed"
  | "container-missing"
  | "container-not-pending"
  | "node-missing"
  | "node-not-ready"
  | "node-ineligible"
  | "region-constraint"
  | "insufficient-cpu"
  | "insufficient-memory"
  | "one-per-node";

export interface RejectionCount {
  readonly reason: PlacementRejection;
  readonly count: number;
}

export type ApplyValue =
  /** An empty entry (a new leader's no-op). */
  | { readonly kind: "noop" }
  | {
      readonly kind: "deploy";
      readonly name: string;
      readonly version: number;
      readonly created: boolean;
      /** created: version 1; configured: a new version and its rollout; scaled: replicas alone; unchanged: a no-op. */
      readonly result: DeployResult;
    }
  | {
      readonly kind: "scale";
      readonly name: string;
      readonly replicas: number;
      readonly previousReplicas: number;
      /** New pending containers. */
      readonly created: number;
      /** Surplus containers dropped at once (unplaced or already ended). */
      readonly removed: number;
      /** Surplus containers marked desired stopped; they hold their node's capacity until they stop. */
      readonly stopping: number;
    }
  | { readonly kind: "delete"; readonly name: string; readonly removed: number; readonly stopping: number }
  | { readonly kind: "register-node"; readonly nodeId: string; readonly created: boolean }
  | { readonly kind: "node-readiness"; readonly nodeId: string; readonly ready: boolean; readonly changed: boolean }
  | {
      readonly kind: "set-node-status";
      readonly nodeId: string;
      readonly status: NodeStatus;
      readonly changed: boolean;
    }
  | {
      readonly kind: "apply-plan";
      readonly planId: string;
      readonly deployment: string;
      readonly placed: number;
      readonly rejected: number;
      /** Sorted by reason. */
      readonly rejections: readonly RejectionCount[];
    }
  | {
      readonly kind: "container-status";
      readonly containerId: string;
      /** False when the report was ignored; ignoredReason says why. */
      readonly applied: boolean;
      readonly ignoredReason: string;
    }
  | { readonly kind: "remove-container"; readonly containerId: string; readonly removed: boolean }
  | {
      readonly kind: "container-health";
      readonly containerId: string;
      /** False when the verdict was ignored (the container is gone, unplaced or ended). */
      readonly applied: boolean;
      readonly ignoredReason: string;
    }
  | {
      readonly kind: "restart-container";
      readonly containerId: string;
      /** After this restart. */
      readonly restartCount: number;
      readonly nextRestartAtMs: number;
      readonly backoffStep: number;
    }
  | { readonly kind: "reset-backoff"; readonly containerId: string; readonly changed: boolean }
  | {
      readonly kind: "node-down";
      readonly nodeId: string;
      /** False when the node was already down with nothing on it. */
      readonly changed: boolean;
      /** Containers that held capacity on the node and were lost with it. */
      readonly lost: number;
      /** Of those, the ones wanted running, each replaced by a new pending container. */
      readonly rescheduled: number;
    }
  | {
      readonly kind: "operation-outcome";
      readonly operationId: string;
      /** False when the operation was not open (unknown, superseded, dropped or closed). */
      readonly recorded: boolean;
    }
  | {
      readonly kind: "operation-outcomes";
      /** How many of the verdicts closed an open operation (the others changed nothing). */
      readonly recorded: number;
      readonly ignored: number;
    }
  | {
      readonly kind: "rollout-step";
      readonly deployment: string;
      readonly toVersion: number;
      readonly stepSeq: number;
      /** False when the step's number was not the rollout's next (applied before, or ahead). */
      readonly applied: boolean;
      readonly started: number;
      readonly stopped: number;
      readonly ignoredReason: string;
    }
  | {
      readonly kind: "rollout-finish";
      readonly deployment: string;
      readonly toVersion: number;
      readonly state: RolloutState;
    }
  | {
      readonly kind: "rollout-revert";
      readonly deployment: string;
      readonly failedVersion: number;
      /** The version whose spec the new one has. */
      readonly revertedTo: number;
      readonly version: number;
    }
  | {
      readonly kind: "rollout-control";
      readonly deployment: string;
      readonly state: RolloutState;
      readonly changed: boolean;
    }
  | {
      readonly kind: "rollout-undo";
      readonly deployment: string;
      readonly toVersion: number;
      /** The deployment's version after the undo. */
      readonly version: number;
      /** False when the spec of to_version is already in force. */
      readonly changed: boolean;
    }
  /** MemberSet / MemberForget: `changed` is false when the table already said so. */
  | { readonly kind: "member"; readonly id: string; readonly changed: boolean }
  | {
      readonly kind: "acl-bootstrap";
      readonly name: string;
      /** The API layer compares it with the hash of the secret it generated (a retry may find an earlier one's). */
      readonly secretSha256: string;
    }
  | { readonly kind: "token-create"; readonly name: string; readonly secretSha256: string }
  | { readonly kind: "token-revoke"; readonly name: string }
  | {
      readonly kind: "apply-file";
      /** In the order of the file's specs. */
      readonly outcomes: readonly { readonly name: string; readonly result: DeployResult; readonly version: number }[];
    }
  | DrainValue;

/** The drain commands' values (apply-drain.ts). */
export type DrainValue =
  | {
      readonly kind: "node-eligibility";
      readonly nodeId: string;
      readonly eligible: boolean;
      readonly changed: boolean;
    }
  | {
      readonly kind: "node-drain-start";
      readonly nodeId: string;
      /** A drain started, or the one in progress took the new deadline and singleton choice. */
      readonly changed: boolean;
      /** The node held nothing (it is down): the drain completed at once. */
      readonly complete: boolean;
    }
  | {
      readonly kind: "node-drain-step";
      readonly nodeId: string;
      readonly stepSeq: number;
      /** False when the step's number was not the drain's next (applied before, or ahead). */
      readonly applied: boolean;
      readonly migrating: number;
      readonly stopped: number;
      readonly ignoredReason: string;
    }
  | {
      readonly kind: "node-drain-finish";
      readonly nodeId: string;
      readonly applied: boolean;
      readonly ignoredReason: string;
    };

export type DeployResult = "created" | "configured" | "scaled" | "unchanged";

export type ApplyResult = FsmResult<ApplyValue>;
