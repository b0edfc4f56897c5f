import { collectDefaultMetrics, type Registry } from "prom-client";

/**
 * prom-client's default metrics that break the Prometheus naming rules: gauges whose names end in
 * `_total`, which `promtool check metrics` rejects ("non-counter metrics should not have _total
 * suffix"). Each is the sum over `type` of its unsuffixed sibling (`nodejs_active_handles{type}`
 * and so on), which stays, so nothing is lost by dropping them.
 */
const misnamedDefaultGauges = [
  "nodejs_active_handles_total",
  "nodejs_active_requests_total",
  "nodejs_active_resources_total",
] as const;

/** The process and Node.js runtime metrics (CPU, memory, event loop lag, GC) under `prefix` (their names already start with process_ or nodejs_). */
export function registerProcessMetrics(registry: Registry, prefix: string): void {
  collectDefaultMetrics({ register: registry, prefix });
  for (const name of misnamedDefaultGauges) registry.removeSingleMetric(`${prefix}${name}`);
}
