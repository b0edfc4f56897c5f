import { describe, expect, it } from "vitest";
import { ClusterFsm, validateDeploymentSpec, workloadLimits } from "../../src/fsm/index.js";
import { ContainerState as PbContainerState } from "../../src/gen/orchestrator/v1/types.js";
import type { Workload } from "../../src/gen/orchestrator/v1/types.js";
import { body, ContainerState, expectSameBytes, Harness, spec } from "./helpers.js";

function workload(overrides: Partial<Workload> = {}): Workload {
  return { command: "/bin/sh", args: ["-c", "exec httpd -f -p $PORT"], env: [], ports: [], ...overrides };
}

function refusal(overrides: Parameters<typeof spec>[0]): string {
  const result = validateDeploymentSpec(spec(overrides), []);
  return result.ok ? "ok" : `${result.code}: ${result.message}`;
}

describe("workload validation", () => {
  it("accepts a command, args, env and named ports, and a health check on one of them", () => {
    const result = validateDeploymentSpec(
      spec({
        workload: workload({
          env: [{ name: "GREETING", value: "hi" }],
          ports: [{ name: "http", containerPort: 8080 }],
        }),
        healthCheck: {
          path: "/",
          periodMs: 0,
          timeoutMs: 0,
          failureThreshold: 0,
          successThreshold: 0,
          initialDelayMs: 0,
          port: "http",
        },
      }),
      [],
    );
    expect(result.ok && result.value).toMatchObject({
      command: "/bin/sh",
      args: ["-c", "exec httpd -f -p $PORT"],
      env: [{ name: "GREETING", value: "hi" }],
      ports: [{ name: "http", containerPort: 8080 }],
      healthCheck: { path: "/", port: "http" },
    });
  });

  it("refuses a port outside 1..65535, naming the port", () => {
    for (const containerPort of [0, 65_536, 100_000])
      expect(refusal({ workload: workload({ ports: [{ name: "http", containerPort }] }) })).toBe(
        `INVALID_ARGUMENT: deployment web port http must be 1..65535, got ${containerPort}`,
      );
  });

  it("refuses a port named twice and a bad port name", () => {
    const twice = [
      { name: "http", containerPort: 80 },
      { name: "http", containerPort: 81 },
    ];
    expect(refusal({ workload: workload({ ports: twice }) })).toMatch(/port http is named twice/);
    expect(refusal({ workload: workload({ ports: [{ name: "HTTP", containerPort: 80 }] }) })).toMatch(
      /port name "HTTP" is invalid/,
    );
  });

  it("refuses env names that are not variable names, and a name set twice", () => {
    for (const name of ["1X", "A-B", "", "A B", "x=y"])
      expect(refusal({ workload: workload({ env: [{ name, value: "v" }] }) })).toMatch(
        /env name .* is not a valid variable name/,
      );
    const twice = [
      { name: "A", value: "1" },
      { name: "A", value: "2" },
    ];
    expect(refusal({ workload: workload({ env: twice }) })).toMatch(/env A is set twice/);
  });

  it("refuses a command of 1 MiB, naming the command", () => {
    const command = "x".repeat(1024 * 1024);
    expect(refusal({ workload: workload({ command }) })).toBe(
      `INVALID_ARGUMENT: deployment web command is ${command.length} characters long; at most ${workloadLimits.commandLengthMax} are allowed`,
    );
  });

  it("refuses a workload too large in total", () => {
    const args = Array.from({ length: 100 }, () => "a".repeat(workloadLimits.argLengthMax));
    expect(refusal({ workload: workload({ args }) })).toMatch(/command, args and env hold \d+ characters together/);
  });

  it("refuses a health check port that is not declared", () => {
    expect(
      refusal({
        workload: workload({ ports: [{ name: "http", containerPort: 80 }] }),
        healthCheck: {
          path: "/",
          periodMs: 0,
          timeoutMs: 0,
          failureThreshold: 0,
          successThreshold: 0,
          initialDelayMs: 0,
          port: "admin",
        },
      }),
    ).toMatch(/health check port "admin" is not one of its ports \(http\)/);
  });

  it("refuses an image reference Docker rejects, naming the image", () => {
    for (const image of ["Nginx:1", "nginx:", "nginx@sha256:abc", "-nginx", "a//b"])
      expect(refusal({ image })).toMatch(/image .* is not a Docker image reference/);
    for (const image of [
      "nginx",
      "nginx:1.27",
      "registry:5000/team/app:v2",
      "ghcr.io/acme/api:1.4",
      "orch-test/busybox:1",
    ])
      expect(refusal({ image })).toBe("ok");
  });
});

describe("workload and addresses in the cluster state", () => {
  function running(): Harness {
    const h = new Harness();
    h.ok(body.register("n1"));
    h.ok(body.deploy({ replicas: 1, workload: workload({ ports: [{ name: "http", containerPort: 8080 }] }) }));
    h.ok(body.plan("web", [["web-0", "n1"]]));
    return h;
  }
  const addresses = { addresses: [{ name: "http", address: "127.0.0.1:20001" }] };

  it("records the addresses a report carries, and drops them when the instance ends", () => {
    const h = running();
    h.ok({
      kind: "container-status",
      containerStatus: {
        containerId: "web-0",
        nodeId: "n1",
        state: PbContainerState.CONTAINER_STATE_RUNNING,
        health: 0,
        message: "",
        addresses,
      },
    });
    expect(h.fsm.getContainer("web-0")?.addresses).toEqual(addresses.addresses);
    expect(h.fsm.getDeploymentRecord("web")?.spec.ports).toEqual([{ name: "http", containerPort: 8080 }]);
    h.ok(body.status("web-0", "n1", ContainerState.CONTAINER_STATE_FAILED));
    expect(h.fsm.getContainer("web-0")?.addresses).toEqual([]);
  });

  it("refuses a malformed address", () => {
    const h = running();
    const failure = h.fail({
      kind: "container-status",
      containerStatus: {
        containerId: "web-0",
        nodeId: "n1",
        state: PbContainerState.CONTAINER_STATE_RUNNING,
        health: 0,
        message: "",
        addresses: { addresses: [{ name: "http", address: "" }] },
      },
    });
    expect(failure.message).toMatch(/port http address "" is not host:port/);
  });

  it("survives a snapshot", () => {
    const h = running();
    h.ok({
      kind: "container-status",
      containerStatus: {
        containerId: "web-0",
        nodeId: "n1",
        state: PbContainerState.CONTAINER_STATE_STARTING,
        health: 0,
        message: "",
        addresses,
      },
    });
    const bytes = h.fsm.snapshot();
    const restored = new ClusterFsm();
    restored.restore(bytes);
    expect(restored.dumpState()).toEqual(h.fsm.dumpState());
    expectSameBytes(restored.snapshot(), bytes);
    expect(restored.getContainer("web-0")?.addresses).toEqual(addresses.addresses);
    expect(restored.getDeploymentRecord("web")?.spec.command).toBe("/bin/sh");
  });
});
