import { describe, expect, it } from "vitest";
import { BugIndicatingError } from "../../src/lib/assert.js";
import { Command } from "../../src/gen/orchestrator/v1/fsm.js";
import { ClusterFsm, commandFormatVersion, encodeCommand, type StateChange } from "../../src/fsm/index.js";
import { body, ContainerState, Harness, HealthState, NodeStatus, Strategy } from "./helpers.js";

const S = ContainerState;

/** Two ready nodes and a 3-replica deployment, nothing placed yet. */
function cluster(): Harness {
  const h = new Harness();
  h.ok(body.register("n1", "us-east-1", 4000, 8192, "10.0.0.1:9101"));
  h.ok(body.register("n2", "eu-west-1", 4000, 8192, "10.0.0.2:9101"));
  h.ok(body.deploy());
  return h;
}

function states(h: Harness, deployment = "web"): Record<string, string> {
  return Object.fromEntries(
    h.fsm.listContainers({ deployment }).containers.map((c) => [c.id, `${c.state}/${c.desired}@${c.node}`]),
  );
}

describe("deploy", () => {
  it("creates the deployment at version 1 with replicas pending containers", () => {
    const h = new Harness();
    expect(h.ok(body.deploy())).toEqual({ kind: "deploy", name: "web", version: 1, created: true, result: "created" });
    const view = h.fsm.getDeployment("web");
    expect(view?.deployment.version).toBe(1);
    expect(view?.deployment.createdRevision).toBe(1);
    expect(view?.deployment.spec.healthCheck.path).toBe("/healthz");
    expect(view?.deployment.spec.strategy).toBe("binpack");
    expect(view?.status.byState.pending).toBe(3);
    expect(states(h)).toEqual({
      "web-0": "pending/running@",
      "web-1": "pending/running@",
      "web-2": "pending/running@",
    });
    expect(view?.recentEvents.map((e) => e.kind)).toEqual(["deployed"]);
  });

  it("is a no-op for an identical spec, defaults spelled out or not", () => {
    const h = new Harness();
    h.ok(body.deploy());
    const explicit = body.deploy({
      healthCheck: {
        path: "/healthz",
        periodMs: 2000,
        timeoutMs: 1000,
        failureThreshold: 3,
        successThreshold: 1,
        initialDelayMs: 0,
      },
      progressDeadlineMs: 120_000,
    });
    expect(h.ok(explicit)).toEqual({ kind: "deploy", name: "web", version: 1, created: false, result: "unchanged" });
    expect(h.fsm.containerCount).toBe(3);
  });

  it("makes a different spec under the same name version 2 and starts a rollout, saying what differs", () => {
    const h = new Harness();
    h.ok(body.deploy());
    expect(h.ok(body.deploy({ image: "nginx:2" }))).toEqual({
      kind: "deploy",
      name: "web",
      version: 2,
      created: false,
      result: "configured",
    });
    const view = h.fsm.getDeployment("web");
    expect(view?.deployment.rollout).toMatchObject({ fromVersion: 1, toVersion: 2, state: "running", stepSeq: 0 });
    expect(view?.recentEvents[0].message).toBe("configured web v2: image nginx:1 vs nginx:2");
  });

  it("refuses requests no registered node could hold", () => {
    const h = new Harness();
    h.ok(body.register("n1", "us-east-1", 4000, 8192));
    const refused = h.fail(body.deploy({ cpuMillicores: 8000 }));
    expect(refused.code).toBe("INVALID_ARGUMENT");
    expect(refused.message).toContain("more than any registered node can hold (largest: 4000m cpu, 8192Mi memory)");
  });

  it("uses static maxima before any node registers", () => {
    const h = new Harness();
    expect(h.fail(body.deploy({ cpuMillicores: 64_001 })).message).toContain("at most 64000m cpu");
    h.ok(body.deploy({ cpuMillicores: 64_000 }));
  });

  it("validates its input", () => {
    const h = new Harness();
    expect(h.fail(body.deploy({ name: "Web" })).code).toBe("INVALID_ARGUMENT");
    expect(h.fail(body.deploy({ replicas: 10_001 })).message).toContain("0 to 10000");
    expect(h.fail(body.deploy({ image: "" })).message).toContain("needs an image");
    expect(h.fail(body.deploy({ regions: ["mars-1"] })).message).toContain("unknown region");
    expect(h.fail(body.deploy({ strategy: 9 as Strategy })).message).toContain("unknown strategy");
    expect(h.fail(body.deploy({ memoryMib: 0 })).message).toContain("memory > 0");
    expect(h.fsm.listDeployments()).toEqual([]);
  });

  it("continues ordinals after containers of a deleted deployment still stopping", () => {
    const h = cluster();
    h.ok(body.plan("web", [["web-0", "n1"]]));
    h.ok(body.delete("web"));
    h.ok(body.deploy({ replicas: 2 }));
    expect(states(h)).toEqual({
      "web-0": "scheduled/stopped@n1",
      "web-1": "pending/running@",
      "web-2": "pending/running@",
    });
    expect(h.fsm.getDeployment("web")?.status.stopping).toBe(1);
  });
});

describe("scale", () => {
  it("creates pending containers with the next ordinals", () => {
    const h = cluster();
    expect(h.ok(body.scale("web", 5))).toMatchObject({ kind: "scale", previousReplicas: 3, replicas: 5, created: 2 });
    expect(Object.keys(states(h))).toEqual(["web-0", "web-1", "web-2", "web-3", "web-4"]);
    expect(h.fsm.getDeployment("web")?.deployment.version).toBe(1);
  });

  it("removes unplaced ones first, then stops the newest placed ones, which hold capacity until they stop", () => {
    const h = cluster();
    h.ok(body.scale("web", 4));
    h.ok(
      body.plan("web", [
        ["web-0", "n1"],
        ["web-1", "n1"],
        ["web-2", "n2"],
      ]),
    );
    expect(h.ok(body.scale("web", 1))).toMatchObject({ removed: 1, stopping: 2 });
    expect(states(h)).toEqual({
      "web-0": "scheduled/running@n1",
      "web-1": "scheduled/stopped@n1",
      "web-2": "scheduled/stopped@n2",
    });
    expect(h.fsm.getNode("n1")?.allocated).toEqual({ cpuMillicores: 1000, memoryMib: 512 });
    // The agent confirms the stop: capacity is released and the record goes.
    expect(h.ok(body.status("web-1", "n1", S.CONTAINER_STATE_STOPPED))).toMatchObject({ applied: true });
    expect(h.fsm.getContainer("web-1")).toBeUndefined();
    expect(h.fsm.getNode("n1")?.allocated).toEqual({ cpuMillicores: 500, memoryMib: 256 });
  });

  it("drops ended replicas before live ones", () => {
    const h = cluster();
    h.ok(
      body.plan("web", [
        ["web-0", "n1"],
        ["web-1", "n1"],
        ["web-2", "n2"],
      ]),
    );
    h.ok(body.status("web-0", "n1", S.CONTAINER_STATE_FAILED, HealthState.HEALTH_STATE_UNSPECIFIED, "exit 1"));
    expect(h.ok(body.scale("web", 2))).toMatchObject({ removed: 1, stopping: 0 });
    expect(Object.keys(states(h))).toEqual(["web-1", "web-2"]);
  });

  it("answers NOT_FOUND for an unknown deployment and is a no-op at the same count", () => {
    const h = cluster();
    expect(h.fail(body.scale("api", 2))).toMatchObject({
      code: "NOT_FOUND",
      message: "deployment api not found; orchctl list shows the deployments",
    });
    expect(h.ok(body.scale("web", 3))).toMatchObject({ created: 0, removed: 0, stopping: 0 });
    expect(h.fail(body.scale("web", 10_001)).code).toBe("INVALID_ARGUMENT");
  });
});

describe("delete", () => {
  it("removes the deployment, drops unplaced containers and stops placed ones", () => {
    const h = cluster();
    h.ok(body.plan("web", [["web-0", "n1"]]));
    expect(h.ok(body.delete("web"))).toEqual({ kind: "delete", name: "web", removed: 2, stopping: 1 });
    expect(h.fsm.getDeployment("web")).toBeUndefined();
    expect(states(h)).toEqual({ "web-0": "scheduled/stopped@n1" });
    expect(h.fail(body.delete("web")).code).toBe("NOT_FOUND");
    // Its node is down: the leader forgets it instead.
    expect(h.ok(body.remove("web-0", "node n1 down"))).toEqual({
      kind: "remove-container",
      containerId: "web-0",
      removed: true,
    });
    expect(h.fsm.getNode("n1")?.allocated).toEqual({ cpuMillicores: 0, memoryMib: 0 });
    expect(h.fsm.containerCount).toBe(0);
  });
});

describe("nodes", () => {
  it("re-registering updates the address and marks the node ready", () => {
    const h = cluster();
    h.ok(body.nodeStatus("n1", NodeStatus.NODE_STATUS_DOWN, "heartbeat timeout"));
    expect(h.fsm.getNode("n1")?.status).toBe("down");
    expect(h.ok(body.register("n1", "us-east-1", 4000, 8192, "10.0.0.9:9101"))).toEqual({
      kind: "register-node",
      nodeId: "n1",
      created: false,
    });
    expect(h.fsm.getNode("n1")).toMatchObject({
      status: "ready",
      agentAddress: "10.0.0.9:9101",
      statusReason: "re-registered",
    });
  });

  it("refuses a region change and a shrink below what is allocated", () => {
    const h = cluster();
    h.ok(
      body.plan("web", [
        ["web-0", "n1"],
        ["web-1", "n1"],
      ]),
    );
    expect(h.fail(body.register("n1", "eu-west-1")).code).toBe("FAILED_PRECONDITION");
    expect(h.fail(body.register("n1", "us-east-1", 900, 8192)).message).toContain("cannot shrink");
    h.ok(body.register("n1", "us-east-1", 1000, 512));
  });

  it("sets a node's status", () => {
    const h = cluster();
    expect(h.ok(body.nodeStatus("n2", NodeStatus.NODE_STATUS_DRAINING, "maintenance"))).toEqual({
      kind: "set-node-status",
      nodeId: "n2",
      status: "draining",
      changed: true,
    });
    expect(h.ok(body.nodeStatus("n2", NodeStatus.NODE_STATUS_DRAINING))).toMatchObject({ changed: false });
    expect(h.fsm.events({ limit: 1 })[0]).toMatchObject({
      kind: "node-draining",
      node: "n2",
      message: "node n2 ready -> draining: maintenance",
    });
    expect(h.fail(body.nodeStatus("n9", NodeStatus.NODE_STATUS_DOWN)).code).toBe("NOT_FOUND");
    expect(h.fail(body.nodeStatus("n2", NodeStatus.NODE_STATUS_UNSPECIFIED)).code).toBe("INVALID_ARGUMENT");
    expect(h.fail(body.register("n3", "mars-1")).code).toBe("INVALID_ARGUMENT");
  });
});

describe("node readiness", () => {
  it("records a not-ready node once with its reason and the time, tells its deployments, and clears it", () => {
    const h = cluster();
    h.ok(body.plan("web", [["web-0", "n1"]]));
    const engineDown = "Docker engine at unix:///run/d.sock unavailable: connect ENOENT";
    expect(h.ok(body.readiness("n1", engineDown))).toEqual({
      kind: "node-readiness",
      nodeId: "n1",
      ready: false,
      changed: true,
    });
    const since = h.fsm.getNode("n1")?.notReadySinceMs ?? 0;
    expect(since).toBeGreaterThan(0);
    expect(h.fsm.getNode("n1")).toMatchObject({ status: "ready", notReadyReason: engineDown });
    // The same word again changes nothing and adds no event; a new reason keeps the outage's start.
    const events = h.fsm.events({ limit: 100 }).length;
    expect(h.ok(body.readiness("n1", engineDown))).toMatchObject({ changed: false });
    expect(h.fsm.events({ limit: 100 })).toHaveLength(events);
    h.ok(body.readiness("n1", "Docker engine at unix:///run/d.sock slow: ping took 3000 ms"));
    expect(h.fsm.getNode("n1")?.notReadySinceMs).toBe(since);
    // The deployment with a container there hears of it (orchctl get shows its events).
    const kinds = h.fsm.getDeployment("web")?.recentEvents.map((e) => `${e.kind}@${e.node}`);
    expect(kinds).toContain("node-not-ready@n1");
    expect(h.ok(body.readiness("n1", null))).toMatchObject({ ready: true, changed: true });
    expect(h.fsm.getNode("n1")).toMatchObject({ notReadyReason: "", notReadySinceMs: 0 });
    expect(h.fsm.events({ limit: 1 })[0]).toMatchObject({ kind: "node-ready", node: "n1" });
    expect(h.fail(body.readiness("n9", "x")).code).toBe("NOT_FOUND");
    expect(h.fail(body.readiness("n1", "")).code).toBe("INVALID_ARGUMENT");
  });

  it("refuses placements on a node that is not ready, and takes them again once it is", () => {
    const h = cluster();
    h.ok(body.readiness("n1", "engine down"));
    expect(h.ok(body.plan("web", [["web-0", "n1"]]))).toMatchObject({
      placed: 0,
      rejections: [{ reason: "node-not-ready", count: 1 }],
    });
    h.ok(body.readiness("n1", null));
    expect(h.ok(body.plan("web", [["web-0", "n1"]]))).toMatchObject({ placed: 1 });
  });
});

describe("apply plan", () => {
  it("never over-commits a node, counting what it rejects", () => {
    const h = new Harness();
    h.ok(body.register("n1", "us-east-1", 4000, 8192));
    h.ok(body.deploy({ cpuMillicores: 3000 }));
    const result = h.ok(
      body.plan(
        "web",
        [
          ["web-0", "n1"],
          ["web-1", "n1"],
          ["web-2", "n1"],
        ],
        { pendingReason: "1/1 nodes: insufficient cpu" },
      ),
    );
    expect(result).toEqual({
      kind: "apply-plan",
      planId: "p1",
      deployment: "web",
      placed: 1,
      rejected: 2,
      rejections: [{ reason: "insufficient-cpu", count: 2 }],
    });
    expect(h.fsm.getNode("n1")?.allocated.cpuMillicores).toBe(3000);
    expect(h.fsm.getDeployment("web")?.status.pendingReason).toBe("1/1 nodes: insufficient cpu");
  });

  it("re-checks every placement", () => {
    const h = cluster();
    h.ok(body.register("n3", "us-east-1", 4000, 1000));
    h.ok(body.nodeStatus("n2", NodeStatus.NODE_STATUS_DOWN));
    h.ok(body.deploy({ name: "one", replicas: 3, onePerNode: true, regions: ["us-east-1"], memoryMib: 600 }));
    h.ok(body.plan("web", [["web-0", "n1"]]));
    const result = h.ok(
      body.plan("one", [
        ["one-0", "n1"],
        ["one-1", "n1"], // one per node
        ["one-0", "n3"], // no longer pending
        ["web-1", "n1"], // not this deployment's
        ["one-9", "n1"], // missing
        ["one-1", "n2"], // node down
        ["one-1", "n9"], // unknown node
        ["one-1", "n3"],
        ["one-2", "n3"], // memory: 600 + 600 > 1000, also one per node
      ]),
    );
    expect(result).toMatchObject({ placed: 2, rejected: 7 });
    expect(result.kind === "apply-plan" && result.rejections).toEqual([
      { reason: "container-missing", count: 2 },
      { reason: "container-not-pending", count: 1 },
      { reason: "insufficient-memory", count: 1 },
      { reason: "node-missing", count: 1 },
      { reason: "node-not-ready", count: 1 },
      { reason: "one-per-node", count: 1 },
    ]);
    h.ok(body.register("n4", "eu-west-1"));
    expect(h.ok(body.plan("one", [["one-2", "n4"]]))).toMatchObject({
      rejections: [{ reason: "region-constraint", count: 1 }],
    });
    expect(h.fsm.getDeployment("one")?.status.pendingReason).toBe(
      "placements rejected at apply time (1 region-constraint); the scheduler will retry",
    );
  });

  it("rejects a whole plan made for another deployment version or a deleted deployment", () => {
    const h = cluster();
    expect(
      h.ok(
        body.plan(
          "web",
          [
            ["web-0", "n1"],
            ["web-1", "n1"],
          ],
          { version: 2 },
        ),
      ),
    ).toMatchObject({
      placed: 0,
      rejections: [{ reason: "deployment-version-changed", count: 2 }],
    });
    expect(h.ok(body.plan("api", [["api-0", "n1"]]))).toMatchObject({
      placed: 0,
      rejections: [{ reason: "deployment-missing", count: 1 }],
    });
  });

  it("clears the pending reason once nothing is pending", () => {
    const h = cluster();
    h.ok(body.plan("web", [["web-0", "n1"]], { pendingReason: "waiting" }));
    expect(h.fsm.getDeployment("web")?.status.pendingReason).toBe("waiting");
    h.ok(
      body.plan("web", [
        ["web-1", "n1"],
        ["web-2", "n2"],
      ]),
    );
    expect(h.fsm.getDeployment("web")?.status.pendingReason).toBe("");
    expect(states(h)).toEqual({
      "web-0": "scheduled/running@n1",
      "web-1": "scheduled/running@n1",
      "web-2": "scheduled/running@n2",
    });
    expect(h.fsm.getContainer("web-2")?.region).toBe("eu-west-1");
  });
});

describe("container status", () => {
  it("follows the lifecycle, counting restarts; a crash keeps its room for the restart in place", () => {
    const h = cluster();
    h.ok(body.plan("web", [["web-0", "n1"]]));
    for (const s of [
      S.CONTAINER_STATE_STARTING,
      S.CONTAINER_STATE_RUNNING,
      S.CONTAINER_STATE_UNHEALTHY,
      S.CONTAINER_STATE_RESTARTING,
      S.CONTAINER_STATE_STARTING,
    ]) {
      h.ok(body.status("web-0", "n1", s));
    }
    h.ok(body.status("web-0", "n1", S.CONTAINER_STATE_RUNNING, HealthState.HEALTH_STATE_HEALTHY));
    expect(h.fsm.getContainer("web-0")).toMatchObject({ state: "running", health: "healthy", restartCount: 1 });
    expect(h.fsm.getDeployment("web")?.status.healthy).toBe(1);
    h.ok(body.status("web-0", "n1", S.CONTAINER_STATE_FAILED, HealthState.HEALTH_STATE_UNSPECIFIED, "OOM killed"));
    expect(h.fsm.getContainer("web-0")).toMatchObject({ state: "failed", health: "unknown", node: "n1" });
    // Wanted running, it keeps its room on n1: the leader restarts it there.
    expect(h.fsm.getNode("n1")?.allocated.cpuMillicores).toBe(500);
    expect(h.fsm.listContainers({ node: "n1" }).containers.map((c) => c.id)).toEqual(["web-0"]);
    expect(h.fsm.events({ deployment: "web", limit: 1 })[0]).toMatchObject({
      kind: "container-failed",
      message: "container web-0 failed on n1: OOM killed",
    });
    const refused = h.fail(body.status("web-0", "n1", S.CONTAINER_STATE_RUNNING));
    expect(refused).toMatchObject({
      code: "FAILED_PRECONDITION",
      message: "container web-0 cannot go from failed to running; the report is refused",
    });
    // Only the leader's restart decision revives a crashed container, not an agent's report.
    expect(h.fail(body.status("web-0", "n1", S.CONTAINER_STATE_RESTARTING)).message).toBe(
      "container web-0 cannot go from failed to restarting; the report is refused",
    );
    // Scaled away, the crashed replica goes at once (it ended) and gives its room back.
    expect(h.ok(body.scale("web", 0))).toMatchObject({ removed: 3, stopping: 0 });
    expect(h.fsm.getContainer("web-0")).toBeUndefined();
    expect(h.fsm.getNode("n1")?.allocated.cpuMillicores).toBe(0);
  });

  it("ignores reports from a node the container is not on", () => {
    const h = cluster();
    h.ok(body.plan("web", [["web-0", "n1"]]));
    expect(h.ok(body.status("web-0", "n2", S.CONTAINER_STATE_RUNNING))).toMatchObject({
      applied: false,
      ignoredReason: "container web-0 is on node n1, not on n2",
    });
    expect(h.ok(body.status("web-1", "n2", S.CONTAINER_STATE_RUNNING))).toMatchObject({ applied: false });
    expect(h.ok(body.status("gone-1", "n2", S.CONTAINER_STATE_RUNNING))).toMatchObject({ applied: false });
    expect(h.fsm.getContainer("web-0")?.state).toBe("scheduled");
  });

  it("refuses states agents cannot observe", () => {
    const h = cluster();
    h.ok(body.plan("web", [["web-0", "n1"]]));
    expect(h.fail(body.status("web-0", "n1", S.CONTAINER_STATE_PENDING)).code).toBe("INVALID_ARGUMENT");
    expect(h.fail(body.status("web-0", "n1", S.CONTAINER_STATE_LOST)).code).toBe("INVALID_ARGUMENT");
    expect(h.fail(body.status("web-0", "n1", S.CONTAINER_STATE_UNSPECIFIED, 7 as HealthState)).code).toBe(
      "INVALID_ARGUMENT",
    );
  });

  it("refuses to forget a container that is wanted running", () => {
    const h = cluster();
    expect(h.fail(body.remove("web-0")).code).toBe("FAILED_PRECONDITION");
    expect(h.ok(body.remove("nope-0"))).toMatchObject({ removed: false });
  });
});

describe("entries", () => {
  it("treats an empty entry as a no-op and refuses garbage", () => {
    const fsm = new ClusterFsm();
    expect(fsm.apply(1, new Uint8Array())).toEqual({ ok: true, value: { kind: "noop" } });
    expect(fsm.revision).toBe(1);
    const garbage = fsm.apply(2, new Uint8Array([0xff, 0xff, 0xff]));
    expect(garbage).toMatchObject({ ok: false, code: "INVALID_ARGUMENT" });
    const noBody = fsm.apply(3, Command.encode(Command.fromPartial({ formatVersion: commandFormatVersion })).finish());
    expect(noBody).toMatchObject({ ok: false, code: "INVALID_ARGUMENT" });
    expect(fsm.revision).toBe(3);
  });

  it("stops on a command format it does not know, and on indexes that do not grow", () => {
    const fsm = new ClusterFsm();
    const newer = Command.encode(
      Command.fromPartial({ formatVersion: commandFormatVersion + 1, scale: { name: "web", replicas: 1 } }),
    ).finish();
    expect(() => fsm.apply(1, newer)).toThrow(BugIndicatingError);
    const fresh = new ClusterFsm();
    fresh.apply(5, new Uint8Array());
    expect(() => fresh.apply(5, new Uint8Array())).toThrow(BugIndicatingError);
  });
});

describe("change feed", () => {
  it("reports each entity touched by an entry once, after the entry", () => {
    const h = new Harness();
    const changes: StateChange[] = [];
    const stop = h.fsm.onChange((change) => changes.push(change));
    h.ok(body.register("n1"));
    h.ok(body.deploy({ replicas: 2 }));
    h.ok(body.plan("web", [["web-0", "n1"]]));
    h.ok(body.delete("web"));
    stop();
    h.ok(body.register("n2"));
    const show = (c: StateChange): string => `${c.revision} ${c.kind} ${c.action} ${c.id}`;
    expect(changes.map(show)).toEqual([
      "1 node put n1",
      "1 event put 1",
      "2 deployment put web",
      "2 container put web-0",
      "2 container put web-1",
      "2 event put 2",
      "3 node put n1",
      "3 container put web-0",
      "3 event put 3",
      "4 container delete web-1",
      "4 container put web-0",
      "4 deployment delete web",
      "4 event put 4",
    ]);
  });
});

it("encodes the leader's time into the command", () => {
  const fsm = new ClusterFsm();
  fsm.apply(1, encodeCommand({ clientId: "", seq: 0, atMs: 1234, body: body.register("n1") }));
  expect(fsm.getNode("n1")?.lastStatusChangeAtMs).toBe(1234);
});
