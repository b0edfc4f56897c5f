/**
 * A leader that steps down stops both controllers: nothing is proposed, whatever happens in the
 * cluster meanwhile, and no timer of theirs is left on the clock. Leading again, they pick the
 * same work up (which shows the work was there to be done).
 */
import { Registry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import { HealthController } from "../../src/health/io/health-controller.js";
import { SchedulerWorker } from "../../src/scheduler/io/scheduler-worker.js";
import { ContainerState, ControllerBench, healthTickMs, logger, settle } from "./harness.js";
import { AnsweringProber } from "./probers.js";

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
});

describe("leader step-down", () => {
  it("stops the scheduler and the health controller proposing until this replica leads again", async () => {
    const bench = new ControllerBench();
    bench.registerNode("n1");
    bench.registerNode("n2");
    const worker = new SchedulerWorker(bench.ports(), logger, new Registry());
    const health = new HealthController(
      { ...bench.ports(), prober: new AnsweringProber(), seed: () => 7 },
      logger,
      bench.registry,
    );
    worker.start();
    health.start();
    stops.push(
      async () => worker.stop(),
      () => health.stop(),
    );
    const beat = async (): Promise<void> => {
      health.heartbeats.record("n1", bench.clock.wallMs());
      health.heartbeats.record("n2", bench.clock.wallMs());
      await settle();
    };

    bench.elect();
    bench.deploy({ name: "web", replicas: 2 });
    await settle();
    expect(bench.fsm.pendingCount("web")).toBe(0);
    for (const c of bench.fsm.listContainers({ deployment: "web" }).containers)
      bench.report(c.id, c.node, ContainerState.CONTAINER_STATE_RUNNING);
    await bench.advance(1_000, healthTickMs, beat);
    expect(bench.proposer.of("container-health").length).toBeGreaterThan(0);

    bench.depose();
    expect(bench.clock.pendingTimers).toBe(0);
    const proposedBefore = bench.proposer.proposals.length;
    // Work for a leader: a new deployment to place, a crashed container to restart, and (no
    // heartbeats from here on) two nodes silent for far longer than their TTL.
    bench.deploy({ name: "api", replicas: 1 });
    bench.report("web-0", bench.fsm.getContainer("web-0")!.node, ContainerState.CONTAINER_STATE_FAILED);
    await bench.advance(20_000, healthTickMs);
    expect(bench.proposer.proposals.slice(proposedBefore)).toEqual([]);
    expect(bench.fsm.pendingCount("api")).toBe(1);

    // Leading again, the controllers take the same work up.
    bench.elect();
    await bench.advance(1_000, healthTickMs, beat);
    expect(bench.fsm.pendingCount("api")).toBe(0);
    expect(bench.proposer.of("restart-container").map((p) => p.body.restartContainer.containerId)).toEqual(["web-0"]);
  });
});
