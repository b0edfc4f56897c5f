import { describe, expect, it } from "vitest";
import {
  deploymentDefaults,
  validateClientRequest,
  validateDeploymentName,
  validateDeploymentSpec,
  validateNodeRegistration,
  validateScale,
} from "../../src/fsm/index.js";
import { spec, Strategy } from "./helpers.js";

const nodes = [
  { cpuMillicores: 4000, memoryMib: 8192 },
  { cpuMillicores: 16000, memoryMib: 2048 },
];

function problem(result: ReturnType<typeof validateDeploymentSpec>): string {
  return result.ok ? "ok" : `${result.code}: ${result.message}`;
}

describe("validation", () => {
  it("accepts DNS-1123 labels only as deployment names", () => {
    for (const good of ["web", "a", "api-v2", "x".repeat(63), "0day"]) expect(validateDeploymentName(good)).toBeNull();
    for (const bad of ["", "Web", "-web", "web-", "web_app", "web.app", "x".repeat(64)]) {
      expect(validateDeploymentName(bad)?.code).toBe("INVALID_ARGUMENT");
    }
  });

  it("fills in defaults", () => {
    const result = validateDeploymentSpec(spec({ strategy: Strategy.STRATEGY_SPREAD }), nodes);
    expect(result.ok && result.value).toMatchObject({
      strategy: "spread",
      healthCheck: deploymentDefaults.healthCheck,
      restartPolicy: deploymentDefaults.restartPolicy,
      progressDeadlineMs: deploymentDefaults.progressDeadlineMs,
    });
  });

  it("needs one node that holds both the cpu and the memory of a replica", () => {
    expect(problem(validateDeploymentSpec(spec({ cpuMillicores: 16000, memoryMib: 2048 }), nodes))).toBe("ok");
    expect(problem(validateDeploymentSpec(spec({ cpuMillicores: 16000, memoryMib: 4096 }), nodes))).toContain(
      "asks 16000m cpu and 4096Mi memory per replica, more than any registered node can hold (largest: 16000m cpu, 8192Mi memory)",
    );
  });

  it("checks health and restart settings", () => {
    const hc = {
      path: "/ready",
      periodMs: 1000,
      timeoutMs: 2000,
      failureThreshold: 3,
      successThreshold: 1,
      initialDelayMs: 0,
    };
    expect(problem(validateDeploymentSpec(spec({ healthCheck: hc }), nodes))).toContain(
      "timeout must be 10 ms up to its period (1000 ms)",
    );
    expect(
      problem(validateDeploymentSpec(spec({ healthCheck: { ...hc, timeoutMs: 500, path: "ready" } }), nodes)),
    ).toContain("must start with '/'");
    const rp = { initialDelayMs: 1000, factor: 2, maxDelayMs: 500, resetAfterMs: 0 };
    expect(problem(validateDeploymentSpec(spec({ restartPolicy: rp }), nodes))).toContain(
      "max delay must be from its initial delay",
    );
    expect(
      problem(validateDeploymentSpec(spec({ restartPolicy: { ...rp, maxDelayMs: 0, factor: 11 } }), nodes)),
    ).toContain("factor must be 1..10");
    expect(problem(validateDeploymentSpec(spec({ progressDeadlineMs: 10 }), nodes))).toContain("progress deadline");
  });

  it("checks region lists", () => {
    expect(problem(validateDeploymentSpec(spec({ regions: ["eu-west-1", "eu-west-1"] }), nodes))).toContain(
      "listed twice",
    );
    expect(problem(validateDeploymentSpec(spec({ clientRegions: ["us-west-2"] }), nodes))).toContain(
      'unknown client region "us-west-2": use one of us-east-1, eu-west-1, ap-southeast-1',
    );
  });

  it("checks scale requests, client requests and node registrations", () => {
    expect(validateScale("web", 10_000)).toBeNull();
    expect(validateScale("web", -1)?.code).toBe("INVALID_ARGUMENT");
    expect(validateScale("web", 1.5)?.code).toBe("INVALID_ARGUMENT");
    expect(validateClientRequest("", 0)).toBeNull();
    expect(validateClientRequest("c", 0)?.code).toBe("INVALID_ARGUMENT");
    const registration = {
      nodeId: "us-east-1-node-1",
      region: "us-east-1",
      capacity: { cpuMillicores: 8000, memoryMib: 16384 },
      agentAddress: "127.0.0.1:9101",
    };
    expect(validateNodeRegistration(registration).ok).toBe(true);
    expect(validateNodeRegistration({ ...registration, capacity: { cpuMillicores: 0, memoryMib: 1 } }).ok).toBe(false);
    expect(validateNodeRegistration({ ...registration, agentAddress: "" }).ok).toBe(false);
    expect(validateNodeRegistration({ ...registration, nodeId: "Node_1" }).ok).toBe(false);
  });
});
