import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { grafanaDir } from "./tools.js";

/**
 * The Grafana dashboards of grafana/dashboards/ as the tests see them: every panel query (rows'
 * nested panels included), every template variable, and how to turn a query into plain PromQL
 * that Prometheus' HTTP API evaluates.
 */

export interface DashboardTarget {
  readonly expr: string;
  readonly refId: string;
  readonly legendFormat?: string;
}

export interface DashboardPanel {
  readonly id: number;
  readonly type: string;
  readonly title: string;
  readonly datasource?: { readonly type: string; readonly uid: string };
  readonly gridPos: { readonly x: number; readonly y: number; readonly w: number; readonly h: number };
  readonly targets?: readonly DashboardTarget[];
  readonly panels?: readonly DashboardPanel[];
  readonly repeat?: string;
}

export interface TemplateVariable {
  readonly name: string;
  readonly type: string;
  readonly definition?: string;
  readonly query?: { readonly query: string } | string;
  readonly allValue?: string;
  readonly multi?: boolean;
  readonly includeAll?: boolean;
}

export interface Dashboard {
  readonly file: string;
  readonly uid: string;
  readonly title: string;
  readonly panels: readonly DashboardPanel[];
  readonly templating: { readonly list: readonly TemplateVariable[] };
}

/** One query of one panel, with where it came from for failure messages. */
export interface PanelQuery {
  readonly dashboard: string;
  readonly panel: string;
  readonly refId: string;
  readonly expr: string;
}

export const dashboardsDir = path.join(grafanaDir, "dashboards");

export function loadDashboards(): Dashboard[] {
  return readdirSync(dashboardsDir)
    .filter((name) => name.endsWith(".json"))
    .sort()
    .map((name) => ({
      ...(JSON.parse(readFileSync(path.join(dashboardsDir, name), "utf8")) as Omit<Dashboard, "file">),
      file: name,
    }));
}

/** Every panel, rows' nested (collapsed) panels included, rows themselves excluded. */
export function allPanels(dashboard: Dashboard): DashboardPanel[] {
  const out: DashboardPanel[] = [];
  const visit = (panels: readonly DashboardPanel[]) => {
    for (const panel of panels) {
      if (panel.type !== "row") out.push(panel);
      if (panel.panels !== undefined) visit(panel.panels);
    }
  };
  visit(dashboard.panels);
  return out;
}

export function panelQueries(dashboard: Dashboard): PanelQuery[] {
  return allPanels(dashboard).flatMap((panel) =>
    (panel.targets ?? []).map((target) => ({
      dashboard: `${dashboard.title} (${dashboard.file})`,
      panel: panel.title,
      refId: target.refId,
      expr: target.expr,
    })),
  );
}

/** The variable's query text (Grafana stores it as a string or as {query}). */
export function variableQuery(variable: TemplateVariable): string {
  if (typeof variable.query === "string") return variable.query;
  return variable.query?.query ?? variable.definition ?? "";
}

/** The values Grafana's built-in interval variables get in the tests. */
export const builtinSubstitutions: Readonly<Record<string, string>> = {
  __rate_interval: "1m",
  __interval: "15s",
  __range: "1h",
};

/**
 * Grafana's interpolation for the tests: built-in intervals get fixed values and every
 * template variable a regex that matches all its values (what "All" does with allValue ".+").
 * Handles `$name`, `${name}` and `${name:format}`.
 */
export function toPromQl(expr: string, variables: readonly TemplateVariable[]): string {
  const names = new Set(variables.map((v) => v.name));
  return expr.replace(
    /\$\{(\w+)(?::\w+)?\}|\$(\w+)/g,
    (whole, braced: string | undefined, bare: string | undefined) => {
      const name = braced ?? bare ?? "";
      if (name in builtinSubstitutions) return builtinSubstitutions[name];
      if (names.has(name)) return ".+";
      return whole;
    },
  );
}

/** `label_values(selector, label)` as the selector and the label, or null for other variable queries. */
export function parseLabelValues(query: string): { selector: string; label: string } | null {
  const match = /^\s*label_values\(\s*(.+)\s*,\s*(\w+)\s*\)\s*$/.exec(query);
  return match === null ? null : { selector: match[1], label: match[2] };
}
