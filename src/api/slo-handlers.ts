/**
 * GetSlo: the deployment success rate against the objective (docs/architecture.md, "Success rate").
 *
 * The figures come from the outcome buckets of this replica's FSM (replicated, so they survive
 * failover) and are computed by the pure SLO math of src/health/core at this replica's wall
 * clock: the windows end at the answering replica's "now". The read is linearizable (the
 * leader confirms it with ReadIndex; a follower answers with the leader's address) unless the
 * request asks for `stale`, when this replica's local state answers at once.
 */
import { outcomeToProto, type ClusterFsm, type OperationOutcome } from "../fsm/index.js";
import type {
  GetSloRequest,
  GetSloResponse,
  SloDeploymentOutcome,
  SloOpenOperation,
  SloWindow,
} from "../gen/orchestrator/v1/orchestrator.js";
import { computeSlo, sloWindows, type SloReport } from "../fsm/slo.js";
import { assert } from "../lib/assert.js";

export const sloApiLimits = {
  /** Deployments' last outcomes returned by GetSlo, most recent first (recent_outcomes_total tells how many had one). */
  recentOutcomesMax: 100,
} as const;

assert(sloApiLimits.recentOutcomesMax > 0, "GetSlo returns at least one recent outcome");

export interface SloHandlerDeps {
  readonly fsm: ClusterFsm;
  /** Resolves once this replica's state reflects every write committed before the call (no-op when stale). */
  readBarrier(stale: boolean): Promise<void>;
  /** Wall-clock milliseconds since the epoch, of the answering replica. */
  wallMs(): number;
  replicaId(): string;
}

export function createSloHandlers(deps: SloHandlerDeps): { getSlo(request: GetSloRequest): Promise<GetSloResponse> } {
  return {
    async getSlo(request) {
      await deps.readBarrier(request.stale);
      return sloResponse(deps.fsm, deps.wallMs(), deps.replicaId());
    },
  };
}

/** The windows of a report as the API shows them, shortest first. */
export function sloWindowsToProto(report: SloReport): SloWindow[] {
  return sloWindows.map(({ name }) => {
    const window = report.windows[name];
    return {
      name,
      minutes: window.minutes,
      succeeded: window.succeeded,
      failed: window.failed,
      successRatio: window.successRatio,
      burnRate: window.burnRate,
    };
  });
}

/** The whole answer from `fsm` at `nowMs`: windows, error budget, open operations, recent outcomes. */
export function sloResponse(fsm: ClusterFsm, nowMs: number, replicaId: string): GetSloResponse {
  const report = computeSlo(fsm.outcomeBuckets(), nowMs);
  const openOperations: SloOpenOperation[] = fsm.openOperations().map((operation) => ({
    deployment: operation.deployment,
    id: operation.id,
    kind: operation.kind,
    startedAtMs: operation.startedAtMs,
    deadlineAtMs: operation.deadlineAtMs,
  }));
  const finished: { deployment: string; outcome: OperationOutcome }[] = [];
  for (const view of fsm.listDeployments()) {
    const outcome = view.deployment.lastOutcome;
    if (outcome !== null) finished.push({ deployment: view.deployment.spec.name, outcome });
  }
  // Most recently finished first; ties by name so every replica answers alike.
  finished.sort(
    (a, b) =>
      b.outcome.finishedAtMs - a.outcome.finishedAtMs ||
      (a.deployment < b.deployment ? -1 : a.deployment > b.deployment ? 1 : 0),
  );
  const recentOutcomes: SloDeploymentOutcome[] = finished
    .slice(0, sloApiLimits.recentOutcomesMax)
    .map(({ deployment, outcome }) => ({ deployment, lastOutcome: outcomeToProto(outcome) }));
  return {
    objective: report.objective,
    windows: sloWindowsToProto(report),
    errorBudgetRemainingRatio: report.errorBudget.remainingRatio,
    errorBudgetAllowedFailures: report.errorBudget.allowedFailures,
    errorBudgetFailed: report.errorBudget.failed,
    errorBudgetConsumedRatio: report.errorBudget.consumedRatio,
    openOperations,
    recentOutcomes,
    recentOutcomesTotal: finished.length,
    nowMs,
    revision: fsm.revision,
    replicaId,
  };
}
