/**
 * Sends container state changes to the leader in batches. Reports queue per container (a newer
 * one replaces an unsent older one), go out as one ReportStatus call at a time (whatever
 * accumulates meanwhile forms the next batch), and are retried after a failover: they are
 * idempotent, so a batch sent twice does no harm. The memo of the last report per container
 * lets reconciliation tell a report that is still on its way from one that was lost.
 */
import { ContainerHealth, ReportOutcome, type ContainerReport } from "../../gen/agent/v1/agent.js";
import { ContainerState } from "../../gen/orchestrator/v1/types.js";
import { assertNever } from "../../lib/assert.js";
import type { ContainerAddress } from "../../fsm/index.js";
import type { Logger } from "../../lib/logger.js";
import type { ReportedState } from "../core/container-lifecycle.js";
import type { ReportMemo } from "../core/reconcile.js";
import { agentLimits } from "../limits.js";
import type { AgentMetrics } from "./agent-metrics.js";
import { ControlPlaneClient, RpcFailure } from "./control-plane-client.js";

export interface StatusReport {
  readonly containerId: string;
  readonly nodeId: string;
  readonly state: ReportedState;
  readonly generation: number;
  readonly message: string;
  /** Where its ports are reached (real runtimes; empty in the simulator). */
  readonly addresses?: readonly ContainerAddress[];
}

interface Queued extends StatusReport {
  readonly seq: number;
}

interface Memo extends ReportMemo {
  readonly seq: number;
}

export interface StatusReporterDeps {
  readonly agentId: string;
  readonly client: ControlPlaneClient;
  readonly logger: Logger;
  readonly metrics: AgentMetrics;
  /** A killed node cannot talk: its reports are dropped (reconciliation re-derives them on revival). */
  readonly nodeAlive: (nodeId: string) => boolean;
  readonly signal: AbortSignal;
}

export class StatusReporter {
  private readonly queue = new Map<string, Queued>();
  private readonly memos = new Map<string, Memo>();
  private seqLast = 0;
  private pumping = false;

  constructor(private readonly deps: StatusReporterDeps) {}

  enqueue(report: StatusReport): void {
    if (!this.deps.nodeAlive(report.nodeId)) return;
    this.seqLast += 1;
    const queued: Queued = { ...report, seq: this.seqLast };
    this.queue.delete(report.containerId);
    this.queue.set(report.containerId, queued);
    this.memos.set(report.containerId, {
      state: report.state,
      generation: report.generation,
      ackedRevision: null,
      seq: queued.seq,
    });
    void this.pump();
  }

  lastReport(containerId: string): ReportMemo | undefined {
    return this.memos.get(containerId);
  }

  /** Forgets memos of containers that are neither local nor assigned any more. */
  retainOnly(containerIds: ReadonlySet<string>): void {
    for (const id of this.memos.keys()) if (!containerIds.has(id) && !this.queue.has(id)) this.memos.delete(id);
  }

  get queued(): number {
    return this.queue.size;
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    const backoff = this.deps.client.backoff();
    try {
      while (this.queue.size > 0 && !this.deps.signal.aborted) {
        const batch = this.takeBatch();
        if (batch.length === 0) continue;
        const sent = await this.send(batch);
        if (sent) {
          backoff.reset();
          continue;
        }
        this.requeue(batch);
        await this.deps.client.pauseIfRoundEnded(backoff, this.deps.signal);
      }
    } catch (error) {
      if (!this.deps.signal.aborted) throw error;
    } finally {
      this.pumping = false;
    }
  }

  private takeBatch(): Queued[] {
    const batch: Queued[] = [];
    for (const [id, report] of this.queue) {
      if (batch.length >= agentLimits.reportsPerBatchMax) break;
      this.queue.delete(id);
      if (this.deps.nodeAlive(report.nodeId)) batch.push(report);
      else this.dropMemo(report);
    }
    return batch;
  }

  /** True when the leader answered (whatever it said about each report); false to retry. */
  private async send(batch: readonly Queued[]): Promise<boolean> {
    const reports: ContainerReport[] = batch.map(toProto);
    try {
      const response = await this.deps.client.call(
        "reportStatus",
        { agentId: this.deps.agentId, reports },
        agentLimits.callTimeoutMs,
      );
      this.deps.metrics.reportCalls.inc({ result: "ok" });
      for (const [index, report] of batch.entries()) {
        const result = response.results[index];
        const outcome = outcomeName(result?.outcome ?? ReportOutcome.REPORT_OUTCOME_UNSPECIFIED);
        this.deps.metrics.reports.inc({ outcome });
        if (outcome === "refused")
          this.deps.logger.warn(
            { container: report.containerId, node: report.nodeId, state: report.state, reason: result?.message },
            "report refused",
          );
        else if (outcome === "ignored")
          this.deps.logger.debug(
            { container: report.containerId, node: report.nodeId, state: report.state, reason: result?.message },
            "report ignored",
          );
        const memo = this.memos.get(report.containerId);
        if (memo?.seq === report.seq) this.memos.set(report.containerId, { ...memo, ackedRevision: response.revision });
      }
      return true;
    } catch (error) {
      if (!(error instanceof RpcFailure)) throw error;
      this.deps.metrics.reportCalls.inc({ result: "failed" });
      if (this.deps.client.isRetryable(error)) {
        this.deps.logger.debug({ err: error.message, reports: batch.length }, "report batch failed; retrying");
        return false;
      }
      // The request itself is wrong (a bug or a version mismatch): retrying cannot help.
      this.deps.logger.error({ err: error.message, reports: batch.length }, "report batch rejected; dropping it");
      for (const report of batch) {
        this.deps.metrics.reports.inc({ outcome: "dropped" });
        this.dropMemo(report);
      }
      return true;
    }
  }

  /** Puts back what no newer report superseded meanwhile, ahead of the newer ones. */
  private requeue(batch: readonly Queued[]): void {
    const newer = [...this.queue];
    this.queue.clear();
    for (const report of batch)
      if (!newer.some(([id]) => id === report.containerId)) this.queue.set(report.containerId, report);
    for (const [id, report] of newer) this.queue.set(id, report);
  }

  private dropMemo(report: Queued): void {
    if (this.memos.get(report.containerId)?.seq === report.seq) this.memos.delete(report.containerId);
  }
}

function toProto(report: StatusReport): ContainerReport {
  return {
    containerId: report.containerId,
    nodeId: report.nodeId,
    state: stateToProto(report.state),
    // The agent says what runs, never whether it is healthy: that is the leader's probes' verdict,
    // so a rollout counts a new replica only once its health check passed (a running process whose
    // endpoint fails must not look healthy, nor let a rollout stop an old replica for it).
    health: ContainerHealth.CONTAINER_HEALTH_UNSPECIFIED,
    message: report.message,
    instanceRestartCount: report.generation,
    ...(report.addresses !== undefined && report.addresses.length > 0
      ? { addresses: { addresses: report.addresses.map(({ name, address }) => ({ name, address })) } }
      : {}),
  };
}

function stateToProto(state: ReportedState): ContainerState {
  switch (state) {
    case "starting":
      return ContainerState.CONTAINER_STATE_STARTING;
    case "running":
      return ContainerState.CONTAINER_STATE_RUNNING;
    case "stopped":
      return ContainerState.CONTAINER_STATE_STOPPED;
    case "failed":
      return ContainerState.CONTAINER_STATE_FAILED;
    default:
      return assertNever(state, "local container state");
  }
}

function outcomeName(outcome: ReportOutcome): "applied" | "ignored" | "refused" | "unknown" {
  switch (outcome) {
    case ReportOutcome.REPORT_OUTCOME_APPLIED:
      return "applied";
    case ReportOutcome.REPORT_OUTCOME_IGNORED:
      return "ignored";
    case ReportOutcome.REPORT_OUTCOME_REFUSED:
      return "refused";
    default:
      return "unknown";
  }
}
