import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadDashboards, panelQueries, parseLabelValues, toPromQl, variableQuery } from "./dashboards.js";
import { parseExposition, seriesCount, type MetricFamily } from "./exposition.js";
import { LiveEnv, nodesPerRegion, regionCount } from "./live-env.js";
import { describeRun, prometheusDir, requireTool, runTool, skipPrometheus } from "./tools.js";

/**
 * The observability contract against real processes: three replicas, one agent per region and
 * a real Prometheus scraping them every second with the repository's rules. After a deployment
 * gives the metrics something to count, every metric docs/architecture.md names is on every replica,
 * every /metrics passes `promtool check metrics`, no label can grow without bound, every
 * dashboard panel query returns data and every rule Prometheus loaded evaluates.
 *
 * Without prometheus/promtool installed this FAILS, saying how to install them (CI does it in
 * .ci/run); SKIP_PROMETHEUS=1 skips it.
 */

/** docs/architecture.md's metric list: name, type and the labels each series must have. */
const replicaMetrics: readonly { name: string; type: string; labels?: readonly string[] }[] = [
  { name: "orchestrator_raft_term", type: "gauge" },
  { name: "orchestrator_raft_is_leader", type: "gauge" },
  { name: "orchestrator_raft_has_leader", type: "gauge" },
  { name: "orchestrator_raft_leader_changes_seen_total", type: "counter" },
  { name: "orchestrator_raft_commit_index", type: "gauge" },
  { name: "orchestrator_raft_applied_index", type: "gauge" },
  { name: "orchestrator_raft_proposals_committed_total", type: "counter" },
  { name: "orchestrator_raft_proposals_failed_total", type: "counter" },
  { name: "orchestrator_raft_log_fsync_duration_seconds", type: "histogram" },
  { name: "orchestrator_raft_peer_round_trip_seconds", type: "histogram", labels: ["peer"] },
  // Leader-only: 0 on followers, a series per label value from the start.
  { name: "orchestrator_scheduler_placements_total", type: "counter", labels: ["strategy"] },
  { name: "orchestrator_scheduler_plan_duration_seconds", type: "histogram" },
  { name: "orchestrator_health_probes_total", type: "counter", labels: ["result"] },
  { name: "orchestrator_health_breaker_state", type: "gauge", labels: ["state"] },
  { name: "orchestrator_container_restarts_total", type: "counter", labels: ["reason"] },
  { name: "orchestrator_nodes", type: "gauge", labels: ["region", "status"] },
  { name: "orchestrator_containers", type: "gauge", labels: ["state"] },
  { name: "orchestrator_deployment_success_ratio", type: "gauge", labels: ["window"] },
  { name: "orchestrator_slo_error_budget_remaining_ratio", type: "gauge" },
];

/** The agent's own metrics that have samples once it runs containers. */
const agentMetrics: readonly { name: string; type: string; labels?: readonly string[] }[] = [
  { name: "orchestrator_agent_containers", type: "gauge", labels: ["state"] },
  { name: "orchestrator_agent_nodes", type: "gauge", labels: ["status"] },
  { name: "orchestrator_agent_connected", type: "gauge" },
  { name: "orchestrator_agent_reports_queued", type: "gauge" },
  { name: "orchestrator_agent_heartbeats_total", type: "counter", labels: ["result"] },
  { name: "orchestrator_agent_registrations_total", type: "counter", labels: ["result"] },
  { name: "orchestrator_agent_reports_total", type: "counter", labels: ["outcome"] },
  { name: "orchestrator_agent_health_requests_total", type: "counter", labels: ["code"] },
];

/** Label names that would mean one series per container (or per request). */
const unboundedLabelNames = ["container", "container_id", "containerId", "id", "request_id", "url", "path"];
/** The most series (label sets, buckets aside) one family may have on one endpoint. */
const seriesPerFamilyMax = 64;

const deployment = { name: "web", replicas: 3 };
const spreadDeployment = { name: "api", replicas: regionCount };

interface ContainerJson {
  readonly id: string;
}

describe.skipIf(skipPrometheus)("live metrics, dashboards and rules (real cluster, agents and Prometheus)", () => {
  let env: LiveEnv;
  const scraped = new Map<string, { body: string; families: Map<string, MetricFamily> }>();
  const containerIds: string[] = [];

  beforeAll(async () => {
    env = await LiveEnv.start();
    // Something for the metrics to count: placements with two strategies, probes, reports.
    await env.ctl([
      "deploy",
      deployment.name,
      "--image",
      "nginx:1",
      "--replicas",
      String(deployment.replicas),
      "--cpu",
      "500m",
      "--memory",
      "256Mi",
      "--wait",
      "--timeout",
      "30",
    ]);
    await env.ctl([
      "deploy",
      spreadDeployment.name,
      "--image",
      "nginx:1",
      "--replicas",
      String(spreadDeployment.replicas),
      "--cpu",
      "250m",
      "--memory",
      "128Mi",
      "--strategy",
      "spread",
      "--wait",
      "--timeout",
      "30",
    ]);
    for (const name of [deployment.name, spreadDeployment.name]) {
      containerIds.push(...(await env.ctl<{ containers: ContainerJson[] }>(["get", name])).containers.map((c) => c.id));
    }
    // Rates need a few points after the deployments.
    await env.waitForScrapes(4);
    const endpoints = [
      ...[...env.replicaMetricsAddresses()].map(([id, address]) => [`replica ${id}`, address]),
      ...[...env.agentMetricsAddresses()].map(([region, address]) => [`agent ${region}`, address]),
    ];
    for (const [what, address] of endpoints) {
      const body = await (await fetch(`http://${address}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
      scraped.set(what, { body, families: parseExposition(body) });
    }
  });

  afterAll(async () => {
    await env?.close();
  });

  const replicas = () => [...scraped].filter(([what]) => what.startsWith("replica "));
  const agents = () => [...scraped].filter(([what]) => what.startsWith("agent "));

  it("every replica, leader or not, exports every metric of docs/architecture.md with its labels", () => {
    expect(replicas()).toHaveLength(3);
    const problems: string[] = [];
    for (const [what, { families }] of replicas()) {
      for (const metric of replicaMetrics) {
        const family = families.get(metric.name);
        if (family === undefined) problems.push(`${what}: no ${metric.name}`);
        else if (family.type !== metric.type)
          problems.push(`${what}: ${metric.name} is a ${family.type}, not a ${metric.type}`);
        else if (family.samples.length === 0) problems.push(`${what}: ${metric.name} has no series`);
        else {
          for (const label of metric.labels ?? []) {
            if (!family.samples.every((s) => label in s.labels))
              problems.push(`${what}: ${metric.name} lacks label ${label}`);
          }
        }
      }
      const windows = families.get("orchestrator_deployment_success_ratio")?.samples.map((s) => s.labels.window) ?? [];
      expect(windows, `${what}: success ratio windows`).toEqual(expect.arrayContaining(["5m", "1h", "30d"]));
      const regions = new Set(families.get("orchestrator_nodes")?.samples.map((s) => s.labels.region));
      expect(regions.size, `${what}: regions of orchestrator_nodes`).toBe(regionCount);
    }
    expect(problems).toEqual([]);
  });

  it("every agent exports its metrics, with its region", () => {
    expect(agents()).toHaveLength(regionCount);
    const problems: string[] = [];
    for (const [what, { families }] of agents()) {
      for (const metric of agentMetrics) {
        const family = families.get(metric.name);
        if (family === undefined || family.samples.length === 0) problems.push(`${what}: no ${metric.name} series`);
        else if (family.type !== metric.type)
          problems.push(`${what}: ${metric.name} is a ${family.type}, not a ${metric.type}`);
        else if (!family.samples.every((s) => s.labels.region === what.slice("agent ".length)))
          problems.push(`${what}: ${metric.name} without its region label`);
      }
      const alive = families.get("orchestrator_agent_nodes")?.samples.find((s) => s.labels.status === "alive")?.value;
      expect(alive, `${what}: alive nodes`).toBe(nodesPerRegion);
    }
    expect(problems).toEqual([]);
  });

  it("promtool check metrics passes on every replica's and agent's /metrics", async () => {
    const promtool = requireTool("promtool");
    for (const [what, { body }] of scraped) {
      const result = await runTool(promtool, ["check", "metrics"], { input: body });
      expect(result.code, `${what}: ${describeRun("promtool", ["check", "metrics"], result)}`).toBe(0);
    }
  });

  it("no label can grow without bound: no container ids, no per-container label names, few series per family", () => {
    expect(containerIds.length).toBe(deployment.replicas + spreadDeployment.replicas);
    const problems: string[] = [];
    for (const [what, { families }] of scraped) {
      for (const family of families.values()) {
        for (const sample of family.samples) {
          for (const [label, value] of Object.entries(sample.labels)) {
            if (unboundedLabelNames.includes(label)) problems.push(`${what}: ${sample.name} has label ${label}`);
            if (containerIds.some((id) => value.includes(id)))
              problems.push(`${what}: ${sample.name}{${label}="${value}"} names a container`);
          }
        }
        if (seriesCount(family) > seriesPerFamilyMax)
          problems.push(`${what}: ${family.name} has ${seriesCount(family)} series`);
      }
    }
    expect(problems).toEqual([]);
  });

  it("every panel query of every dashboard parses and returns data", async () => {
    const failures: string[] = [];
    let evaluated = 0;
    for (const dashboard of loadDashboards()) {
      for (const query of panelQueries(dashboard)) {
        const promql = toPromQl(query.expr, dashboard.templating.list);
        const result = await env.query(promql);
        evaluated++;
        const where = `${query.dashboard} / panel "${query.panel}" / ${query.refId}: ${promql}`;
        if (!result.ok) failures.push(`${where}\n    does not evaluate: ${result.error}`);
        else if (result.samples.length === 0) failures.push(`${where}\n    returns no data`);
        else if (!result.samples.some((s) => Number.isFinite(Number(s.value[1]))))
          failures.push(`${where}\n    returns only NaN/Inf`);
      }
    }
    expect(evaluated).toBeGreaterThan(50);
    expect(failures, failures.join("\n")).toEqual([]);
  });

  it("every template variable lists values", async () => {
    const failures: string[] = [];
    for (const dashboard of loadDashboards()) {
      for (const variable of dashboard.templating.list) {
        const parsed = parseLabelValues(variableQuery(variable));
        if (parsed === null) {
          failures.push(`${dashboard.file}: variable ${variable.name} is not a label_values() query`);
          continue;
        }
        const result = await env.query(parsed.selector);
        const values = result.ok
          ? new Set(result.samples.map((s) => s.metric[parsed.label]).filter((v) => v !== undefined))
          : new Set();
        if (values.size === 0)
          failures.push(`${dashboard.file}: variable ${variable.name} (${variableQuery(variable)}) lists nothing`);
      }
    }
    expect(failures).toEqual([]);
  });

  it("Prometheus loaded every rule of alerts.yml, evaluates each without error, and each expression parses", async () => {
    const check = await runTool(requireTool("promtool"), ["check", "rules", "alerts.yml"], { cwd: prometheusDir });
    const declared = Number(/SUCCESS: (\d+) rules found/.exec(check.stdout)?.[1]);
    expect(declared).toBeGreaterThan(0);
    // Every group has been evaluated at least once (every second here).
    const rules = await waitForEvaluatedRules(env, declared);
    const failures: string[] = [];
    for (const rule of rules) {
      if (rule.health !== "ok") failures.push(`${rule.name}: health ${rule.health} ${rule.lastError ?? ""}`);
      const result = await env.query(rule.query);
      if (!result.ok) failures.push(`${rule.name}: ${rule.query}\n    does not evaluate: ${result.error}`);
    }
    expect(failures, failures.join("\n")).toEqual([]);
    const alerts = new Set(rules.filter((r) => r.type === "alerting").map((r) => r.name));
    expect([...alerts].sort()).toEqual(
      expect.arrayContaining([
        "OrchestratorNoLeader",
        "OrchestratorHighNumberOfLeaderChanges",
        "OrchestratorHighNumberOfFailedProposals",
        "OrchestratorHighFsyncDurations",
        "OrchestratorSlowPeerRoundTrips",
        "OrchestratorReplicaDown",
        "OrchestratorQuorumAtRisk",
        "OrchestratorQuorumLost",
        "OrchestratorNodesDown",
        "OrchestratorContainerRestartsLooping",
        "OrchestratorErrorBudgetBurn",
      ]),
    );
    // The recorded burn rates exist for every window the burn-rate alerts use.
    const recorded = await env.query("job:orchestrator_deployment_burn_rate:max");
    expect(recorded.ok && recorded.samples.map((s) => s.metric.window).sort()).toEqual([
      "1d",
      "1h",
      "2h",
      "30d",
      "30m",
      "3d",
      "5m",
      "6h",
    ]);
    // A healthy cluster: nothing fires.
    const firing = await env.query('ALERTS{alertstate="firing"}');
    expect(firing.ok && firing.samples.map((s) => s.metric.alertname)).toEqual([]);
  });
});

async function waitForEvaluatedRules(env: LiveEnv, declared: number) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const rules = await env.rules();
    if (rules.length === declared && rules.every((r) => r.health !== "unknown")) return rules;
    if (Date.now() > deadline)
      throw new Error(
        `Prometheus has ${rules.length} of ${declared} rules, health: ${rules.map((r) => `${r.name}=${r.health}`).join(", ")}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
