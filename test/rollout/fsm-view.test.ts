/**
 * The rollout's view of the FSM: when may it treat placement as blocked (and so lower its healthy
 * floor to replicas - max_parallel)? Only when the scheduler said no node fits, not when the FSM
 * refused a stale plan, which the scheduler retries at once: that once stopped healthy old
 * replicas in the middle of a rollout that had room.
 */
import { describe, expect, it } from "vitest";
import type { UpdatePolicy } from "../../src/gen/orchestrator/v1/types.js";
import type { CommandBody } from "../../src/fsm/index.js";
import { rolloutViewOf } from "../../src/rollout/fsm-view.js";
import { body, ContainerState, Harness, HealthState } from "../fsm/helpers.js";

const update = (p: Partial<UpdatePolicy> = {}): UpdatePolicy => ({
  maxParallel: 0,
  healthyDeadlineMs: 0,
  progressDeadlineMs: 0,
  canary: 0,
  ...p,
});
const step = (toVersion: number, stepSeq: number, startCount: number): CommandBody => ({
  kind: "rollout-step",
  rolloutStep: { deployment: "web", toVersion, stepSeq, startCount, stopContainerIds: [], reason: "" },
});

/** web v1 on n1 (3 healthy replicas), then v2 rolling with one new replica pending. */
function rollingWithOnePending(): Harness {
  const h = new Harness();
  h.ok(body.register("n1", "us-east-1", 16_000, 16_384));
  h.ok(body.register("n2", "eu-west-1", 16_000, 16_384));
  h.ok(body.deploy({ update: update({ maxSurge: 1 }) }), { clientId: "a", seq: 1 });
  h.ok(
    body.plan("web", [
      ["web-0", "n1"],
      ["web-1", "n1"],
      ["web-2", "n1"],
    ]),
  );
  for (const id of ["web-0", "web-1", "web-2"]) {
    h.ok(body.status(id, "n1", ContainerState.CONTAINER_STATE_RUNNING));
    h.ok(body.health(id, HealthState.HEALTH_STATE_HEALTHY));
  }
  h.ok(body.outcome(h.fsm.openOperation("web")!.id, true));
  h.ok(body.deploy({ image: "nginx:2", update: update({ maxSurge: 1 }) }), { clientId: "a", seq: 2 });
  h.ok(step(2, 0, 1));
  expect(h.fsm.pendingCount("web")).toBe(1);
  return h;
}

describe("rolloutViewOf: placement blocked", () => {
  it("is not blocked by a stale plan the FSM refused at apply time", () => {
    const h = rollingWithOnePending();
    const pending = h.fsm.pendingContainers("web")[0].id;
    // A plan made for a node that went away: refused, reason recorded, the container still pending.
    h.ok(body.plan("web", [[pending, "n9"]], { version: 2 }));
    expect(h.fsm.getDeploymentRecord("web")?.pendingReason).toMatch(/^placements rejected at apply time/);
    expect(rolloutViewOf(h.fsm, "web")?.placementBlocked).toBe(false);
  });

  it("is blocked when the scheduler found no node for the pending replica", () => {
    const h = rollingWithOnePending();
    h.ok(body.plan("web", [], { version: 2, pendingReason: "0/2 nodes: 2 insufficient cpu" }));
    expect(rolloutViewOf(h.fsm, "web")?.placementBlocked).toBe(true);
  });
});
