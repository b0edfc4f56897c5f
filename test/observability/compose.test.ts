import { describe, expect, it } from "vitest";
import { describeRun, requireTool, runTool, skipCompose } from "./tools.js";

/**
 * cluster/docker-compose.yml as docker-compose reads it (no Docker engine needed for `config`).
 * Fails, saying how to install it, when docker-compose is missing (SKIP_COMPOSE=1 skips).
 */
describe.skipIf(skipCompose)("cluster/docker-compose.yml", () => {
  const compose = (args: readonly string[]) =>
    runTool(requireTool("docker-compose"), ["-f", "cluster/docker-compose.yml", ...args]);

  it("docker-compose config -q passes", async () => {
    const result = await compose(["config", "-q"]);
    expect(
      result.code,
      describeRun("docker-compose", ["-f", "cluster/docker-compose.yml", "config", "-q"], result),
    ).toBe(0);
  });

  it("runs a one-shot PKI, three replicas, three regional agents, Prometheus and Grafana, none waiting for another to be healthy", async () => {
    const services = await compose(["config", "--services"]);
    expect(services.code, services.stderr).toBe(0);
    expect(services.stdout.trim().split("\n").sort()).toEqual([
      "agent-ap-southeast-1",
      "agent-eu-west-1",
      "agent-us-east-1",
      "grafana",
      "pki",
      "prometheus",
      "r1",
      "r2",
      "r3",
    ]);
    const volumes = await compose(["config", "--volumes"]);
    expect(volumes.stdout.trim().split("\n")).toEqual(
      expect.arrayContaining(["pki", "pki-ca", "r1-data", "r2-data", "r3-data"]),
    );
    const config = await compose(["config"]);
    expect(config.stdout).not.toContain("service_healthy");
    // Secure by default: every replica and agent waits for the one-shot PKI and serves mutual TLS.
    expect(config.stdout).not.toContain("--insecure");
    expect(config.stdout.match(/service_completed_successfully/g)?.length).toBe(6);
    expect(config.stdout.match(/- --tls-cert/g)?.length).toBe(6);
    for (const port of ["9090", "3000", "50051", "8080", "8081", "8082"])
      expect(config.stdout).toContain(`published: ${port}`);
    expect(config.stdout.match(/\/readyz/g)?.length).toBe(3);
  });
});
