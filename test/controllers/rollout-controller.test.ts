/**
 * The rollout controller on the real FSM without Raft (InMemoryLog), the real scheduler worker
 * and leadership barrier, on the manual clock. The agents and the prober are the test: after
 * every clock step it reports placed containers running (stopping ones stopped) and their
 * health, healthy unless their image is one of the bad ones.
 */
import { Registry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import type { ContainerRecord } from "../../src/fsm/index.js";
import { RolloutPauser } from "../../src/gen/orchestrator/v1/fsm.js";
import type { UpdatePolicy } from "../../src/gen/orchestrator/v1/types.js";
import { RolloutController, rolloutTickMs } from "../../src/rollout/io/rollout-controller.js";
import { SchedulerWorker } from "../../src/scheduler/io/scheduler-worker.js";
import { spec } from "../fsm/helpers.js";
import { ControllerBench, logger } from "./harness.js";

const stops: (() => void)[] = [];
afterEach(() => {
  for (const stop of stops.splice(0)) stop();
});

class RolloutBench extends ControllerBench {
  readonly badImages = new Set<string>();
  /** Healthy replicas of "web" wanted running, after every applied entry (once sampling). */
  readonly healthySamples: number[] = [];
  sampling = false;
  controller: RolloutController | null = null;

  constructor(nodes = 4) {
    super();
    for (let n = 0; n < nodes; n++) this.registerNode(`n${n}`);
    this.fsm.onChange(() => {
      if (this.sampling) this.healthySamples.push(this.healthy());
    });
  }

  startControllers(): void {
    const scheduler = new SchedulerWorker(this.ports(), logger, new Registry());
    scheduler.start();
    stops.push(() => scheduler.stop());
    this.startRolloutController();
  }

  startRolloutController(): RolloutController {
    const controller = new RolloutController(this.ports(), logger, new Registry());
    controller.start();
    stops.push(() => controller.stop());
    this.controller = controller;
    return controller;
  }

  running(): { id: string; version: number; healthy: boolean; restartCount: number; desired: string }[] {
    return this.fsm
      .listContainers({ deployment: "web", limit: 10_000 })
      .containers.filter((c) => c.desired === "running")
      .map((c) => ({
        id: c.id,
        version: c.version,
        healthy: c.state === "running" && c.health === "healthy",
        restartCount: c.restartCount,
        desired: c.desired,
      }));
  }

  healthy(): number {
    return this.running().filter((c) => c.healthy).length;
  }

  imageOf(version: number): string {
    return this.fsm.getDeploymentRecord("web")?.history.find((v) => v.version === version)?.spec.image ?? "";
  }

  protected override probedHealthy(c: Readonly<ContainerRecord>): boolean {
    return !this.badImages.has(this.imageOf(c.version));
  }

  rolloutState(): string | undefined {
    return this.fsm.getDeploymentRecord("web")?.rollout?.state;
  }

  /** Deploys v1 of web, brings it to all healthy and closes its operation (v1 is then a good version). */
  async deployStable(replicas: number, update: Partial<UpdatePolicy> = {}): Promise<void> {
    this.log.ok({
      kind: "deploy",
      deploy: { spec: spec({ name: "web", image: "app:1", replicas, update: policy(update) }) },
    });
    this.startControllers();
    this.elect();
    await this.runUntil(() => this.healthy() === replicas, "all healthy");
    this.closeOperation(true);
  }

  closeOperation(succeeded: boolean): void {
    const op = this.fsm.openOperation("web");
    expect(op).toBeDefined();
    this.log.ok({
      kind: "operation-outcome",
      operationOutcome: { operationId: op?.id ?? "", succeeded, reason: succeeded ? "" : "injected failure" },
    });
  }

  /** A changed spec: v(N+1) and its rollout. Forced past the cluster's error budget (spent by the burn-rate tests). */
  newVersion(image: string, replicas: number, update: Partial<UpdatePolicy> = {}): void {
    this.log.ok({
      kind: "deploy",
      deploy: { spec: spec({ name: "web", image, replicas, update: policy(update) }), force: true },
    });
    expect(this.rolloutState()).toBe("running");
  }

  /** Every step the FSM applied, by step number: each must appear once. */
  appliedSteps(): number[] {
    return this.proposer
      .of("rollout-step")
      .filter((p) => p.result?.ok === true && p.result.value.kind === "rollout-step" && p.result.value.applied)
      .map((p) => p.body.rolloutStep.stepSeq);
  }
}

function policy(update: Partial<UpdatePolicy>): UpdatePolicy {
  return {
    maxParallel: 2,
    maxSurge: 0,
    minHealthyTimeMs: 1_000,
    healthyDeadlineMs: 5_000,
    progressDeadlineMs: 60_000,
    canary: 0,
    autoRevert: true,
    ...update,
  };
}

function expectEachStepOnce(steps: number[], total: number): void {
  expect(steps).toEqual([...Array(total).keys()]);
}

describe("rollout controller on the in-memory log", () => {
  it("rolls 6 replicas 2 at a time, never below replicas - max_parallel healthy, each step once", async () => {
    const bench = new RolloutBench();
    await bench.deployStable(6);
    bench.sampling = true;
    bench.newVersion("app:2", 6);
    await bench.runUntil(() => bench.rolloutState() === "succeeded", "rolled out");
    bench.sampling = false;

    const rollout = bench.fsm.getDeploymentRecord("web")?.rollout;
    expect(bench.running().every((c) => c.version === 2 && c.healthy)).toBe(true);
    expect(bench.running()).toHaveLength(6);
    // max_surge 0: three steps stop 2 and start 2 each.
    expectEachStepOnce(bench.appliedSteps(), rollout?.stepSeq ?? -1);
    expect(rollout?.stepSeq).toBe(3);
    expect(bench.healthySamples.length).toBeGreaterThan(20);
    expect(Math.min(...bench.healthySamples)).toBeGreaterThanOrEqual(6 - 2);
    // The floor is reached: the rollout used its max_parallel.
    expect(Math.min(...bench.healthySamples)).toBe(4);
    const text = await bench.registry.metrics();
    expect(text).toBeDefined();
  });

  it("steps as soon as a new replica has been healthy for min_healthy_time, not at the next tick", async () => {
    const bench = new RolloutBench();
    // 1,050 ms: the end of the wait falls between ticks (every 200 ms) and between clock steps.
    await bench.deployStable(4, { minHealthyTimeMs: 1_050 });
    bench.newVersion("app:2", 4, { minHealthyTimeMs: 1_050 });
    await bench.runUntil(() => (bench.fsm.getDeploymentRecord("web")?.rollout?.stepSeq ?? 0) >= 2, "two steps");
    const firstBatch = bench.fsm
      .listContainers({ deployment: "web", limit: 100 })
      .containers.filter((c) => c.version === 2 && c.health === "healthy");
    expect(firstBatch).toHaveLength(2);
    const readyAtMs = Math.min(...firstBatch.map((c) => c.healthySinceMs)) + 1_050;
    const steps = bench.proposer.of("rollout-step").filter((p) => p.body.rolloutStep.stepSeq === 1);
    expect(steps[0]?.atMs).toBe(readyAtMs);
    expect(rolloutTickMs).toBe(200);
  });

  it("a new leader's controller continues the same rollout with no step twice", async () => {
    const bench = new RolloutBench();
    await bench.deployStable(6);
    bench.sampling = true;
    const first = bench.controller;
    bench.newVersion("app:2", 6);
    await bench.runUntil(() => (bench.fsm.getDeploymentRecord("web")?.rollout?.stepSeq ?? 0) >= 2, "two steps");
    // Leadership moves: the old controller stops, and a second instance leads the same FSM.
    bench.depose();
    first?.stop();
    await bench.run(1_000);
    const stepsWhileNoLeader = bench.appliedSteps().length;
    bench.startRolloutController();
    bench.elect();
    await bench.runUntil(() => bench.rolloutState() === "succeeded", "rolled out");
    bench.sampling = false;

    expect(stepsWhileNoLeader).toBe(2);
    expectEachStepOnce(bench.appliedSteps(), 3);
    expect(Math.min(...bench.healthySamples)).toBeGreaterThanOrEqual(4);
    expect(bench.running().every((c) => c.version === 2 && c.healthy)).toBe(true);
  });

  it("a version that never turns healthy fails at its healthy deadline and reverts without touching the healthy old replicas", async () => {
    const bench = new RolloutBench();
    await bench.deployStable(6);
    bench.badImages.add("bad:2");
    bench.sampling = true;
    bench.newVersion("bad:2", 6);
    // The first step stops two old replicas and starts two new ones; the rest must stay.
    await bench.runUntil(() => (bench.fsm.getDeploymentRecord("web")?.rollout?.stepSeq ?? 0) >= 1, "first step");
    const survivors = bench.running().filter((c) => c.version === 1);
    expect(survivors).toHaveLength(4);
    const watch = () => {
      for (const s of survivors) {
        const c = bench.fsm.getContainer(s.id);
        expect(c?.desired).toBe("running");
        expect(c?.state).toBe("running");
        expect(c?.restartCount).toBe(s.restartCount);
      }
    };
    bench.fsm.onChange(watch);
    await bench.runUntil(
      () =>
        bench.fsm.getDeploymentRecord("web")?.history.some((v) => v.version === 2 && v.outcome === "failed") ?? false,
      "v2 failed",
    );
    await bench.runUntil(() => bench.rolloutState() === "reverted", "reverted");
    bench.sampling = false;

    const record = bench.fsm.getDeploymentRecord("web");
    expect(record?.version).toBe(3);
    expect(record?.spec.image).toBe("app:1");
    expect(record?.rollout?.isRevert).toBe(true);
    expect(bench.proposer.of("rollout-revert")).toHaveLength(1);
    expect(bench.proposer.of("rollout-revert")[0].body.rolloutRevert.reason).toMatch(/not healthy/);
    // The revert adopted the survivors (same ids, never stopped) and replaced the bad two.
    const finalIds = bench.running().map((c) => c.id);
    for (const s of survivors) expect(finalIds).toContain(s.id);
    expect(bench.running().every((c) => c.healthy && bench.imageOf(c.version) === "app:1")).toBe(true);
    expect(Math.min(...bench.healthySamples)).toBeGreaterThanOrEqual(4);
    // The failed rollout counts as a failed operation of the deployment.
    expect(record?.recentOutcomes.some((o) => !o.succeeded)).toBe(true);
  });

  it("without auto_revert the rollout stops failed and says why", async () => {
    const bench = new RolloutBench();
    await bench.deployStable(6);
    bench.badImages.add("bad:2");
    bench.newVersion("bad:2", 6, { autoRevert: false });
    await bench.runUntil(() => bench.rolloutState() === "failed", "failed");
    await bench.run(10_000);

    const record = bench.fsm.getDeploymentRecord("web");
    expect(record?.version).toBe(2);
    expect(record?.rollout?.state).toBe("failed");
    expect(record?.rollout?.reason).toMatch(/^replica web-\d+ of v2 not healthy/);
    expect(bench.proposer.of("rollout-revert")).toHaveLength(0);
    // It stopped: no step after the failure, and the old healthy replicas still run.
    expect(bench.appliedSteps()).toEqual([0]);
    expect(bench.running().filter((c) => c.version === 1 && c.healthy)).toHaveLength(4);
  });

  it("a canary waits for promotion, however long, and continues once promoted", async () => {
    const bench = new RolloutBench();
    await bench.deployStable(6);
    bench.newVersion("app:2", 6, { canary: 1, progressDeadlineMs: 10_000 });
    await bench.runUntil(() => bench.rolloutState() === "awaiting-promotion", "awaiting promotion");
    // Five times the progress deadline: healthy canaries waiting for an operator are not stalled.
    await bench.run(50_000);
    expect(bench.rolloutState()).toBe("awaiting-promotion");
    expect(bench.appliedSteps()).toEqual([0]);
    expect(bench.running().filter((c) => c.version === 2)).toHaveLength(1);
    expect(bench.running().filter((c) => c.version === 1)).toHaveLength(6);

    bench.log.ok({ kind: "rollout-promote", rolloutPromote: { deployment: "web", actor: "test" } });
    await bench.runUntil(() => bench.rolloutState() === "succeeded", "rolled out");
    expect(bench.running().every((c) => c.version === 2 && c.healthy)).toBe(true);
    expectEachStepOnce(bench.appliedSteps(), bench.fsm.getDeploymentRecord("web")?.rollout?.stepSeq ?? -1);
  });

  it("pauses while the deployment burns its budget, an operator's pause outranks it, and it resumes", async () => {
    const bench = new RolloutBench();
    await bench.deployStable(6);
    // A failed operation of web within the last 5 minutes: its burn rate is far above 14.4.
    bench.log.ok({ kind: "scale", scale: { name: "web", replicas: 7 } });
    bench.closeOperation(false);
    await bench.runUntil(() => bench.healthy() === 7, "scaled");
    const failedAtMs = bench.clock.wallMs();
    bench.newVersion("app:2", 7);
    await bench.run(2 * rolloutTickMs);
    const record = () => bench.fsm.getDeploymentRecord("web");
    expect(bench.rolloutState()).toBe("paused");
    expect(record()?.rollout?.pausedBy).toBe("burn-rate");
    expect(bench.appliedSteps()).toEqual([]);

    // The operator pauses too: the burn-rate gate may no longer lift it.
    bench.log.ok({
      kind: "rollout-pause",
      rolloutPause: {
        deployment: "web",
        by: RolloutPauser.ROLLOUT_PAUSER_OPERATOR,
        reason: "looking",
        actor: "ops",
        toVersion: 0,
      },
    });
    await bench.runUntil(() => bench.clock.wallMs() > failedAtMs + 5 * 60_000 + 1_000, "the window passed", 400_000);
    expect(record()?.rollout?.pausedBy).toBe("operator");
    expect(bench.appliedSteps()).toEqual([]);

    bench.log.ok({
      kind: "rollout-resume",
      rolloutResume: {
        deployment: "web",
        by: RolloutPauser.ROLLOUT_PAUSER_OPERATOR,
        reason: "",
        actor: "ops",
        toVersion: 0,
      },
    });
    await bench.runUntil(() => bench.rolloutState() === "succeeded", "rolled out");
    const pauses = bench.proposer.of("rollout-pause").filter((p) => p.result?.ok);
    expect(pauses.map((p) => p.body.rolloutPause.by)).toEqual([RolloutPauser.ROLLOUT_PAUSER_BURN_RATE]);
    expect(pauses[0].body.rolloutPause.reason).toMatch(/burn rate .* above 14.4/);
  });

  it("the burn-rate gate lifts its own pause once the failures leave the window", async () => {
    const bench = new RolloutBench();
    await bench.deployStable(4);
    bench.log.ok({ kind: "scale", scale: { name: "web", replicas: 4 + 1 } });
    bench.closeOperation(false);
    await bench.runUntil(() => bench.healthy() === 5, "scaled");
    bench.newVersion("app:2", 5);
    await bench.runUntil(() => bench.rolloutState() === "paused", "paused");
    expect(bench.fsm.getDeploymentRecord("web")?.rollout?.pausedBy).toBe("burn-rate");
    await bench.runUntil(() => bench.rolloutState() === "succeeded", "resumed and rolled out", 400_000);
    const resumes = bench.proposer.of("rollout-resume").filter((p) => p.result?.ok);
    expect(resumes).toHaveLength(1);
    expect(resumes[0].body.rolloutResume.by).toBe(RolloutPauser.ROLLOUT_PAUSER_BURN_RATE);
  });
});
