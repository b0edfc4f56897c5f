/**
 * The drain controller on the real FSM without Raft (InMemoryLog), with the real scheduler
 * worker and leadership barrier, on the manual clock. The agents and the prober are the test:
 * after every clock step placed containers report running (stopping ones stopped) and healthy,
 * unless their image is a bad one. Every applied entry is sampled: no deployment below its
 * disruption budget, no stop of a replica before its replacement counted healthy, and at most
 * max_parallel migrations in flight per deployment.
 */
import { Registry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import { DrainController } from "../../src/drain/io/drain-controller.js";
import type { ContainerRecord } from "../../src/fsm/index.js";
import type { UpdatePolicy } from "../../src/gen/orchestrator/v1/types.js";
import { SchedulerWorker } from "../../src/scheduler/io/scheduler-worker.js";
import { spec } from "../fsm/helpers.js";
import { ControllerBench, agentTurnMs, logger } from "./harness.js";

const stops: (() => void)[] = [];
afterEach(() => {
  for (const stop of stops.splice(0)) stop();
});

const minHealthyTimeMs = 1_000;

interface Violation {
  readonly what: string;
}

class DrainBench extends ControllerBench {
  /** Containers the prober finds unhealthy. */
  unhealthyWhere: (c: { deployment: string; node: string }) => boolean = () => false;
  readonly violations: Violation[] = [];
  readonly minHealthy = new Map<string, number>();
  readonly maxInFlight = new Map<string, number>();
  /** Containers on the drained node wanted running when sampling started. */
  readonly stoppedEarly: string[] = [];
  private readonly wasWanted = new Set<string>();
  sampling = false;
  drainNode = "n0";
  controller: DrainController | null = null;

  constructor() {
    super();
    this.fsm.onChange(() => {
      if (this.sampling) this.sample();
    });
  }

  startControllers(): void {
    const scheduler = new SchedulerWorker(this.ports(), logger, new Registry());
    scheduler.start();
    stops.push(() => scheduler.stop());
    this.startDrainController();
  }

  startDrainController(): DrainController {
    const controller = new DrainController(this.ports(), logger, new Registry());
    controller.start();
    stops.push(() => controller.stop());
    this.controller = controller;
    return controller;
  }

  deployApp(name: string, replicas: number, update: Partial<UpdatePolicy> = {}, image = "app:1"): void {
    this.log.ok({ kind: "deploy", deploy: { spec: spec({ name, image, replicas, update: policy(update) }) } });
  }

  wanted(name: string) {
    return this.fsm
      .listContainers({ deployment: name, limit: 10_000 })
      .containers.filter((c) => c.desired === "running");
  }

  healthy(name: string): number {
    return this.wanted(name).filter((c) => c.state === "running" && c.health === "healthy").length;
  }

  onNode(): number {
    return this.fsm.nodeContainerCount(this.drainNode);
  }

  /** After every applied entry: budgets, early stops, migrations in flight. */
  private sample(): void {
    const nowMs = this.clock.wallMs();
    for (const name of ["a", "b", "c"]) {
      const record = this.fsm.getDeploymentRecord(name);
      if (record === undefined) continue;
      const healthy = this.healthy(name);
      this.minHealthy.set(name, Math.min(this.minHealthy.get(name) ?? Infinity, healthy));
      const open = record.migrations.filter(
        (m) =>
          this.fsm.getContainer(m.from)?.desired === "running" && this.fsm.getContainer(m.to)?.desired === "running",
      );
      this.maxInFlight.set(name, Math.max(this.maxInFlight.get(name) ?? 0, open.length));
      for (const c of this.fsm.listContainers({ deployment: name, limit: 10_000 }).containers) {
        if (c.node !== this.drainNode) continue;
        if (c.desired === "running") this.wasWanted.add(c.id);
        else if (this.wasWanted.delete(c.id)) {
          // It was just asked to stop: its replacement must be running, healthy for min_healthy_time.
          const replacement = record.migrations.find((m) => m.from === c.id);
          const healthyReplacement = this.wanted(name).some(
            (r) =>
              r.node !== this.drainNode &&
              r.state === "running" &&
              r.health === "healthy" &&
              nowMs - r.healthySinceMs >= minHealthyTimeMs,
          );
          if (replacement !== undefined || !healthyReplacement) this.stoppedEarly.push(c.id);
        }
      }
    }
  }

  protected override probedHealthy(c: Readonly<ContainerRecord>): boolean {
    return !this.unhealthyWhere(c);
  }

  drain(deadlineMs = 600_000, ignoreSingletons = false): void {
    this.log.ok({
      kind: "node-drain-start",
      nodeDrainStart: { nodeId: this.drainNode, deadlineMs, ignoreSingletons, actor: "test" },
    });
  }

  drainState(): string | undefined {
    return this.fsm.getNode(this.drainNode)?.drain?.state;
  }

  /** Step numbers the FSM applied (steps and the finish): each must appear once, in order. */
  appliedSteps(): number[] {
    const steps = this.proposer
      .of("node-drain-step")
      .filter((p) => p.result?.ok === true && p.result.value.kind === "node-drain-step" && p.result.value.applied)
      .map((p) => p.body.nodeDrainStep.stepSeq);
    const finishes = this.proposer
      .of("node-drain-finish")
      .filter((p) => p.result?.ok === true && p.result.value.kind === "node-drain-finish" && p.result.value.applied)
      .map((p) => p.body.nodeDrainFinish.stepSeq);
    return [...steps, ...finishes].sort((x, y) => x - y);
  }

  /**
   * Three deployments all on n0 (the only node at first), healthy; then n1..n3 join, empty.
   * a: 3 replicas, max_parallel 1; b: 4 replicas, max_parallel 2; c: 1 replica.
   */
  async threeDeploymentsOnOneNode(): Promise<void> {
    this.registerNode("n0", "127.0.0.1:1", 16_000);
    this.deployApp("a", 3, { maxParallel: 1 });
    this.deployApp("b", 4, { maxParallel: 2 });
    this.deployApp("c", 1);
    this.startControllers();
    this.elect();
    await this.runUntil(() => this.healthy("a") === 3 && this.healthy("b") === 4 && this.healthy("c") === 1, "healthy");
    expect(this.onNode()).toBe(8);
    for (const n of ["n1", "n2", "n3"]) this.registerNode(n, "127.0.0.1:1", 16_000);
    await this.run(agentTurnMs);
  }
}

function policy(update: Partial<UpdatePolicy>): UpdatePolicy {
  return {
    maxParallel: 1,
    maxSurge: 1,
    minHealthyTimeMs,
    healthyDeadlineMs: 5_000,
    progressDeadlineMs: 60_000,
    canary: 0,
    autoRevert: true,
    ...update,
  };
}

describe("drain controller on the in-memory log", () => {
  it("moves every replica off the node, each replacement healthy first, within max_parallel and the budget", async () => {
    const bench = new DrainBench();
    await bench.threeDeploymentsOnOneNode();
    bench.sampling = true;
    bench.drain();
    expect(bench.nodeStatus("n0")).toBe("draining");
    await bench.runUntil(() => bench.drainState() === "complete", "drained");
    bench.sampling = false;

    expect(bench.onNode()).toBe(0);
    expect(bench.nodeStatus("n0")).toBe("ready");
    expect(bench.fsm.getNode("n0")?.eligible).toBe(false);
    expect(bench.fsm.getNode("n0")?.drain).toMatchObject({ migrated: 8, stoppedAtDeadline: 0 });
    for (const [name, replicas] of [
      ["a", 3],
      ["b", 4],
      ["c", 1],
    ] as const) {
      expect(bench.wanted(name)).toHaveLength(replicas);
      expect(bench.wanted(name).every((c) => c.node !== "n0")).toBe(true);
      // Replacement first: nothing ever went below `replicas` healthy (the budget allows replicas - 1).
      expect(bench.minHealthy.get(name)).toBe(replicas);
    }
    expect(bench.stoppedEarly).toEqual([]);
    expect(bench.maxInFlight.get("a")).toBe(1);
    expect(bench.maxInFlight.get("b")).toBe(2);
    expect(bench.maxInFlight.get("c")).toBe(1);
    const steps = bench.appliedSteps();
    expect(steps).toEqual([...steps.keys()]);
    const events = bench.fsm.events({ limit: 1000 }).map((e) => e.kind);
    expect(events).toContain("node-drain-started");
    expect(events).toContain("node-drain-progress");
    expect(events).toContain("node-drain-complete");
  });

  it("never stops a replica whose replacement is not healthy; at the deadline it stops what is left", async () => {
    const bench = new DrainBench();
    await bench.threeDeploymentsOnOneNode();
    // Replacements of a (anywhere but n0) never become healthy: a's replicas stay until the deadline.
    bench.unhealthyWhere = (c) => c.deployment === "a" && c.node !== "n0";
    const onNodeBefore = bench.wanted("a").filter((c) => c.node === "n0").length;
    bench.sampling = true;
    bench.drain(20_000);
    await bench.run(15_000);
    // b and c moved; a's replicas on n0 are still there: their replacements never counted.
    expect(bench.wanted("a").filter((c) => c.node === "n0")).toHaveLength(onNodeBefore);
    expect(bench.wanted("b").every((c) => c.node !== "n0")).toBe(true);
    await bench.runUntil(() => bench.drainState() === "complete", "drained");
    bench.sampling = false;
    expect(bench.onNode()).toBe(0);
    expect(bench.fsm.getNode("n0")?.drain?.stoppedAtDeadline).toBe(onNodeBefore);
    expect(bench.fsm.events({ limit: 1000 }).some((e) => e.message.includes("deadline reached"))).toBe(true);
  });

  it("a new leader continues the drain where the old one stopped; no step is applied twice", async () => {
    const bench = new DrainBench();
    await bench.threeDeploymentsOnOneNode();
    bench.sampling = true;
    bench.drain();
    await bench.runUntil(() => (bench.fsm.getNode("n0")?.drain?.migrated ?? 0) >= 3, "half drained");
    // The leader loses leadership with its controller's state; a new one (a fresh controller) takes over.
    bench.depose();
    bench.controller?.stop();
    await bench.run(2_000);
    const seqBefore = bench.fsm.getNode("n0")?.drain?.stepSeq ?? 0;
    bench.startDrainController();
    bench.elect();
    await bench.runUntil(() => bench.drainState() === "complete", "drained after failover");
    bench.sampling = false;
    expect(bench.fsm.getNode("n0")?.drain?.stepSeq).toBeGreaterThan(seqBefore);
    expect(bench.onNode()).toBe(0);
    expect(bench.stoppedEarly).toEqual([]);
    for (const [name, replicas] of [
      ["a", 3],
      ["b", 4],
      ["c", 1],
    ] as const) {
      expect(bench.wanted(name)).toHaveLength(replicas);
      expect(bench.minHealthy.get(name)).toBeGreaterThanOrEqual(replicas - 1);
    }
    const steps = bench.appliedSteps();
    expect(steps).toEqual([...steps.keys()]);
  });

  it("--ignore-singletons leaves single-replica deployments on the node and completes without them", async () => {
    const bench = new DrainBench();
    await bench.threeDeploymentsOnOneNode();
    bench.drain(600_000, true);
    await bench.runUntil(() => bench.drainState() === "complete", "drained");
    expect(bench.onNode()).toBe(1);
    expect(bench.wanted("c")[0]?.node).toBe("n0");
    expect(bench.wanted("a").every((c) => c.node !== "n0")).toBe(true);
  });
});
