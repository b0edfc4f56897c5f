import { readdirSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { describeRun, prometheusDir, requireTool, runTool, skipPrometheus } from "./tools.js";

/**
 * The Prometheus configuration as promtool sees it: both scrape configurations (the local
 * topology and the compose one) load with the rules, the rules are valid, and the rule unit
 * tests of prometheus/tests/ pass (each alert family fires in one case and stays quiet in
 * another). Fails, saying how to install it, when promtool is missing (SKIP_PROMETHEUS=1 skips).
 */
describe.skipIf(skipPrometheus)("prometheus/ with promtool", () => {
  const promtool = (args: readonly string[]) => runTool(requireTool("promtool"), args, { cwd: prometheusDir });

  it.each(["prometheus.yml", "prometheus-compose.yml"])("promtool check config %s", async (file) => {
    const result = await promtool(["check", "config", file]);
    expect(result.code, describeRun("promtool", ["check", "config", file], result)).toBe(0);
    expect(result.stdout).toMatch(/SUCCESS: 1 rule files found/);
  });

  it("promtool check rules alerts.yml", async () => {
    const result = await promtool(["check", "rules", "alerts.yml"]);
    expect(result.code, describeRun("promtool", ["check", "rules", "alerts.yml"], result)).toBe(0);
    expect(result.stdout).toMatch(/SUCCESS: \d+ rules found/);
  });

  it("promtool test rules tests/*.yml: every alert family fires and stays quiet where it should", async () => {
    const tests = readdirSync(path.join(prometheusDir, "tests"))
      .filter((name) => name.endsWith(".yml"))
      .sort()
      .map((name) => path.join("tests", name));
    expect(tests.length).toBeGreaterThan(0);
    const result = await promtool(["test", "rules", ...tests]);
    expect(result.code, describeRun("promtool", ["test", "rules", ...tests], result)).toBe(0);
    expect(result.stdout.match(/SUCCESS/g)?.length).toBe(tests.length);
  });
});
