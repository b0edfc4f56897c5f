import { describe, expect, it } from "vitest";
import { deadAddress, runCli } from "./fake-server.js";

/** Everything here fails or succeeds before any RPC, so no server is needed. */
describe("usage errors exit 2", () => {
  it.each([
    [["deploy", "web", "--image", "nginx", "--cpu", "lots"], 'invalid cpu "lots"'],
    [["deploy", "web", "--image", "nginx", "--memory", "1GB"], 'binary units ("512Mi", "1Gi")'],
    [["deploy", "web"], "required option '--image <image>' not specified"],
    [["deploy", "Web_App", "--image", "nginx"], "not a valid deployment name"],
    [["deploy", "web", "--image", "nginx", "--strategy", "random"], "Allowed choices are binpack, spread, latency"],
    [["deploy", "web", "--image", "nginx", "--replicas", "-1"], "replicas"],
    [["scale", "web", "three"], "replicas must be a whole number"],
    [["scale", "web"], "missing required argument 'replicas'"],
    [["get"], "missing required argument 'name'"],
    [["list", "extra"], "too many arguments"],
    [["list", "--bogus"], "unknown option '--bogus'"],
    [["frobnicate"], "unknown command 'frobnicate'"],
    [["--output", "yaml", "list"], "Allowed choices are table, json"],
    [["--timeout", "0", "list"], "--timeout takes seconds greater than 0"],
    [["--endpoints", "localhost", "list"], 'invalid endpoint "localhost"'],
    [["-action=explode"], 'unknown -action "explode"'],
    [["leader"], "Usage: orchctl leader"],
  ])("%j", async (args, message) => {
    const result = await runCli(args);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
    expect(result.stdout).toBe("");
  });

  it("reports a usage error as JSON on stdout with --output json", async () => {
    const result = await runCli(["--output", "json", "deploy", "web", "--image", "nginx", "--cpu", "x"]);
    expect(result.code).toBe(2);
    const body = JSON.parse(result.stdout) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("USAGE");
    expect(body.error.message).toContain('invalid cpu "x"');
  });

  it("rejects bad ORCH_ENDPOINTS from the environment", async () => {
    const result = await runCli(["list"], { env: { ORCH_ENDPOINTS: "nope" } });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('error: invalid endpoint "nope"');
  });
});

describe("help", () => {
  it("prints help with examples and exits 0", async () => {
    const top = await runCli(["--help"]);
    expect(top.code).toBe(0);
    expect(top.stdout).toContain("Examples:");
    expect(top.stdout).toContain("-action=deploy");
    for (const command of [
      "deploy",
      "scale",
      "delete",
      "get",
      "list",
      "containers",
      "nodes",
      "cluster",
      "watch",
      "leader",
      "slo",
      "fault",
    ]) {
      expect(top.stdout).toContain(command);
    }
    const deploy = await runCli(["deploy", "--help"]);
    expect(deploy.code).toBe(0);
    expect(deploy.stdout).toContain("--client-regions");
    expect(deploy.stdout).toContain("(default: 100m)");
    expect(deploy.stdout).toContain("Examples:");
    const transfer = await runCli(["leader", "transfer", "--help"]);
    expect(transfer.stdout).toContain("--to <id>");
  });

  it("a bare orchctl is a usage error that shows the help", async () => {
    const result = await runCli([]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("Usage: orchctl");
  });
});

describe("unreachable cluster", () => {
  it("gives up within --timeout with exit 1, naming what it tried", async () => {
    const first = await deadAddress();
    const second = await deadAddress();
    const startedMs = performance.now();
    const result = await runCli(["--endpoints", `${first},${second}`, "--timeout", "3", "list", "--output", "json"]);
    const elapsedMs = performance.now() - startedMs;
    expect(result.code).toBe(1);
    expect(elapsedMs).toBeGreaterThan(2_500);
    // Generous: a loaded machine may stretch the last attempt past the deadline.
    expect(elapsedMs).toBeLessThan(15_000);
    const body = JSON.parse(result.stdout) as {
      error: { code: string; message: string; hint: string; details: { tried: string[] } };
    };
    // A dead address either refuses the connection or, on a loaded machine, lets the attempt time out.
    expect(["UNAVAILABLE", "DEADLINE_EXCEEDED"]).toContain(body.error.code);
    expect(body.error.message).toContain("no replica could serve the request");
    expect(body.error.details.tried).toEqual([first, second]);
    expect(result.stderr).toContain("error: no replica could serve the request");
    expect(result.stderr).toContain("retrying on");
  });
});
