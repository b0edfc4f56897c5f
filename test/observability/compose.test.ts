import { describe, expect, it } from "vitest";
import { parse } from "yaml";
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

  it("runs a one-shot PKI, a one-shot ACL bootstrap, three replicas, three regional agents, Prometheus and Grafana, none waiting for another to be healthy", async () => {
    const services = await compose(["config", "--services"]);
    expect(services.code, services.stderr).toBe(0);
    expect(services.stdout.trim().split("\n").sort()).toEqual([
      "acl-bootstrap",
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
      expect.arrayContaining(["pki", "pki-ca", "acl", "r1-data", "r2-data", "r3-data"]),
    );
    const config = await compose(["config"]);
    expect(config.stdout).not.toContain("service_healthy");
    // Secure by default: every replica and agent waits for the one-shot PKI and serves mutual TLS.
    expect(config.stdout).not.toContain("--insecure");
    expect(config.stdout.match(/service_completed_successfully/g)?.length).toBe(7);
    expect(config.stdout.match(/- --tls-cert/g)?.length).toBe(6);
    // ACLs: every replica runs with --acl, reads the bootstrapped token through ORCH_TOKEN_FILE
    // from the acl volume (read-only), and the one-shot acl-bootstrap writes it.
    const parsed = parse(config.stdout) as {
      services: Record<
        string,
        { command: string[] | string; environment?: Record<string, string>; volumes?: unknown[]; restart?: string }
      >;
    };
    for (const replica of ["r1", "r2", "r3"]) {
      const service = parsed.services[replica];
      expect(service?.command, replica).toContain("--acl");
      expect(service?.environment?.["ORCH_TOKEN_FILE"], replica).toBe("/acl/token");
      expect(JSON.stringify(service?.volumes), replica).toMatch(
        /"source":"acl","target":"\/acl".*"read_only":true|acl:\/acl:ro/,
      );
    }
    for (const region of ["us-east-1", "eu-west-1", "ap-southeast-1"]) {
      // An agent's certificate, naming its region, is its credential: no token, no access to the admin token.
      const agent = `agent-${region}`;
      const command = parsed.services[agent]?.command;
      expect(command, agent).toEqual(
        expect.arrayContaining(["--region", region, `/pki/${agent}.pem`, `/pki/${agent}-key.pem`]),
      );
      expect(command?.[(command.indexOf("--region") ?? 0) + 1], agent).toBe(region);
      expect(parsed.services[agent]?.environment?.["ORCH_TOKEN_FILE"], agent).toBeUndefined();
      expect(JSON.stringify(parsed.services[agent]?.volumes), agent).not.toContain("acl");
    }
    // pki issues those certificates, also into a PKI made before it did.
    expect(JSON.stringify(parsed.services["pki"]?.command)).toContain(
      "for region in us-east-1 eu-west-1 ap-southeast-1",
    );
    const bootstrap = parsed.services["acl-bootstrap"];
    expect(bootstrap?.restart).toBe("no");
    expect(bootstrap?.environment?.["ORCH_TOKEN_FILE"]).toBeUndefined();
    expect(JSON.stringify(bootstrap?.command)).toContain("orchctl --timeout 30 -o json acl bootstrap");
    expect(JSON.stringify(bootstrap?.volumes)).toMatch(/acl:\/acl(:rw)?"|"target":"\/acl"/);
    for (const port of ["9090", "3000", "50051", "8080", "8081", "8082"])
      expect(config.stdout).toContain(`published: ${port}`);
    expect(config.stdout.match(/\/readyz/g)?.length).toBe(3);
  });
});
