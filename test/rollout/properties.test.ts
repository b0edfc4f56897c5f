/**
 * Property tests of the rollout core driving the real FSM in a simulated world (world.ts): for
 * random policies, replica counts, cluster sizes and failures,
 *  - no rollout step lowers the healthy count below replicas - max_parallel: a step leaves at
 *    least min(healthy before it, replicas - max_parallel) healthy (failures the world injects
 *    between steps may lower it; a step never does);
 *  - an auto-revert never stops a replica running the version it reverts to;
 *  - every rollout ends (succeeded, failed or reverted), and none goes a progress deadline (plus
 *    the controller's tick) without progress or an end.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isRolloutActive } from "../../src/fsm/index.js";
import { tickMs, World, type WorldConfig } from "./world.js";

const config: fc.Arbitrary<WorldConfig> = fc
  .record({
    seed: fc.integer({ min: 1, max: 0x7fff_ffff }),
    nodes: fc.integer({ min: 1, max: 6 }),
    slotsPerNode: fc.integer({ min: 1, max: 4 }),
    replicas: fc.integer({ min: 0, max: 8 }),
    maxParallel: fc.integer({ min: 1, max: 4 }),
    maxSurge: fc.integer({ min: 0, max: 3 }),
    minHealthyTimeMs: fc.integer({ min: 0, max: 4_000 }),
    healthyExtraMs: fc.integer({ min: 3_000, max: 15_000 }),
    progressExtraMs: fc.integer({ min: 0, max: 20_000 }),
    canaryShare: fc.integer({ min: 0, max: 2 }),
    autoRevert: fc.boolean(),
    badImage: fc.boolean(),
    failureChance: fc.constantFrom(0, 0.01, 0.05),
    nodeLossChance: fc.constantFrom(0, 0, 0.02),
  })
  .map((r) => {
    const healthyDeadlineMs = r.minHealthyTimeMs + r.healthyExtraMs;
    return {
      seed: r.seed,
      nodes: r.nodes,
      slotsPerNode: r.slotsPerNode,
      replicas: Math.min(r.replicas, r.nodes * r.slotsPerNode),
      badImage: r.badImage,
      failureChance: r.failureChance,
      nodeLossChance: r.nodeLossChance,
      policy: {
        maxParallel: r.maxParallel,
        maxSurge: r.maxSurge,
        minHealthyTimeMs: r.minHealthyTimeMs,
        healthyDeadlineMs,
        progressDeadlineMs: healthyDeadlineMs + r.progressExtraMs,
        canary: Math.min(r.canaryShare, Math.min(r.replicas, r.nodes * r.slotsPerNode)),
        autoRevert: r.autoRevert,
      },
    };
  });

function run(c: WorldConfig, autoPromote = true): World {
  const world = new World(c);
  world.deploy("good:1", { canary: 0 });
  world.settle();
  world.deploy(c.badImage ? "bad:2" : "good:2");
  const policy = c.policy;
  // Steps are finite (old replicas only go, new ones at most replicas), each within a progress
  // deadline; two rollouts at most (the revert is never reverted).
  const horizonMs = 2 * (4 * c.replicas + 4) * (policy.progressDeadlineMs + 2 * tickMs);
  const end = world.nowMs + horizonMs;
  for (;;) {
    world.tick();
    const rollout = world.fsm.getDeploymentRecord("web")!.rollout!;
    if (!isRolloutActive(rollout.state)) break;
    if (rollout.state === "awaiting-promotion" && autoPromote)
      world.ok({ kind: "rollout-promote", rolloutPromote: { deployment: "web", actor: "test" } });
    expect(world.nowMs - rollout.lastProgressAtMs).toBeLessThanOrEqual(policy.progressDeadlineMs + 2 * tickMs);
    expect(world.nowMs, "the rollout did not end").toBeLessThan(end);
  }
  return world;
}

describe("rollout core in a simulated world", () => {
  it("keeps replicas - max_parallel healthy through every step, and every rollout ends", () => {
    fc.assert(
      fc.property(config, (c) => {
        const world = run(c);
        for (const step of world.steps) {
          const floor = step.replicas - step.maxParallel;
          expect(step.healthyAfter).toBeGreaterThanOrEqual(Math.min(step.healthyBefore, floor));
          if (step.isRevert) expect(step.stoppedImages).not.toContain(step.targetImage);
        }
        const record = world.fsm.getDeploymentRecord("web")!;
        const rollout = record.rollout!;
        if (rollout.state === "succeeded" || rollout.state === "reverted") {
          const running = world.fsm
            .listContainers({ deployment: "web", limit: 1_000 })
            .containers.filter((x) => x.desired === "running");
          expect(running.every((x) => x.version === record.version)).toBe(true);
          expect(running.length).toBe(record.spec.replicas);
        }
        if (c.badImage && c.replicas > 0) expect(rollout.state).not.toBe("succeeded");
        if (!c.badImage && c.failureChance === 0 && c.nodeLossChance === 0 && c.replicas > 0)
          expect(rollout.state).toBe("succeeded");
      }),
      { numRuns: 150 },
    );
  });
});

describe("rollout core in a simulated world, fixed cases", () => {
  const base: WorldConfig = {
    seed: 7,
    nodes: 3,
    slotsPerNode: 3,
    replicas: 6,
    badImage: false,
    failureChance: 0,
    policy: {
      maxParallel: 2,
      maxSurge: 1,
      minHealthyTimeMs: 2_000,
      healthyDeadlineMs: 10_000,
      progressDeadlineMs: 30_000,
      canary: 0,
      autoRevert: true,
    },
  };

  it("rolls 6 replicas over to a good version in health-gated steps, never below replicas healthy with a surge", () => {
    const world = run(base);
    const record = world.fsm.getDeploymentRecord("web")!;
    expect(record.rollout?.state).toBe("succeeded");
    expect(world.steps.length).toBeGreaterThanOrEqual(6);
    // With a surge and room, capacity never drops: every step keeps all 6 healthy.
    for (const step of world.steps) expect(step.healthyAfter).toBeGreaterThanOrEqual(Math.min(step.healthyBefore, 6));
    expect(record.history.map((v) => [v.version, v.outcome])).toEqual([
      [1, "succeeded"],
      [2, "succeeded"],
    ]);
    expect(world.fsm.getDeployment("web")?.lastOutcome).toMatchObject({ kind: "rollout", succeeded: true });
  });

  it("reverts a version that never gets healthy by itself, without stopping the old replicas it goes back to", () => {
    const world = run({ ...base, badImage: true });
    const record = world.fsm.getDeploymentRecord("web")!;
    expect(record.rollout).toMatchObject({ state: "reverted", isRevert: true, toVersion: 3 });
    expect(record.spec.image).toBe("good:1");
    expect(record.history.map((v) => [v.version, v.outcome])).toEqual([
      [1, "succeeded"],
      [2, "failed"],
      [3, "succeeded"],
    ]);
    // The bad version started at most max_parallel replicas, and only bad ones were stopped by the revert.
    const revertSteps = world.steps.filter((s) => s.isRevert);
    for (const step of revertSteps) expect(step.stoppedImages.every((image) => image === "bad:2")).toBe(true);
    expect(world.decisions.some((d) => d.kind === "revert")).toBe(true);
    const slo = world.fsm.outcomeBuckets().reduce((sum, b) => sum + b.failed, 0);
    expect(slo).toBe(1);
  });

  it("fails without auto-revert and says which replica missed its deadline", () => {
    const world = run({ ...base, badImage: true, policy: { ...base.policy, autoRevert: false } });
    const rollout = world.fsm.getDeploymentRecord("web")!.rollout!;
    expect(rollout.state).toBe("failed");
    expect(rollout.reason).toMatch(/^replica web-\d+ of v2 not healthy for 2000 ms within 10000 ms of its placement/);
  });

  it("a canary that cannot be placed still hits the progress deadline", () => {
    // One node, full: the canary has no room and max_surge does not help.
    const world = run(
      { ...base, nodes: 1, slotsPerNode: 2, replicas: 2, policy: { ...base.policy, canary: 1 } },
      false,
    );
    const rollout = world.fsm.getDeploymentRecord("web")!.rollout!;
    expect(rollout.state).toBe("reverted");
    expect(world.fsm.getDeploymentRecord("web")!.history[1]).toMatchObject({ version: 2, outcome: "failed" });
    expect(world.decisions.find((d) => d.kind === "revert")).toMatchObject({
      reason: expect.stringMatching(/^no progress for 30000 ms: 0\/2 of v2 ready, 2 old, 1 not placed/),
    });
  });
});
