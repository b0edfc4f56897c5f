import { Gauge, type Registry } from "prom-client";
import type { ClusterFsm } from "../fsm/index.js";
import { computeSlo, minuteOf, sloObjective, sloWindows, type SloReport } from "../fsm/slo.js";
import { realClock, type Clock } from "../lib/clock.js";

/**
 * The deployment success rate against the objective (docs/architecture.md, "Success rate"), read from this
 * replica's FSM at scrape time and computed at this replica's wall clock, so every replica
 * reports it (a follower's figures trail the leader's by its apply lag):
 *
 *   orchestrator_deployment_success_ratio{window}        gauge  succeeded / total (1 without operations)
 *   orchestrator_deployment_burn_rate{window}            gauge  error ratio / (1 - objective)
 *   orchestrator_deployment_operations{window,outcome}   gauge  operations finished in the window
 *   orchestrator_deployment_open_operations              gauge  operations in progress
 *   orchestrator_slo_error_budget_remaining_ratio        gauge  30-day budget left, in [0, 1]
 *   orchestrator_slo_objective_ratio                     gauge  0.9999
 *
 * windows: "5m", "1h", "30d"; outcome: "succeeded", "failed".
 *
 * Why the operation counts are gauges over windows, not `orchestrator_deployment_operations_total`
 * counters: the FSM keeps outcomes only as per-minute buckets of the last 30 days, so any count
 * derived from them goes down when a bucket ages out, and a replica that installs a snapshot or
 * restarts learns outcomes in bulk. A counter must only go up (a decrease reads as a reset to
 * rate(), which would then count the whole remaining total as new operations), and counting
 * applied outcome commands per process would differ between replicas and double-count a log
 * replayed after a restart. The windowed gauge is exact, the same on every replica at the same
 * revision, and survives failover; ratios over other windows can be recomputed from it.
 */
export function registerSloMetrics(registry: Registry, fsm: ClusterFsm, clock: Clock = realClock): void {
  // The report depends only on the buckets (so the revision) and the current minute: computed
  // once for all the gauges of a scrape, and again only when either changes.
  let cached: { revision: number; minute: number; report: SloReport } | undefined;
  const report = (): SloReport => {
    const nowMs = clock.wallMs();
    const minute = minuteOf(nowMs);
    if (cached === undefined || cached.revision !== fsm.revision || cached.minute !== minute) {
      cached = { revision: fsm.revision, minute, report: computeSlo(fsm.outcomeBuckets(), nowMs) };
    }
    return cached.report;
  };
  new Gauge({
    name: "orchestrator_deployment_success_ratio",
    help: "Deployment operations that succeeded, as a fraction of those that finished in the window (1 when none did).",
    labelNames: ["window"],
    registers: [registry],
    collect() {
      const r = report();
      for (const { name } of sloWindows) this.set({ window: name }, r.windows[name].successRatio);
    },
  });
  new Gauge({
    name: "orchestrator_deployment_burn_rate",
    help: "Error-budget burn rate over the window: error ratio / (1 - objective); 1 spends the 30-day budget exactly in 30 days.",
    labelNames: ["window"],
    registers: [registry],
    collect() {
      const r = report();
      for (const { name } of sloWindows) this.set({ window: name }, r.windows[name].burnRate);
    },
  });
  new Gauge({
    name: "orchestrator_deployment_operations",
    help: "Deployment operations that finished within the window, by outcome (a windowed count, so a gauge).",
    labelNames: ["window", "outcome"],
    registers: [registry],
    collect() {
      const r = report();
      for (const { name } of sloWindows) {
        this.set({ window: name, outcome: "succeeded" }, r.windows[name].succeeded);
        this.set({ window: name, outcome: "failed" }, r.windows[name].failed);
      }
    },
  });
  new Gauge({
    name: "orchestrator_deployment_open_operations",
    help: "Deployment operations in progress (not judged yet).",
    registers: [registry],
    collect() {
      this.set(fsm.openOperations().length);
    },
  });
  new Gauge({
    name: "orchestrator_slo_error_budget_remaining_ratio",
    help: "Fraction of the 30-day error budget of the deployment success objective still unspent, in [0, 1].",
    registers: [registry],
    collect() {
      this.set(report().errorBudget.remainingRatio);
    },
  });
  new Gauge({
    name: "orchestrator_slo_objective_ratio",
    help: "The deployment success objective (fraction of operations that must succeed).",
    registers: [registry],
    collect() {
      this.set(sloObjective);
    },
  });
}
