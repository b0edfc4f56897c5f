import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import {
  allPanels,
  loadDashboards,
  panelQueries,
  parseLabelValues,
  variableQuery,
  type Dashboard,
} from "./dashboards.js";
import { grafanaDir } from "./tools.js";

/**
 * The dashboards' shape, without Prometheus: the panels operators rely on exist, every query
 * selects by job and by the dashboard's instance variable, rates use $__rate_interval, and the
 * datasource is the provisioned one. Whether each query returns data is the live suite's job.
 */

const dashboards = loadDashboards();
const byUid = (uid: string): Dashboard => {
  const found = dashboards.find((d) => d.uid === uid);
  if (found === undefined) throw new Error(`no dashboard with uid ${uid} in grafana/dashboards/`);
  return found;
};
const titles = (uid: string) => allPanels(byUid(uid)).map((p) => p.title);

/** Metric selectors in a query: orchestrator_* metrics, recorded job:* series and `up`. */
const selectorPattern = /\b(orchestrator_[a-z0-9_]+|job:[a-z0-9_:]+|up)\b(\{[^}]*\})?/g;

describe("grafana/dashboards", () => {
  it("has the three dashboards, each with its own uid and unique panel ids", () => {
    expect(dashboards.map((d) => d.uid).sort()).toEqual([
      "orchestrator-cluster",
      "orchestrator-health-slo",
      "orchestrator-scheduling",
    ]);
    for (const dashboard of dashboards) {
      const ids = [...dashboard.panels, ...dashboard.panels.flatMap((p) => p.panels ?? [])].map((p) => p.id);
      expect(new Set(ids).size, `${dashboard.file}: duplicate panel ids`).toBe(ids.length);
    }
  });

  it("cluster overview: leader per replica, term, commit/applied index, proposals, fsync and peer latency, leader changes", () => {
    expect(titles("orchestrator-cluster")).toEqual(
      expect.arrayContaining([
        "Leader per replica",
        "Term per replica",
        "Commit index per replica",
        "Applied index per replica",
        "Proposals per second",
        "Log fsync p99",
        "Peer round trip p99",
        "Leader changes",
      ]),
    );
  });

  it("scheduling and nodes: capacity by region, placements, pending", () => {
    expect(titles("orchestrator-scheduling")).toEqual(
      expect.arrayContaining([
        "CPU capacity and allocation by region",
        "Memory capacity and allocation by region",
        "Placements per second by strategy",
        "Pending containers",
      ]),
    );
  });

  it("health and SLO: probe outcomes, breaker states, restarts, success ratio, error budget, burn rate", () => {
    expect(titles("orchestrator-health-slo")).toEqual(
      expect.arrayContaining([
        "Probe outcomes per second",
        "Circuit breaker states",
        "Restarts by reason",
        "Success ratio by window",
        "Error budget remaining",
        "Burn rate by window",
      ]),
    );
  });

  it("every dashboard has the instance variable (all replicas by default), and the cluster overview repeats a row per replica", () => {
    for (const dashboard of dashboards) {
      const instance = dashboard.templating.list.find((v) => v.name === "instance");
      expect(instance, `${dashboard.file}: no instance variable`).toBeDefined();
      expect(instance).toMatchObject({ type: "query", multi: true, includeAll: true, allValue: ".+" });
      expect(parseLabelValues(variableQuery(instance!))).toEqual({
        selector: 'orchestrator_raft_term{job="orchestrator"}',
        label: "instance",
      });
    }
    const repeated = byUid("orchestrator-cluster").panels.filter((p) => p.type === "row" && p.repeat === "instance");
    expect(repeated).toHaveLength(1);
  });

  it("every query selects by job and by the dashboard's instance variable", () => {
    const problems: string[] = [];
    for (const dashboard of dashboards) {
      const variables = new Set(dashboard.templating.list.map((v) => v.name));
      for (const query of panelQueries(dashboard)) {
        const where = `${dashboard.file} / ${query.panel} / ${query.refId}: ${query.expr}`;
        const selectors = [...query.expr.matchAll(selectorPattern)];
        if (selectors.length === 0) problems.push(`${where}: no metric selector`);
        for (const [whole, name, matchers = ""] of selectors) {
          if (!/job="(orchestrator|node-agent)"/.test(matchers))
            problems.push(`${where}: ${whole} does not filter by job`);
          // Recorded series are per job already (aggregated over the replicas).
          if (!name.startsWith("job:") && !/instance=~"\$(instance|agent)"/.test(matchers))
            problems.push(`${where}: ${whole} does not filter by instance`);
        }
        for (const [, variable] of query.expr.matchAll(/\$(\w+)/g)) {
          if (!variable.startsWith("__") && !variables.has(variable))
            problems.push(`${where}: unknown variable $${variable}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it("every range selector is $__rate_interval (or $__range for a whole-range stat)", () => {
    const problems: string[] = [];
    for (const dashboard of dashboards) {
      for (const query of panelQueries(dashboard)) {
        for (const [whole, range] of query.expr.matchAll(/\[([^\]]*)\]/g)) {
          if (range !== "$__rate_interval" && range !== "$__range")
            problems.push(`${dashboard.file} / ${query.panel}: ${whole} in ${query.expr}`);
        }
        if (/\b(i?rate|increase)\(/.test(query.expr) && !query.expr.includes("[$__"))
          problems.push(`${dashboard.file} / ${query.panel}: rate without a range: ${query.expr}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it("every panel uses the provisioned Prometheus datasource and fits the 24-column grid", () => {
    const provisioning = readFileSync(path.join(grafanaDir, "provisioning", "datasources", "prometheus.yml"), "utf8");
    const uid = /^\s*uid:\s*(\S+)\s*$/m.exec(provisioning)?.[1];
    expect(uid).toBe("prometheus");
    for (const dashboard of dashboards) {
      for (const panel of allPanels(dashboard)) {
        expect(panel.datasource, `${dashboard.file} / ${panel.title}`).toEqual({ type: "prometheus", uid });
        expect(panel.gridPos.x + panel.gridPos.w, `${dashboard.file} / ${panel.title}`).toBeLessThanOrEqual(24);
        expect(panel.targets?.length ?? 0, `${dashboard.file} / ${panel.title}: no query`).toBeGreaterThan(0);
      }
    }
  });

  it("the dashboard provider loads the directory compose mounts the dashboards at", () => {
    const provider = readFileSync(path.join(grafanaDir, "provisioning", "dashboards", "microorchestrator.yml"), "utf8");
    const providerPath = /^\s*path:\s*(\S+)\s*$/m.exec(provider)?.[1];
    const compose = readFileSync(path.join(grafanaDir, "..", "cluster", "docker-compose.yml"), "utf8");
    expect(compose).toContain(`../grafana/dashboards:${providerPath}:ro`);
    expect(compose).toContain("../grafana/provisioning:/etc/grafana/provisioning:ro");
  });
});
