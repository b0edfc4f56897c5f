/**
 * The error-budget gate of new versions (issue 12, point 5): while the cluster's 30-day error
 * budget is spent, a new version of a deployment is refused unless forced. The FSM decides it
 * from its own outcome buckets at the command's time, with the same arithmetic as GetSlo
 * (slo.ts), so every replica decides alike and the answer matches what
 * `orchctl slo` shows.
 */
import { computeSlo } from "./slo.js";
import type { ClusterState } from "./cluster-state.js";

export interface ErrorBudget {
  readonly spent: boolean;
  readonly failed: number;
  readonly allowedFailures: number;
}

export function errorBudgetAt(state: ClusterState, atMs: number): ErrorBudget {
  const report = computeSlo(state.outcomes.values(), atMs);
  const budget = report.errorBudget;
  return {
    spent: report.windows["30d"].total > 0 && budget.remainingRatio <= 0,
    failed: budget.failed,
    allowedFailures: budget.allowedFailures,
  };
}
