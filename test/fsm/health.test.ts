import { describe, expect, it } from "vitest";
import { fsmLimits } from "../../src/fsm/index.js";
import { body, ContainerState, Harness, HealthState, NodeStatus } from "./helpers.js";

const S = ContainerState;
const H = HealthState;

/** Two nodes, web (3 replicas) with web-0 and web-1 running on n1, web-2 pending. */
function running(): Harness {
  const h = new Harness();
  h.ok(body.register("n1", "us-east-1", 4000, 8192));
  h.ok(body.register("n2", "eu-west-1", 4000, 8192));
  h.ok(body.deploy());
  h.ok(
    body.plan("web", [
      ["web-0", "n1"],
      ["web-1", "n1"],
    ]),
  );
  h.ok(body.status("web-0", "n1", S.CONTAINER_STATE_RUNNING));
  h.ok(body.status("web-1", "n1", S.CONTAINER_STATE_RUNNING));
  return h;
}

function lastEvent(h: Harness): { kind: string; container: string; message: string } {
  return h.fsm.events({ limit: 1 })[0];
}

describe("container health", () => {
  it("takes running to unhealthy and back to running, with an event each way", () => {
    const h = running();
    h.ok(body.health("web-0", H.HEALTH_STATE_HEALTHY, "probe ok"));
    expect(h.fsm.getContainer("web-0")).toMatchObject({ state: "running", health: "healthy" });
    expect(h.fsm.getDeployment("web")?.status.healthy).toBe(1);
    expect(lastEvent(h).kind).not.toBe("container-healthy"); // a first healthy verdict is routine

    expect(h.ok(body.health("web-0", H.HEALTH_STATE_UNHEALTHY, "3 probes failed: HTTP 500"))).toEqual({
      kind: "container-health",
      containerId: "web-0",
      applied: true,
      ignoredReason: "",
    });
    expect(h.fsm.getContainer("web-0")).toMatchObject({ state: "unhealthy", health: "unhealthy" });
    expect(lastEvent(h)).toMatchObject({
      kind: "container-unhealthy",
      container: "web-0",
      message: "container web-0 unhealthy on n1: 3 probes failed: HTTP 500",
    });
    expect(h.fsm.getDeployment("web")?.status).toMatchObject({ healthy: 0, unhealthy: 1 });

    h.ok(body.health("web-0", H.HEALTH_STATE_HEALTHY, "probe ok"));
    expect(h.fsm.getContainer("web-0")).toMatchObject({ state: "running", health: "healthy" });
    expect(lastEvent(h)).toMatchObject({
      kind: "container-healthy",
      message: "container web-0 healthy again on n1: probe ok",
    });
    // Capacity never moves with health.
    expect(h.fsm.getNode("n1")?.allocated.cpuMillicores).toBe(1000);
  });

  it("records unknown without touching the state (the node is unreachable)", () => {
    const h = running();
    h.ok(body.health("web-0", H.HEALTH_STATE_UNHEALTHY));
    h.ok(body.health("web-0", H.HEALTH_STATE_UNKNOWN, "breaker open for n1"));
    expect(h.fsm.getContainer("web-0")).toMatchObject({ state: "unhealthy", health: "unknown" });
    expect(lastEvent(h)).toMatchObject({
      kind: "container-health-unknown",
      message: "health of container web-0 on n1 unknown: breaker open for n1",
    });
    const events = h.fsm.events().length;
    h.ok(body.health("web-0", H.HEALTH_STATE_UNKNOWN, "breaker open for n1"));
    expect(h.fsm.events().length).toBe(events);
  });

  it("ignores verdicts on containers that are gone, unplaced or ended, and refuses bad input", () => {
    const h = running();
    expect(h.ok(body.health("nope-0", H.HEALTH_STATE_HEALTHY))).toMatchObject({
      applied: false,
      ignoredReason: "container nope-0 does not exist (any more)",
    });
    expect(h.ok(body.health("web-2", H.HEALTH_STATE_HEALTHY))).toMatchObject({
      applied: false,
      ignoredReason: "container web-2 is not placed yet",
    });
    h.ok(body.status("web-1", "n1", S.CONTAINER_STATE_FAILED));
    expect(h.ok(body.health("web-1", H.HEALTH_STATE_HEALTHY))).toMatchObject({
      applied: false,
      ignoredReason: "container web-1 is failed; verdicts apply to live containers",
    });
    expect(h.fail(body.health("web-0", H.HEALTH_STATE_UNSPECIFIED)).code).toBe("INVALID_ARGUMENT");
    expect(h.fail(body.health("", H.HEALTH_STATE_HEALTHY)).code).toBe("INVALID_ARGUMENT");
    expect(h.fail(body.health("web-0", H.HEALTH_STATE_HEALTHY, "x".repeat(fsmLimits.reasonLengthMax + 1))).code).toBe(
      "INVALID_ARGUMENT",
    );
  });
});

describe("restart container", () => {
  it("moves an unhealthy container to restarting with its not-before time and backoff step", () => {
    const h = running();
    h.ok(body.health("web-0", H.HEALTH_STATE_UNHEALTHY));
    const decided = h.ok(
      body.restart("web-0", {
        delayMs: 1500,
        notBeforeMs: 1_700_000_099_000,
        backoffStep: 2,
        reason: "3 failed probes",
      }),
    );
    expect(decided).toEqual({
      kind: "restart-container",
      containerId: "web-0",
      restartCount: 1,
      nextRestartAtMs: 1_700_000_099_000,
      backoffStep: 2,
    });
    expect(h.fsm.getContainer("web-0")).toMatchObject({
      state: "restarting",
      restartCount: 1,
      nextRestartAtMs: 1_700_000_099_000,
      backoffStep: 2,
      health: "unknown",
    });
    expect(lastEvent(h)).toMatchObject({
      kind: "restarted",
      container: "web-0",
      message: "restarted web-0 on n1 in 1.5s (3 failed probes)",
    });
    expect(h.fsm.getDeployment("web")?.status).toMatchObject({ restarting: 1 });
    expect(h.fsm.getNode("n1")?.allocated.cpuMillicores).toBe(1000);
    // The agent starts a fresh instance: restarting -> starting -> running; the not-before time is spent.
    h.ok(body.status("web-0", "n1", S.CONTAINER_STATE_STARTING));
    expect(h.fsm.getContainer("web-0")).toMatchObject({ state: "starting", nextRestartAtMs: 0, backoffStep: 2 });
    h.ok(body.status("web-0", "n1", S.CONTAINER_STATE_RUNNING));
    expect(h.fsm.getContainer("web-0")).toMatchObject({ state: "running", restartCount: 1, backoffStep: 2 });
  });

  it("restarts a crashed container in place: it kept its capacity, and keeps it", () => {
    const h = running();
    h.ok(body.status("web-1", "n1", S.CONTAINER_STATE_FAILED, H.HEALTH_STATE_UNSPECIFIED, "exit 137"));
    expect(h.fsm.getNode("n1")?.allocated).toEqual({ cpuMillicores: 1000, memoryMib: 512 });
    h.ok(body.restart("web-1", { delayMs: 250, reason: "crashed" }));
    expect(h.fsm.getContainer("web-1")).toMatchObject({ state: "restarting", restartCount: 1 });
    expect(h.fsm.getNode("n1")?.allocated).toEqual({ cpuMillicores: 1000, memoryMib: 512 });
    expect(lastEvent(h).message).toBe("restarted web-1 on n1 in 250ms (crashed)");
    // Still assigned to n1 all along, so its agent sees the restart count rise.
    expect(h.fsm.listContainers({ node: "n1" }).containers.map((c) => c.id)).toEqual(["web-0", "web-1"]);
  });

  it("ignores a late report from the instance before a restart, and takes the fresh instance's", () => {
    const h = running();
    const report = (state: ContainerState, instanceRestartCount: number) =>
      ({
        kind: "container-status",
        containerStatus: {
          containerId: "web-1",
          nodeId: "n1",
          state,
          health: H.HEALTH_STATE_UNSPECIFIED,
          message: "",
          instanceRestartCount,
        },
      }) as const;
    h.ok(report(S.CONTAINER_STATE_FAILED, 0));
    h.ok(body.restart("web-1", { delayMs: 0, reason: "crashed" }));
    // The old instance's "failed" arrives after the restart was decided: it must not fail the new one.
    expect(h.ok(report(S.CONTAINER_STATE_FAILED, 0))).toMatchObject({
      applied: false,
      ignoredReason: expect.stringMatching(/instance of restart 0; it is at restart 1/),
    });
    expect(h.fsm.getContainer("web-1")).toMatchObject({ state: "restarting", restartCount: 1 });
    expect(h.ok(report(S.CONTAINER_STATE_RUNNING, 1))).toMatchObject({ applied: true });
    expect(h.fsm.getContainer("web-1")).toMatchObject({ state: "running", restartCount: 1 });
    // A report without the count (an older agent) is taken as before.
    expect(h.ok(body.status("web-1", "n1", S.CONTAINER_STATE_FAILED))).toMatchObject({ applied: true });
  });

  it("refuses containers that are not restartable", () => {
    const h = running();
    expect(h.fail(body.restart("nope-0"))).toMatchObject({ code: "NOT_FOUND" });
    expect(h.fail(body.restart("web-2"))).toMatchObject({
      code: "FAILED_PRECONDITION",
      message: "container web-2 is pending; only starting, running, unhealthy, failed containers are restarted",
    });
    h.ok(body.restart("web-0"));
    expect(h.fail(body.restart("web-0")).message).toContain("web-0 is restarting");
    h.ok(body.scale("web", 1));
    expect(h.fsm.getContainer("web-1")?.desired).toBe("stopped");
    expect(h.fail(body.restart("web-1")).message).toBe(
      "container web-1 is being stopped (scaled down or deleted); it is not restarted",
    );
    h.ok(body.nodeStatus("n1", NodeStatus.NODE_STATUS_DOWN));
    h.ok(body.status("web-0", "n1", S.CONTAINER_STATE_RUNNING));
    expect(h.fail(body.restart("web-0")).message).toContain("which is down; declare the node down (NodeDown)");
  });

  it("validates its input", () => {
    const h = running();
    expect(h.fail(body.restart("web-0", { delayMs: fsmLimits.restartDelayMsMax + 1 })).code).toBe("INVALID_ARGUMENT");
    expect(h.fail(body.restart("web-0", { backoffStep: fsmLimits.restartBackoffStepMax + 1 })).code).toBe(
      "INVALID_ARGUMENT",
    );
    expect(h.fail(body.restart("web-0", { reason: "x".repeat(fsmLimits.reasonLengthMax + 1) })).code).toBe(
      "INVALID_ARGUMENT",
    );
    expect(h.fsm.getContainer("web-0")?.state).toBe("running");
  });
});

describe("reset backoff", () => {
  it("starts the backoff over, once", () => {
    const h = running();
    h.ok(body.restart("web-0", { backoffStep: 4 }));
    h.ok(body.status("web-0", "n1", S.CONTAINER_STATE_RUNNING));
    expect(h.ok(body.resetBackoff("web-0"))).toEqual({ kind: "reset-backoff", containerId: "web-0", changed: true });
    expect(h.fsm.getContainer("web-0")).toMatchObject({ backoffStep: 0, restartCount: 1, state: "running" });
    expect(h.ok(body.resetBackoff("web-0"))).toMatchObject({ changed: false });
    expect(h.fail(body.resetBackoff("nope-0")).code).toBe("NOT_FOUND");
    expect(h.fail(body.resetBackoff("")).code).toBe("INVALID_ARGUMENT");
  });
});
