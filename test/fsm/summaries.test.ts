import { describe, expect, it } from "vitest";
import { HealthState } from "../../src/gen/orchestrator/v1/fsm.js";
import { ClusterFsm } from "../../src/fsm/index.js";
import { body, ContainerState, Harness } from "./helpers.js";

const S = ContainerState;

describe("cheap summaries", () => {
  it("containersRevision moves with every change to one of the deployment's containers, and only then", () => {
    const h = new Harness();
    h.ok(body.register("n1"));
    h.ok(body.deploy({ replicas: 2 }));
    h.ok(body.deploy({ name: "api", replicas: 1 }));
    const created = h.fsm.containersRevision("web");
    expect(created).toBeGreaterThan(0);
    expect(h.fsm.containersRevision("nope")).toBe(0);

    h.ok(body.plan("web", [["web-0", "n1"]]));
    const placed = h.fsm.containersRevision("web");
    expect(placed).toBeGreaterThan(created);
    h.ok(body.plan("api", [["api-0", "n1"]]));
    expect(h.fsm.containersRevision("web")).toBe(placed);

    h.ok(body.status("web-0", "n1", S.CONTAINER_STATE_RUNNING));
    const running = h.fsm.containersRevision("web");
    expect(running).toBeGreaterThan(placed);
    h.ok(body.health("web-0", HealthState.HEALTH_STATE_HEALTHY));
    expect(h.fsm.containersRevision("web")).toBeGreaterThan(running);
    expect(h.fsm.getDeploymentStatus("web")).toMatchObject({
      desired: 2,
      healthy: 1,
      byState: { running: 1, pending: 1 },
    });
    expect(h.fsm.getDeploymentStatus("web")).toEqual(h.fsm.getDeployment("web")?.status);

    // A restored replica's revisions are fresh: a summary taken before cannot pass for current.
    const restored = new ClusterFsm();
    restored.restore(h.fsm.snapshot());
    expect(restored.containersRevision("web")).toBe(h.fsm.revision);
  });

  it("containerStateCounts equals the sum of every deployment's byState", () => {
    const h = new Harness();
    h.ok(body.register("n1"));
    h.ok(body.deploy({ replicas: 3 }));
    h.ok(body.deploy({ name: "api", replicas: 2 }));
    h.ok(
      body.plan("web", [
        ["web-0", "n1"],
        ["web-1", "n1"],
      ]),
    );
    h.ok(body.status("web-0", "n1", S.CONTAINER_STATE_RUNNING));
    const summed: Record<string, number> = {};
    for (const view of h.fsm.listDeployments())
      for (const [state, n] of Object.entries(view.status.byState)) summed[state] = (summed[state] ?? 0) + n;
    expect(h.fsm.containerStateCounts()).toEqual(summed);
    expect(h.fsm.containerStateCounts()).toMatchObject({ pending: 3, scheduled: 1, running: 1 });
    expect(h.fsm.deploymentCount()).toBe(2);
  });
});

describe("sliced snapshots", () => {
  it("encode the same bytes as a whole snapshot, and freeze the state until done", () => {
    const h = new Harness();
    for (let i = 0; i < 5; i++) h.ok(body.register(`n${i}`));
    h.ok(body.deploy({ replicas: 7 }));
    const whole = h.fsm.snapshot();
    const steps = h.fsm.snapshotSteps(2);
    let step = steps.next();
    let pauses = 0;
    while (step.done !== true) {
      pauses++;
      if (pauses === 1) expect(() => h.fsm.apply(h.fsm.revision + 1, new Uint8Array())).toThrow(/snapshot/);
      step = steps.next();
    }
    expect(pauses).toBeGreaterThanOrEqual(6);
    expect(step.value).toEqual(whole);
    // Done: applying works again.
    h.ok(body.register("n9"));
  });

  it("are abandoned by a restore, leaving the restored state usable", () => {
    const h = new Harness();
    for (let i = 0; i < 5; i++) h.ok(body.register(`n${i}`));
    const other = new Harness();
    other.ok(body.register("x1"));
    const steps = h.fsm.snapshotSteps(1);
    steps.next();
    h.fsm.restore(other.fsm.snapshot());
    expect(() => steps.next()).toThrow(/restored during a snapshot/);
    expect(h.fsm.listNodes().map((n) => n.id)).toEqual(["x1"]);
    expect(() => h.fsm.apply(h.fsm.revision + 1, new Uint8Array())).not.toThrow();
  });
});
