import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { repoRoot, runTool } from "./tools.js";

/**
 * `npm run cluster -- --with-prometheus` without Prometheus installed refuses at once, says how
 * to install it, and starts nothing. (Starting it for real would take the fixed ports 9090,
 * 808x and 5005x, which other suites or a developer's cluster may hold.)
 */
describe("npm run cluster -- --with-prometheus", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it("fails clearly, before starting any replica, when prometheus is not installed", async () => {
    const entry = path.join(repoRoot, "dist", "dev", "local-cluster", "cluster-main.js");
    expect(existsSync(entry), `${entry} is missing: run npm run build`).toBe(true);
    const data = mkdtempSync(path.join(os.tmpdir(), "orch-cluster-main-"));
    dirs.push(data);
    // An empty PATH: no prometheus to find (node itself is run by its absolute path).
    const result = await runTool(process.execPath, [entry, "--with-prometheus", "--data", path.join(data, "cluster")], {
      env: { PATH: "" },
      timeoutMs: 15_000,
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/--with-prometheus: cannot find the prometheus binary on PATH/);
    expect(result.stderr).toMatch(/apt-get install prometheus/);
    expect(existsSync(path.join(data, "cluster")) ? readdirSync(path.join(data, "cluster")) : []).toEqual([]);
  });
});
