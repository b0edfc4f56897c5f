import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { GetDeploymentRequest } from "../../src/gen/orchestrator/v1/orchestrator.js";
import { waitFor } from "../cluster/harness.js";
import { HealthCluster, containerView, restartDecision, sampleValue, sleep } from "./harness.js";

/**
 * The leader dies by SIGKILL in the middle of a restart's back-off. The decision and its
 * not-before time are in the log, so the new leader neither restarts the container again
 * (restart count +1, not +2) nor starts the back-off over: the instance starts no earlier than
 * the logged not-before, and the next crash takes the next step of the back-off.
 */

let h: HealthCluster;

beforeAll(async () => {
  h = await HealthCluster.start("health-failover", 1);
}, 90_000);

afterEach(async (context) => {
  if (h === undefined) return;
  if (context.task.result?.state === "fail") await h.dumpLogs();
}, 90_000);

afterAll(async () => {
  await h?.close();
}, 90_000);

interface Observation {
  /** When the agent's answer arrived: the state it describes was sampled no later than this. */
  readonly atMs: number;
  readonly state: string | undefined;
  readonly generation: number | undefined;
  readonly incarnation: number | undefined;
  readonly notBeforeMs: number | undefined;
}

describe("leader SIGKILL during a restart back-off", () => {
  it("neither resets nor duplicates the back-off: one restart, not before its logged not-before, and the next crash continues with the next step", async () => {
    const name = "steady";
    const initialDelayMs = 4_000;
    await h.deploy({
      name,
      replicas: 1,
      healthCheck: { periodMs: 500, timeoutMs: 300, failureThreshold: 3, successThreshold: 1 },
      restartPolicy: { initialDelayMs, factor: 2, maxDelayMs: 60_000, resetAfterMs: 600_000 },
    });
    const [c] = await h.waitHealthy(name, 1);
    const agent = await h.agentAddressOf(c.node);
    const old = await h.cluster.waitForLeader();

    // Crash it, and SIGKILL the leader as soon as its RestartContainer is committed: the leader's
    // own applied state (a stale read, with no ReadIndex round that would also tell the
    // followers the new commit index) shows the container restarting.
    await h.fault(agent, "containers", c.id, "crash");
    const committed = await waitFor(
      `the restart of ${c.id} committed on ${old.leaderId}`,
      async () => {
        const response = await h.cluster.call(
          old.leaderId,
          "getDeployment",
          GetDeploymentRequest.fromPartial({ name, stale: true }),
          { timeoutMs: 2_000 },
        );
        const container = response.containers.map(containerView).find((x) => x.id === c.id);
        const event = response.deployment?.recentEvents.find((e) => e.kind === "restarted" && e.container === c.id);
        return container?.state === "restarting" && event !== undefined ? { container, event } : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 5 },
    );
    const killedAtMs = Date.now();
    expect(await h.cluster.kill(old.leaderId, "SIGKILL")).toBeNull();
    const notBeforeMs = committed.container.nextRestartAtMs;
    const first = restartDecision(committed.event);
    expect(committed.container.restartCount).toBe(1);
    expect(killedAtMs, "the leader died before the restart's not-before").toBeLessThan(notBeforeMs);
    expect(first.ceilingMs).toBe(initialDelayMs);
    expect(first.delayMs).toBeGreaterThanOrEqual(initialDelayMs / 2);
    expect(first.delayMs).toBeLessThanOrEqual(initialDelayMs);
    // not-before = decision time + delay, on the leader's clock (this machine's).
    expect(Math.abs(notBeforeMs - (first.event.atMs + first.delayMs))).toBeLessThan(1_000);

    // Watch the agent: the restarted instance waits, unstarted, until the logged not-before.
    const observations: Observation[] = [];
    const restartedInstance = await waitFor(
      `the agent to run ${c.id} again`,
      async () => {
        const instance = await h.agentInstance(agent, c.id);
        observations.push({
          atMs: Date.now(),
          state: instance?.state,
          generation: instance?.generation as number | undefined,
          incarnation: instance?.incarnation,
          notBeforeMs: instance?.notBeforeMs as number | undefined,
        });
        return instance?.state === "running" && instance.generation === 1 ? instance : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 50 },
    );
    const timeline = JSON.stringify(
      observations.map((o) => [o.atMs - notBeforeMs, o.state, o.generation, o.incarnation]),
    );
    expect(restartedInstance.notBeforeMs, "the agent waits for the logged not-before").toBe(notBeforeMs);
    // An answer that arrived before not-before described a waiting (or crashed) instance, never a started one.
    for (const o of observations) {
      if (o.atMs < notBeforeMs) expect(["waiting", "failed", "stopped", undefined], timeline).toContain(o.state);
    }
    expect(
      observations.some((o) => o.atMs < notBeforeMs && o.state === "waiting" && o.generation === 1),
      timeline,
    ).toBe(true);
    // One instance for the restart: no second restart (generation 2) and no fresh incarnation of generation 1.
    const gen1 = new Set(observations.filter((o) => o.generation === 1).map((o) => o.incarnation));
    expect(gen1.size, timeline).toBe(1);
    expect(
      observations.every((o) => (o.generation ?? 0) <= 1),
      timeline,
    ).toBe(true);

    // A new leader took over; exactly one restart, and it stays one.
    const next = await h.cluster.waitForLeader({
      among: h.cluster.running(),
      notId: old.leaderId,
      minTerm: old.term + 1,
    });
    const healed = await h.waitHealthy(name, 1, 20_000);
    expect(healed[0].restartCount).toBe(1);
    const stableUntil = Date.now() + 1_500;
    while (Date.now() < stableUntil) {
      expect((await h.container(name, c.id)).restartCount).toBe(1);
      await sleep(100);
    }
    expect(h.events(name, "restarted", c.id).length).toBe(1);
    // The new leader decided no restart of its own for that crash.
    const decidedByNew = sampleValue(await h.metrics(next.leaderId), "orchestrator_container_restarts_total") ?? 0;
    expect(decidedByNew, "restart decisions of the new leader").toBe(0);

    // The next crash continues the back-off: step 1, ceiling twice the initial delay.
    await waitFor(
      `${c.id} running on its agent`,
      async () => (await h.agentInstance(agent, c.id))?.state === "running",
      { timeoutMs: 10_000, intervalMs: 50 },
    );
    await h.fault(agent, "containers", c.id, "crash");
    const decisions = await waitFor(
      `the second restart decision for ${c.id}`,
      async () => {
        await h.get(name);
        const found = h.events(name, "restarted", c.id);
        return found.length >= 2 ? found.map(restartDecision) : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 50 },
    );
    expect(decisions.length).toBe(2);
    expect(decisions[1].ceilingMs, "the second restart is step 1 of the back-off").toBe(initialDelayMs * 2);
    expect(decisions[1].delayMs).toBeGreaterThanOrEqual(initialDelayMs);
    expect(decisions[1].delayMs).toBeLessThanOrEqual(initialDelayMs * 2);
    const second = await h.container(name, c.id);
    expect(second.restartCount).toBe(2);
    expect(second.state).toBe("restarting");

    // Bring the killed replica back and clean up.
    h.cluster.restart(old.leaderId);
    await h.cluster.waitForLeader({ among: h.cluster.ids() });
    await h.deleteAndWait(name);
  });
});
