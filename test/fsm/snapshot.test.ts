import { describe, expect, it } from "vitest";
import { BugIndicatingError } from "../../src/lib/assert.js";
import { FsmSnapshot } from "../../src/gen/orchestrator/v1/fsm.js";
import { ContainerState as PbContainerState } from "../../src/gen/orchestrator/v1/types.js";
import { ClusterFsm, encodeCommand, fsmLimits, snapshotFormatVersion } from "../../src/fsm/index.js";
import { body, ContainerState, expectSameBytes, Harness, HealthState, NodeStatus, t0 } from "./helpers.js";

function busyCluster(): Harness {
  const h = new Harness();
  h.ok(body.register("n1", "us-east-1", 4000, 8192));
  h.ok(body.register("n2", "eu-west-1", 4000, 8192));
  h.ok(body.deploy({ replicas: 4, regions: ["us-east-1", "eu-west-1"] }), { clientId: "cli", seq: 1 });
  h.ok(
    body.plan(
      "web",
      [
        ["web-0", "n1"],
        ["web-1", "n2"],
        ["web-2", "n2"],
      ],
      { pendingReason: "1 waiting" },
    ),
  );
  h.ok(body.status("web-0", "n1", ContainerState.CONTAINER_STATE_RUNNING, HealthState.HEALTH_STATE_HEALTHY));
  h.ok(body.status("web-1", "n2", ContainerState.CONTAINER_STATE_RESTARTING));
  h.ok(body.scale("web", 2), { clientId: "cli", seq: 2 });
  h.ok(body.nodeStatus("n2", NodeStatus.NODE_STATUS_DRAINING, "maintenance"));
  return h;
}

/** The health controllers' state: an outcome, a restart in progress, a lost node's replacement. */
function healingCluster(): Harness {
  const h = new Harness();
  h.ok(body.register("n1", "us-east-1", 4000, 8192));
  h.ok(body.register("n2", "eu-west-1", 4000, 8192));
  h.ok(body.register("n3", "us-east-1", 4000, 8192));
  h.ok(body.deploy({ replicas: 3 }));
  h.ok(
    body.plan("web", [
      ["web-0", "n1"],
      ["web-1", "n2"],
      ["web-2", "n3"],
    ]),
  );
  for (const [id, node] of [
    ["web-0", "n1"],
    ["web-1", "n2"],
    ["web-2", "n3"],
  ])
    h.ok(body.status(id, node, ContainerState.CONTAINER_STATE_RUNNING));
  h.ok(body.outcome("web-4", true, "3/3 healthy"));
  h.ok(
    body.status("web-1", "n2", ContainerState.CONTAINER_STATE_FAILED, HealthState.HEALTH_STATE_UNSPECIFIED, "exit 137"),
  );
  h.ok(body.restart("web-1", { delayMs: 2000, notBeforeMs: t0 + 99_000, backoffStep: 3, reason: "crashed" }));
  h.ok(body.nodeDown("n3", "silent"));
  h.ok(body.readiness("n3", "Docker engine unavailable"));
  h.ok(body.health("web-0", HealthState.HEALTH_STATE_UNHEALTHY, "HTTP 500"));
  return h;
}

describe("snapshot", () => {
  it("restores an identical state", () => {
    const h = busyCluster();
    const bytes = h.fsm.snapshot();
    const restored = new ClusterFsm();
    const revisions: number[] = [];
    restored.onRestore((revision) => revisions.push(revision));
    restored.restore(bytes);
    expect(revisions).toEqual([h.fsm.revision]);
    expect(restored.dumpState()).toEqual(h.fsm.dumpState());
    expectSameBytes(restored.snapshot(), bytes);
    restored.checkInvariants();
    expect(restored.getDeployment("web")).toEqual(h.fsm.getDeployment("web"));
  });

  it("is an FsmSnapshot message as the generated codec reads and writes it", () => {
    const h = busyCluster();
    const bytes = h.fsm.snapshot();
    const message = FsmSnapshot.decode(bytes);
    expect(message.formatVersion).toBe(snapshotFormatVersion);
    expect(message.revision).toBe(h.fsm.revision);
    expect(message.nodes.map((n) => n.id)).toEqual(["n1", "n2"]);
    expect(message.deployments[0].spec?.replicas).toBe(2);
    expect(message.containers.map((c) => `${c.deployment}-${c.ordinal}:${c.nodeId}:${c.state}`)).toEqual([
      `web-0:n1:${PbContainerState.CONTAINER_STATE_RUNNING}`,
      `web-1:n2:${PbContainerState.CONTAINER_STATE_RESTARTING}`,
      `web-2:n2:${PbContainerState.CONTAINER_STATE_SCHEDULED}`,
    ]);
    expect(message.events.length).toBe(h.fsm.events().length);
    expect(message.clientSessions.map((s) => [s.clientId, s.lastSeq])).toEqual([["cli", 2]]);
    expectSameBytes(FsmSnapshot.encode(message).finish(), bytes);
  });

  it("keeps the event ring bounded and its order across a restore", () => {
    const h = new Harness();
    h.ok(body.register("n1"));
    const total = fsmLimits.eventsMax + 25;
    for (let i = 1; i < total; i++)
      h.ok(body.nodeStatus("n1", i % 2 === 1 ? NodeStatus.NODE_STATUS_DOWN : NodeStatus.NODE_STATUS_READY));
    const events = h.fsm.events();
    expect(events.length).toBe(fsmLimits.eventsMax);
    expect(events[0].seq).toBe(total);
    const restored = new ClusterFsm();
    restored.restore(h.fsm.snapshot());
    expect(restored.events()).toEqual(events);
    const next = encodeCommand({
      clientId: "",
      seq: 0,
      atMs: t0,
      body: body.nodeStatus("n1", NodeStatus.NODE_STATUS_DRAINING),
    });
    h.fsm.apply(h.index + 1, next);
    restored.apply(h.index + 1, next);
    expect(restored.events()).toEqual(h.fsm.events());
    expectSameBytes(restored.snapshot(), h.fsm.snapshot());
  });

  it("carries operations, outcome buckets, lost history and backoff steps", () => {
    const h = healingCluster();
    expect(h.fsm.openOperations().map((o) => `${o.id} ${o.kind}`)).toEqual(["web-11 replacement"]);
    expect(h.fsm.outcomeBuckets().length).toBe(1);
    const bytes = h.fsm.snapshot();
    const restored = new ClusterFsm();
    restored.restore(bytes);
    restored.checkInvariants();
    expect(restored.dumpState()).toEqual(h.fsm.dumpState());
    expectSameBytes(restored.snapshot(), bytes);
    expect(restored.openOperations()).toEqual(h.fsm.openOperations());
    expect(restored.outcomeBuckets()).toEqual(h.fsm.outcomeBuckets());
    expect(restored.getDeployment("web")).toEqual(h.fsm.getDeployment("web"));
    expect(restored.getContainer("web-1")).toMatchObject({
      state: "restarting",
      backoffStep: 3,
      nextRestartAtMs: t0 + 99_000,
      restartCount: 1,
    });
    expect(restored.getContainer("web-2")).toMatchObject({ state: "lost", desired: "stopped" });

    const message = FsmSnapshot.decode(bytes);
    expect(message.openOperations.map((o) => o.id)).toEqual(["web-11"]);
    expect(message.outcomeBuckets).toEqual([{ minute: Math.floor((t0 + 9_000) / 60_000), succeeded: 1, failed: 0 }]);
    expect(message.deployments[0].lastOutcome).toMatchObject({
      operationId: "web-4",
      succeeded: true,
      reason: "3/3 healthy",
    });
    expect(message.containers.find((c) => c.ordinal === 1)?.backoffStep).toBe(3);
    expectSameBytes(FsmSnapshot.encode(message).finish(), bytes);

    // Both go on alike: a new leader continues the same backoff and judges the same operation.
    const next = [
      body.outcome("web-11", false, "deadline passed"),
      body.status("web-1", "n2", ContainerState.CONTAINER_STATE_RUNNING),
      body.resetBackoff("web-1"),
    ];
    next.forEach((b, i) => {
      const data = encodeCommand({ clientId: "", seq: 0, atMs: t0 + 200_000, body: b });
      expect(restored.apply(h.index + 1 + i, data)).toEqual(h.fsm.apply(h.index + 1 + i, data));
    });
    expect(restored.dumpState()).toEqual(h.fsm.dumpState());
    expectSameBytes(restored.snapshot(), h.fsm.snapshot());
    expect(restored.outcomeBuckets().map((b) => [b.succeeded, b.failed])).toEqual([
      [1, 0],
      [0, 1],
    ]);
  });

  it("refuses a snapshot that is not one", () => {
    expect(() => new ClusterFsm().restore(new Uint8Array([0x08, 0x09]))).toThrow(BugIndicatingError);
    expect(() => new ClusterFsm().restore(new Uint8Array())).toThrow(BugIndicatingError);
  });
});
