import { assert } from "../../lib/assert.js";

/**
 * The rule that decides a deployment operation's outcome, the unit the success-rate objective
 * counts. An operation started at startedAtMs with a progress deadline d succeeds when all its
 * desired replicas are healthy at some evaluation strictly before startedAtMs + d, and fails at
 * startedAtMs + d otherwise: the deadline itself is already too late, as with Kubernetes'
 * progressDeadlineSeconds.
 *
 * The first answer other than "pending" is the outcome: the leader writes it to the log (so the
 * figures survive failover) and stops evaluating that operation. A later drop in healthy replicas
 * is a new operation (a replacement), not a change of this one's outcome.
 */

export type OperationKind = "deploy" | "scale" | "version-change" | "replacement";
export type OperationOutcome = "pending" | "succeeded" | "failed";

export interface Operation {
  readonly kind: OperationKind;
  /** On the clock of the leader that evaluates it (carried in the log). */
  readonly startedAtMs: number;
  readonly progressDeadlineMs: number;
}

export interface ReplicaCounts {
  /** Replicas the operation asked for. 0 (scaled to nothing) succeeds at once. */
  readonly desired: number;
  /** Replicas of the operation's version that are healthy now. */
  readonly healthy: number;
}

/** The first instant at which the operation has failed if it has not succeeded. */
export function operationDeadlineMs(op: Operation): number {
  return op.startedAtMs + op.progressDeadlineMs;
}

export function evaluateOperation(op: Operation, counts: ReplicaCounts, nowMs: number): OperationOutcome {
  assert(Number.isFinite(op.startedAtMs) && Number.isFinite(nowMs), "times must be finite");
  assert(
    Number.isInteger(op.progressDeadlineMs) && op.progressDeadlineMs > 0,
    "progress deadline must be a positive integer of ms",
  );
  assert(Number.isInteger(counts.desired) && counts.desired >= 0, "desired replicas must be a non-negative integer");
  assert(Number.isInteger(counts.healthy) && counts.healthy >= 0, "healthy replicas must be a non-negative integer");
  if (nowMs >= operationDeadlineMs(op)) return "failed";
  // Healthy replicas beyond the desired count (a scale-down still draining) do not hold it back.
  if (counts.healthy >= counts.desired) return "succeeded";
  return "pending";
}
