/**
 * The scheduler worker on the real FSM without Raft (InMemoryLog) and the real leadership
 * barrier: it plans only once the new leader applied its own first entry of the term, so it
 * never re-places what an earlier leader's last plan, still unapplied at the election, placed.
 */
import { Registry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import { SchedulerWorker } from "../../src/scheduler/io/scheduler-worker.js";
import { ControllerBench, logger, settle } from "./harness.js";

const stops: (() => void)[] = [];
afterEach(() => {
  for (const stop of stops.splice(0)) stop();
});

function startScheduler(bench: ControllerBench): SchedulerWorker {
  const worker = new SchedulerWorker(bench.ports(), logger, new Registry());
  worker.start();
  stops.push(() => worker.stop());
  return worker;
}

function placedContainers(bench: ControllerBench): number {
  return bench.proposer.of("apply-plan").reduce((sum, p) => sum + p.body.applyPlan.placements.length, 0);
}

describe("scheduler worker on the in-memory log", () => {
  it("places pending containers once it leads, and not before its barrier", async () => {
    const bench = new ControllerBench();
    bench.registerNode("n1");
    bench.registerNode("n2");
    bench.deploy({ name: "web", replicas: 4 });
    startScheduler(bench);

    // Not leading: nothing is planned, however long.
    await bench.advance(1_000);
    await settle();
    expect(bench.proposer.proposals).toHaveLength(0);

    // Elected while one entry of the earlier leader (its last plan) is committed but not yet
    // applied here: the FSM still shows four pending containers, and planning now would place
    // web-0 a second time.
    bench.elect(1);
    await bench.advance(1_000);
    await settle();
    expect(bench.proposer.proposals).toHaveLength(0);
    expect(bench.fsm.pendingCount("web")).toBe(4);

    bench.place("web", [["web-0", "n1"]]);
    await settle();
    expect(bench.proposer.proposals).toHaveLength(0);
    expect(bench.log.barrier.catchUpIndex).toBe(bench.log.index + 1);

    // The new leader's own first entry applies: the barrier opens and the worker plans the rest.
    bench.log.appendNoop();
    expect(bench.log.barrier.isLeader()).toBe(true);
    await settle();
    expect(bench.fsm.pendingCount("web")).toBe(0);
    expect(placedContainers(bench)).toBe(3);
    const placedIds = bench.proposer
      .of("apply-plan")
      .flatMap((p) => p.body.applyPlan.placements.map((x) => x.containerId));
    expect(placedIds.sort()).toEqual(["web-1", "web-2", "web-3"]);
    for (const proposal of bench.proposer.of("apply-plan")) {
      const result = proposal.result;
      expect(result?.ok && result.value.kind === "apply-plan" ? result.value.rejected : -1).toBe(0);
    }
  });

  it("places a deployment that arrives while it leads", async () => {
    const bench = new ControllerBench();
    bench.registerNode("n1");
    startScheduler(bench);
    bench.elect();
    await settle();
    expect(bench.proposer.proposals).toHaveLength(0);
    bench.deploy({ name: "api", replicas: 2 });
    await settle();
    expect(bench.fsm.pendingCount("api")).toBe(0);
    expect(placedContainers(bench)).toBe(2);
  });
});
