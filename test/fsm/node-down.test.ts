import { describe, expect, it } from "vitest";
import { fsmLimits } from "../../src/fsm/index.js";
import { body, ContainerState, Harness, HealthState, NodeStatus } from "./helpers.js";

const S = ContainerState;

/**
 * web had 4 replicas: web-0..2 running on n1 (us-east-1), web-3 scheduled on n2 (eu-west-1);
 * web-1 crashed, then a scale-down to 3 removed it (ended replicas go first). api-0 is on n1.
 */
function cluster(): Harness {
  const h = new Harness();
  h.ok(body.register("n1", "us-east-1", 4000, 8192));
  h.ok(body.register("n2", "eu-west-1", 4000, 8192));
  h.ok(body.deploy({ replicas: 4 }));
  h.ok(body.deploy({ name: "api", replicas: 1, cpuMillicores: 1000 }));
  h.ok(
    body.plan("web", [
      ["web-0", "n1"],
      ["web-1", "n1"],
      ["web-2", "n1"],
      ["web-3", "n2"],
    ]),
  );
  h.ok(body.plan("api", [["api-0", "n1"]]));
  for (const id of ["web-0", "web-1", "web-2"]) h.ok(body.status(id, "n1", S.CONTAINER_STATE_RUNNING));
  h.ok(body.status("web-1", "n1", S.CONTAINER_STATE_FAILED));
  h.ok(body.scale("web", 3));
  return h;
}

function states(h: Harness, deployment: string): Record<string, string> {
  return Object.fromEntries(
    h.fsm.listContainers({ deployment }).containers.map((c) => [c.id, `${c.state}/${c.desired}@${c.node}`]),
  );
}

describe("node down", () => {
  it("loses what n1 held, releases its capacity, and replaces what was wanted running", () => {
    const h = cluster();
    // The scale-down removed the crashed web-1 (ended replicas go first), giving its room back.
    expect(states(h, "web")).toEqual({
      "web-0": "running/running@n1",
      "web-2": "running/running@n1",
      "web-3": "scheduled/running@n2",
    });
    expect(h.fsm.getNode("n1")?.allocated).toEqual({ cpuMillicores: 2000, memoryMib: 768 });
    h.ok(body.scale("web", 2)); // web-3 is the newest live one: stopping on n2

    expect(h.ok(body.nodeDown("n1", "no heartbeat for 5s"))).toEqual({
      kind: "node-down",
      nodeId: "n1",
      changed: true,
      lost: 3,
      rescheduled: 3,
    });
    expect(h.fsm.getNode("n1")).toMatchObject({
      status: "down",
      statusReason: "no heartbeat for 5s",
      allocated: { cpuMillicores: 0, memoryMib: 0 },
    });
    expect(h.fsm.listContainers({ node: "n1" }).containers).toEqual([]);
    expect(states(h, "web")).toEqual({
      "web-0": "lost/stopped@n1",
      "web-2": "lost/stopped@n1",
      "web-3": "scheduled/stopped@n2",
      "web-4": "pending/running@",
      "web-5": "pending/running@",
    });
    expect(states(h, "api")).toEqual({ "api-0": "lost/stopped@n1", "api-1": "pending/running@" });
    expect(h.fsm.getContainer("web-4")).toMatchObject({
      version: 1,
      restartCount: 0,
      backoffStep: 0,
      health: "unknown",
    });
    expect(h.fsm.pendingContainers("web").map((c) => c.id)).toEqual(["web-4", "web-5"]);
    const view = h.fsm.getDeployment("web");
    expect(view?.status).toMatchObject({ desired: 2, lost: 2, stopping: 1 });
    expect(view?.status.byState.pending).toBe(2);
    expect(view?.recentEvents[0]).toMatchObject({
      kind: "rescheduled",
      node: "n1",
      message: "rescheduled web-0 -> web-4, web-2 -> web-5: node n1 down: no heartbeat for 5s",
    });
    const nodeEvent = h.fsm.events().find((e) => e.kind === "node-down");
    expect(nodeEvent?.message).toBe("node n1 ready -> down: no heartbeat for 5s; 3 containers lost, 3 rescheduled");
    expect(h.fsm.events({ deployment: "api", limit: 1 })[0]).toMatchObject({
      kind: "rescheduled",
      container: "api-0",
      message: "rescheduled api-0 -> api-1: node n1 down: no heartbeat for 5s",
    });
  });

  it("forgets a container that was being stopped there", () => {
    const h = cluster();
    h.ok(body.scale("web", 1)); // the newest live ones stop: web-3 (n2) and web-2 (n1)
    expect(states(h, "web")).toEqual({
      "web-0": "running/running@n1",
      "web-2": "running/stopped@n1",
      "web-3": "scheduled/stopped@n2",
    });
    expect(h.ok(body.nodeDown("n1"))).toMatchObject({ lost: 3, rescheduled: 2 });
    expect(h.fsm.getContainer("web-2")).toBeUndefined();
    expect(h.fsm.events({ deployment: "web" }).find((e) => e.kind === "container-lost")?.message).toBe(
      "container web-2 lost with node n1 while stopping; forgotten",
    );
  });

  it("is idempotent", () => {
    const h = cluster();
    h.ok(body.nodeDown("n1", "silent"));
    const before = h.fsm.dumpState();
    expect(h.ok(body.nodeDown("n1", "silent"))).toEqual({
      kind: "node-down",
      nodeId: "n1",
      changed: false,
      lost: 0,
      rescheduled: 0,
    });
    expect({ ...h.fsm.dumpState(), revision: 0 }).toEqual({ ...before, revision: 0 });
  });

  it("takes over from a node already marked down whose containers were left in place", () => {
    const h = cluster();
    h.ok(body.nodeStatus("n1", NodeStatus.NODE_STATUS_DOWN, "operator"));
    expect(h.fsm.getNode("n1")?.allocated.cpuMillicores).toBe(2000);
    expect(h.ok(body.nodeDown("n1", "silent"))).toMatchObject({ changed: true, lost: 3 });
    expect(h.fsm.getNode("n1")?.allocated.cpuMillicores).toBe(0);
    expect(h.fsm.events().find((e) => e.kind === "node-down")?.message).toBe(
      "node n1 is down: silent; 3 containers lost, 3 rescheduled",
    );
  });

  it("lets the node come back empty; its agent's reports about lost containers are ignored", () => {
    const h = cluster();
    h.ok(body.nodeDown("n1"));
    h.ok(body.register("n1", "us-east-1", 4000, 8192));
    expect(h.fsm.getNode("n1")).toMatchObject({ status: "ready", allocated: { cpuMillicores: 0, memoryMib: 0 } });
    expect(h.fsm.listContainers({ node: "n1" }).containers).toEqual([]);
    expect(h.ok(body.status("web-0", "n1", S.CONTAINER_STATE_STOPPED))).toMatchObject({
      applied: false,
      ignoredReason: "container web-0 was lost with node n1 and replaced; it is no longer assigned there",
    });
    expect(h.fsm.getContainer("web-0")?.state).toBe("lost");
    // The replacements can go anywhere, including back onto n1.
    expect(
      h.ok(
        body.plan("web", [
          ["web-4", "n1"],
          ["web-5", "n2"],
        ]),
      ),
    ).toMatchObject({ placed: 2 });
    // Lost containers are history: RemoveContainer forgets one, delete forgets the rest.
    expect(h.ok(body.remove("web-0", "gc"))).toMatchObject({ removed: true });
    h.ok(body.delete("web"));
    expect(Object.keys(states(h, "web")).sort()).toEqual(["web-3", "web-4", "web-5"]);
  });

  it("restarted or crashed replicas are lost and replaced like running ones", () => {
    const h = new Harness();
    h.ok(body.register("n1"));
    h.ok(body.deploy({ replicas: 2 }));
    h.ok(
      body.plan("web", [
        ["web-0", "n1"],
        ["web-1", "n1"],
      ]),
    );
    h.ok(body.status("web-0", "n1", S.CONTAINER_STATE_FAILED));
    h.ok(body.status("web-1", "n1", S.CONTAINER_STATE_RUNNING));
    h.ok(body.restart("web-1"));
    expect(h.fsm.getNode("n1")?.allocated.cpuMillicores).toBe(1000);
    expect(h.ok(body.nodeDown("n1"))).toMatchObject({ lost: 2, rescheduled: 2 });
    expect(h.fsm.getNode("n1")?.allocated.cpuMillicores).toBe(0);
    expect(h.fsm.getContainer("web-1")).toMatchObject({ state: "lost", nextRestartAtMs: 0, health: "unknown" });
    expect(h.fail(body.restart("web-1")).code).toBe("FAILED_PRECONDITION");
  });

  it(`keeps at most ${fsmLimits.lostContainersKeptPerDeploymentMax} lost containers per deployment`, () => {
    const h = new Harness();
    h.ok(body.register("n1", "us-east-1", 64_000, 64_000));
    h.ok(body.deploy({ replicas: 4, cpuMillicores: 100, memoryMib: 100 }));
    for (let round = 0; round < 4; round++) {
      h.ok(body.register("n1", "us-east-1", 64_000, 64_000));
      const pending = h.fsm.pendingContainers("web").map((c): [string, string] => [c.id, "n1"]);
      h.ok(body.plan("web", pending));
      h.ok(body.nodeDown("n1"));
    }
    const lost = h.fsm.listContainers({ deployment: "web" }).containers.filter((c) => c.state === "lost");
    expect(lost.length).toBe(fsmLimits.lostContainersKeptPerDeploymentMax);
    // The oldest losses went first.
    expect(lost.map((c) => c.ordinal)).toEqual([6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
    expect(h.fsm.getDeployment("web")?.status.lost).toBe(fsmLimits.lostContainersKeptPerDeploymentMax);
  });

  it("refuses an unknown node and bad input", () => {
    const h = cluster();
    expect(h.fail(body.nodeDown("n9")).code).toBe("NOT_FOUND");
    expect(h.fail(body.nodeDown("N1")).code).toBe("INVALID_ARGUMENT");
    expect(h.fail(body.nodeDown("n1", "x".repeat(fsmLimits.reasonLengthMax + 1))).code).toBe("INVALID_ARGUMENT");
    expect(h.fsm.getNode("n1")?.status).toBe("ready");
  });

  it("health verdicts and restarts on the returning node's lost containers are refused or ignored", () => {
    const h = cluster();
    h.ok(body.nodeDown("n1"));
    expect(h.ok(body.health("web-0", HealthState.HEALTH_STATE_HEALTHY))).toMatchObject({ applied: false });
    expect(h.fail(body.restart("web-0")).code).toBe("FAILED_PRECONDITION");
  });
});
