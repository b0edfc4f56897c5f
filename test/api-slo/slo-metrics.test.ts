import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { registerSloMetrics } from "../../src/server/slo-metrics.js";
import { FixedClock, FsmFeeder, minuteStartMs } from "./harness.js";

/** The SLO gauges every replica exports, read from its own FSM at scrape time. */

/** The value of the sample `name{labels}` (labels as prom-client prints them, in order), or undefined. */
function sample(text: string, name: string, labels = ""): number | undefined {
  const prefix = labels === "" ? `${name} ` : `${name}{${labels}} `;
  const line = text.split("\n").find((l) => l.startsWith(prefix));
  return line === undefined ? undefined : Number(line.slice(prefix.length));
}

describe("SLO metrics", () => {
  it("exports ratios, burn rates, windowed counts and the budget, following the clock and the FSM", async () => {
    const feeder = new FsmFeeder();
    const nowMs = minuteStartMs + 30_000;
    feeder.outcome(feeder.deploy("web", nowMs - 50 * 60_000), false, nowMs - 40 * 60_000, "deadline passed"); // 1h, 30d
    let atMs = nowMs - 60_000;
    for (let i = 0; i < 3; i += 1) feeder.outcome(feeder.scale("web", i + 2, (atMs += 10)), true, (atMs += 10)); // all windows
    feeder.scale("web", 9, atMs + 10); // open
    const clock = new FixedClock(nowMs);
    const registry = new Registry();
    registerSloMetrics(registry, feeder.fsm, clock);

    const text = await registry.metrics();
    expect(sample(text, "orchestrator_deployment_success_ratio", 'window="5m"')).toBe(1);
    expect(sample(text, "orchestrator_deployment_success_ratio", 'window="1h"')).toBe(0.75);
    expect(sample(text, "orchestrator_deployment_success_ratio", 'window="30d"')).toBe(0.75);
    expect(sample(text, "orchestrator_deployment_burn_rate", 'window="5m"')).toBe(0);
    expect(sample(text, "orchestrator_deployment_burn_rate", 'window="1h"')).toBeCloseTo(2_500, 6);
    expect(sample(text, "orchestrator_deployment_operations", 'window="5m",outcome="succeeded"')).toBe(3);
    expect(sample(text, "orchestrator_deployment_operations", 'window="5m",outcome="failed"')).toBe(0);
    expect(sample(text, "orchestrator_deployment_operations", 'window="1h",outcome="failed"')).toBe(1);
    expect(sample(text, "orchestrator_deployment_operations", 'window="30d",outcome="succeeded"')).toBe(3);
    expect(sample(text, "orchestrator_deployment_open_operations")).toBe(1);
    expect(sample(text, "orchestrator_slo_error_budget_remaining_ratio")).toBe(0);
    expect(sample(text, "orchestrator_slo_objective_ratio")).toBe(0.9999);

    // An hour later only the 30-day window holds the outcomes; the same FSM, a later scrape.
    clock.wallNowMs = nowMs + 3_600_000;
    const later = await registry.metrics();
    expect(sample(later, "orchestrator_deployment_success_ratio", 'window="1h"')).toBe(1);
    expect(sample(later, "orchestrator_deployment_operations", 'window="1h",outcome="failed"')).toBe(0);
    expect(sample(later, "orchestrator_deployment_operations", 'window="30d",outcome="failed"')).toBe(1);

    // A new outcome is seen by the next scrape (the FSM's revision changed).
    feeder.outcome(feeder.scale("web", 1, clock.wallNowMs - 1_000), true, clock.wallNowMs - 500);
    const next = await registry.metrics();
    expect(sample(next, "orchestrator_deployment_operations", 'window="5m",outcome="succeeded"')).toBe(1);
    expect(sample(next, "orchestrator_deployment_open_operations")).toBe(0);
  });

  it("follows promtool's naming conventions: gauges, no _total, help on every metric", async () => {
    const registry = new Registry();
    registerSloMetrics(registry, new FsmFeeder().fsm, new FixedClock(minuteStartMs));
    const metrics = await registry.getMetricsAsJSON();
    expect(metrics.map((m) => [m.name, m.type]).sort()).toEqual(
      [
        ["orchestrator_deployment_burn_rate", "gauge"],
        ["orchestrator_deployment_open_operations", "gauge"],
        ["orchestrator_deployment_operations", "gauge"],
        ["orchestrator_deployment_success_ratio", "gauge"],
        ["orchestrator_slo_error_budget_remaining_ratio", "gauge"],
        ["orchestrator_slo_objective_ratio", "gauge"],
      ].sort(),
    );
    for (const metric of metrics) {
      expect(metric.name).toMatch(/^orchestrator_[a-z0-9_]+$/);
      expect(metric.name).not.toMatch(/_total$|_count$|_sum$|_bucket$/);
      expect(metric.help.length).toBeGreaterThan(10);
    }
    // With no operations: every ratio 1, the whole budget left (not NaN).
    const text = await registry.metrics();
    expect(text).not.toContain("NaN");
    expect(sample(text, "orchestrator_deployment_success_ratio", 'window="30d"')).toBe(1);
    expect(sample(text, "orchestrator_slo_error_budget_remaining_ratio")).toBe(1);
  });
});
