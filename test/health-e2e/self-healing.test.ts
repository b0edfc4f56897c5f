import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Strategy } from "../../src/gen/orchestrator/v1/types.js";
import { waitFor } from "../cluster/harness.js";
import { HealthCluster, restartDecision, sampleValue, type ContainerView } from "./harness.js";

/**
 * Self-healing with three real replicas and three real agents (two nodes per region): crashed
 * containers restarted with a growing back-off, unhealthy ones restarted after their failure
 * threshold, a node's probe breaker opening and closing around a short outage, a dead node's
 * containers replaced elsewhere, and a deployment that misses its progress deadline counted as
 * a failed operation.
 */

let h: HealthCluster;

beforeAll(async () => {
  h = await HealthCluster.start("health-self-healing", 2);
}, 90_000);

afterEach(async (context) => {
  if (h === undefined) return;
  if (context.task.result?.state === "fail") await h.dumpLogs();
}, 90_000);

afterAll(async () => {
  await h?.close();
}, 90_000);

/** Restarts never reset in these tests: a stable minute would start the back-off over. */
const noReset = 600_000;

describe("restarts", () => {
  it("restarts a crashed container with growing delays: about initial, x2, x4, each within its equal-jitter bounds", async () => {
    const name = "crashy";
    const initialDelayMs = 400;
    await h.deploy({
      name,
      replicas: 1,
      healthCheck: { periodMs: 300, timeoutMs: 250, failureThreshold: 3, successThreshold: 1 },
      restartPolicy: { initialDelayMs, factor: 2, maxDelayMs: 20_000, resetAfterMs: noReset },
    });
    const [first] = await h.waitHealthy(name, 1);
    const agent = await h.agentAddressOf(first.node);
    const leader = await h.leaderId(true);
    const crashedRestarts = async (): Promise<number> =>
      sampleValue(await h.metrics(leader), "orchestrator_container_restarts_total", { reason: "crashed" }) ?? 0;
    const restartsBefore = await crashedRestarts();
    const crashToRunningMs: number[] = [];
    for (let crash = 1; crash <= 3; crash++) {
      // Crash only a container that runs, as the cluster and its agent see it.
      await waitFor(
        `${first.id} running before crash ${crash}`,
        async () => {
          const [c, local] = await Promise.all([h.container(name, first.id), h.agentInstance(agent, first.id)]);
          return c.state === "running" && c.restartCount === crash - 1 && local?.state === "running";
        },
        { timeoutMs: 20_000, intervalMs: 50 },
      );
      const crashedAtMs = Date.now();
      await h.fault(agent, "containers", first.id, "crash");
      const restarted = await waitFor(
        `${first.id} restarted ${crash} time(s) and running again`,
        async () => {
          const c = await h.container(name, first.id);
          return c.restartCount === crash && c.state === "running" ? c : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 50 },
      );
      crashToRunningMs.push(Date.now() - crashedAtMs);
      expect(restarted.node, "restarted in place").toBe(first.node);
    }
    await h.get(name);
    const decisions = h.events(name, "restarted", first.id).map(restartDecision);
    const summary = JSON.stringify(decisions.map((d) => [d.delayMs, d.ceilingMs]));
    expect(decisions.length, summary).toBe(3);
    // Ceilings double from the initial delay: steps 0, 1, 2 of the back-off.
    expect(
      decisions.map((d) => d.ceilingMs),
      summary,
    ).toEqual([initialDelayMs, initialDelayMs * 2, initialDelayMs * 4]);
    for (const d of decisions) {
      // Equal jitter: the delay lies in [ceiling / 2, ceiling].
      expect(d.delayMs, summary).toBeGreaterThanOrEqual(d.ceilingMs / 2);
      expect(d.delayMs, summary).toBeLessThanOrEqual(d.ceilingMs);
      expect(d.capMs).toBe(20_000);
    }
    // The delays grow: never shorter than the one before, the third longer than the first.
    expect(decisions[1].delayMs, summary).toBeGreaterThanOrEqual(decisions[0].delayMs);
    expect(decisions[2].delayMs, summary).toBeGreaterThanOrEqual(decisions[1].delayMs);
    expect(decisions[2].delayMs, summary).toBeGreaterThan(decisions[0].delayMs);
    // Each restart waited out its delay: from the crash to running again took at least that long.
    for (let i = 0; i < 3; i++)
      expect(
        crashToRunningMs[i],
        `crash ${i + 1}: ${JSON.stringify(crashToRunningMs)} vs ${summary}`,
      ).toBeGreaterThanOrEqual(decisions[i].delayMs);
    // Every crash was recorded, and each came before its restart decision.
    const failures = h.events(name, "container-failed", first.id);
    expect(failures.length).toBe(3);
    for (let i = 0; i < 3; i++) expect(failures[i].revision).toBeLessThan(decisions[i].event.revision);
    // The leader counted exactly those three restarts.
    expect((await crashedRestarts()) - restartsBefore).toBe(3);
    await h.deleteAndWait(name);
  });

  it("restarts an unhealthy container after its failure threshold of probes at its period, not before, and it is healthy again afterwards", async () => {
    const name = "sickly";
    const periodMs = 500;
    const failureThreshold = 4;
    await h.deploy({
      name,
      replicas: 1,
      healthCheck: { periodMs, timeoutMs: 300, failureThreshold, successThreshold: 1 },
      restartPolicy: { initialDelayMs: 200, factor: 2, maxDelayMs: 10_000, resetAfterMs: noReset },
    });
    const [c] = await h.waitHealthy(name, 1);
    const agent = await h.agentAddressOf(c.node);
    const answered500 = async (): Promise<number> =>
      sampleValue(await h.agentMetrics(agent), "orchestrator_agent_health_requests_total", { code: "500" }) ?? 0;
    const base500 = await answered500();
    const leader = await h.leaderId(true);
    const unhealthyRestarts = async (): Promise<number> =>
      sampleValue(await h.metrics(leader), "orchestrator_container_restarts_total", { reason: "unhealthy" }) ?? 0;
    const restartsBefore = await unhealthyRestarts();
    // When the agent's count of 500 answers went up, as the poll saw it.
    const seen500: { atMs: number; count: number }[] = [];
    const faultAtMs = Date.now();
    await h.containerFault(c, "unhealthy");
    const restart = await waitFor(
      `a restart of ${c.id} after its failed probes`,
      async () => {
        // The deployment first, then the agent's count: once the restart shows, the count read
        // after it includes every probe that led to it.
        await h.get(name);
        const found = h.events(name, "restarted", c.id)[0];
        const count = (await answered500()) - base500;
        if (count > (seen500.at(-1)?.count ?? 0)) seen500.push({ atMs: Date.now(), count });
        return found;
      },
      { timeoutMs: 30_000, intervalMs: 40 },
    );
    const verdict = h.events(name, "container-unhealthy", c.id)[0];
    expect(verdict, "an unhealthy verdict before the restart").toBeDefined();
    expect(verdict.message).toMatch(new RegExp(`${failureThreshold} consecutive failed probe`));
    expect(verdict.revision).toBeLessThanOrEqual(restart.revision);
    expect(restart.message).toMatch(/failed its health check/);
    // Not before threshold x period: the first failing probe is sent at the earliest right after
    // the fault, the threshold-th one (threshold - 1) periods later.
    const elapsedMs = restart.atMs - faultAtMs;
    const timeline = JSON.stringify(seen500.map((s) => [s.atMs - faultAtMs, s.count]));
    expect(elapsedMs, timeline).toBeGreaterThanOrEqual((failureThreshold - 1) * periodMs);
    expect(elapsedMs, timeline).toBeLessThan((failureThreshold + 1) * periodMs + 3_000);
    // The agent answered the probes with 500 at the probe period, threshold times before the restart.
    const total500 = (await answered500()) - base500;
    expect(total500, timeline).toBeGreaterThanOrEqual(failureThreshold);
    expect(total500, timeline).toBeLessThanOrEqual(failureThreshold + 2);
    const firstAt = seen500.find((s) => s.count >= 1)?.atMs;
    const thresholdAt = seen500.find((s) => s.count >= failureThreshold)?.atMs;
    expect(firstAt, timeline).toBeDefined();
    expect(thresholdAt, timeline).toBeDefined();
    // The poll runs every 40 ms (plus its own round trips): allow for it on both ends.
    expect((thresholdAt ?? 0) - (firstAt ?? 0), timeline).toBeGreaterThanOrEqual(
      (failureThreshold - 1) * periodMs - 250,
    );
    expect((thresholdAt ?? 0) - (firstAt ?? 0), timeline).toBeLessThan((failureThreshold - 1) * periodMs * 2.5);
    // After the restart a fresh instance (faults cleared) runs, healthy, in place; one restart only.
    const healed = await waitFor(
      `${c.id} healthy again after its restart`,
      async () => {
        const now = await h.container(name, c.id);
        return now.restartCount >= 1 && now.state === "running" && now.health === "healthy" ? now : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    );
    expect(healed.restartCount).toBe(1);
    expect(healed.node).toBe(c.node);
    expect((await unhealthyRestarts()) - restartsBefore, "restarts counted by the leader").toBe(1);
    expect(await h.healthStatus(healed)).toBe(200);
    // The probes went out from the leader's probe thread (worker-prober.ts), not its fallback.
    expect(await h.cluster.log(leader)).not.toMatch(/the probe thread failed/);
    // It stays healthy: no further restart over a few probe periods.
    const stableUntil = Date.now() + 4 * periodMs;
    while (Date.now() < stableUntil) {
      const now = await h.container(name, c.id);
      expect(now.restartCount).toBe(1);
      expect(now.health).not.toBe("unhealthy");
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await h.deleteAndWait(name);
  });
});

describe("image faults", () => {
  it("orchctl fault image reaches every agent: the image's instances turn unhealthy, then crash and are restarted, and heal when cleared; other images are untouched", async () => {
    await h.deploy({
      name: "imgbad",
      image: "imgbad:1",
      replicas: 2,
      healthCheck: { periodMs: 300, timeoutMs: 250, failureThreshold: 100, successThreshold: 1 },
      restartPolicy: { initialDelayMs: 200, factor: 2, maxDelayMs: 1_000, resetAfterMs: noReset },
    });
    await h.deploy({ name: "imggood", image: "imggood:1", replicas: 1 });
    const bad = await h.waitHealthy("imgbad", 2);
    const [good] = await h.waitHealthy("imggood", 1);
    const fault = (action: string, seconds = 0) =>
      h.call("injectFault", { target: "image", id: "imgbad:1", action, seconds });

    const unhealthy = await fault("unhealthy");
    expect(unhealthy.message).toMatch(/unhealthy set for image imgbad:1 on 3 of 3 agents/);
    for (const c of bad) expect(await h.healthStatus(c)).toBe(500);
    expect(await h.healthStatus(good)).toBe(200);

    await fault("crash");
    await waitFor(
      "both imgbad containers restarted after the image crash",
      async () => (await h.get("imgbad")).containers.every((c) => c.restartCount >= 1),
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    await fault("healthy");
    const healed = await h.waitHealthy("imgbad", 2, 60_000);
    for (const c of healed) expect(await h.healthStatus(c)).toBe(200);
    expect((await h.container("imggood", good.id)).restartCount).toBe(0);

    await expect(fault("slow-start")).rejects.toThrow(/slow-start needs --seconds/);
    await expect(fault("explode")).rejects.toThrow(
      /is not an image fault; allowed: crash, unhealthy, slow-start, healthy/,
    );
    await h.deleteAndWait("imgbad");
    await h.deleteAndWait("imggood");
  });
});

describe("nodes", () => {
  it("a node that stops answering opens its probe breaker: its containers go unknown, not unhealthy, nothing restarts; after revive the breaker closes", async () => {
    const name = "probed";
    // Three replicas on one node (binpack in one region), probed fast; a failure threshold far
    // above the breaker's five consecutive failures, so only the breaker can speak first.
    await h.deploy({
      name,
      replicas: 3,
      regions: ["eu-west-1"],
      strategy: Strategy.STRATEGY_BINPACK,
      healthCheck: { periodMs: 200, timeoutMs: 150, failureThreshold: 30, successThreshold: 1 },
      restartPolicy: { initialDelayMs: 200, factor: 2, maxDelayMs: 10_000, resetAfterMs: noReset },
    });
    const containers = await h.waitHealthy(name, 3);
    const node = containers[0].node;
    expect(
      containers.every((c) => c.node === node),
      `all on ${node}: ${containers.map((c) => `${c.id}@${c.node}`).join(", ")}`,
    ).toBe(true);
    // And one more on the same node (binpack: the fullest node that fits) that is not probed yet,
    // its initial delay long: running, its health unknown (agents report what runs, only probes say
    // healthy). It must stay unknown, never unhealthy, while the node is silent.
    const late = "late-probed";
    await h.deploy({
      name: late,
      replicas: 1,
      regions: ["eu-west-1"],
      strategy: Strategy.STRATEGY_BINPACK,
      healthCheck: {
        periodMs: 200,
        timeoutMs: 150,
        failureThreshold: 30,
        successThreshold: 1,
        initialDelayMs: 120_000,
      },
    });
    const lateContainer = await waitFor(
      `${late} running`,
      async () => {
        const c = (await h.get(late)).containers[0];
        return c?.state === "running" ? c : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    expect(lateContainer.health, "no verdict before its first probe").toBe("unknown");
    expect(lateContainer.node, `${late} on ${node}`).toBe(node);
    const leader = await h.leaderId(true);
    const nodeCount = (await h.nodes()).length;
    const breaker = async (): Promise<{ open: number; closed: number; halfOpen: number; restarts: number }> => {
      const samples = await h.metrics(leader);
      return {
        open: sampleValue(samples, "orchestrator_health_breaker_state", { state: "open" }) ?? Number.NaN,
        closed: sampleValue(samples, "orchestrator_health_breaker_state", { state: "closed" }) ?? Number.NaN,
        halfOpen: sampleValue(samples, "orchestrator_health_breaker_state", { state: "half-open" }) ?? Number.NaN,
        restarts: sampleValue(samples, "orchestrator_container_restarts_total") ?? 0,
      };
    };
    await waitFor(
      "every breaker closed before the outage",
      async () => {
        const b = await breaker();
        return b.open === 0 && b.halfOpen === 0 && b.closed === nodeCount;
      },
      { timeoutMs: 10_000, intervalMs: 100 },
    );
    const restartsBefore = (await breaker()).restarts;

    // The node goes silent: its containers' endpoints reset connections. Revive it well within
    // the heartbeat TTL (3 s), so this is an outage of the probes, not a node declared down.
    const killedAtMs = Date.now();
    await h.nodeFault(node, "kill");
    let revivedAtMs: number;
    try {
      let sawOpen = false;
      let sawUnhealthy = "";
      let last = "";
      await waitFor(
        `the breaker of ${node} to open and its containers' health to be unknown`,
        async () => {
          const [b, view, lateView] = await Promise.all([breaker(), h.get(name), h.get(late)]);
          if (b.open >= 1) sawOpen = true;
          const all = [...view.containers, ...lateView.containers];
          for (const c of all)
            if (c.health === "unhealthy" || c.state === "unhealthy") sawUnhealthy = `${c.id} ${c.state}/${c.health}`;
          last = `${Date.now() - killedAtMs} ms after the kill: breaker ${JSON.stringify(b)}, containers ${all.map((c) => `${c.id} ${c.state}/${c.health}`).join(", ")}`;
          return sawOpen && all.every((c) => c.health === "unknown" && c.state === "running");
        },
        { timeoutMs: 2_000, intervalMs: 50 },
      ).catch((error: unknown) => {
        throw new Error(`${String(error)}; saw open: ${sawOpen}; last: ${last}`);
      });
      expect(sawUnhealthy, "no container found unhealthy").toBe("");
    } finally {
      await h.nodeFault(node, "revive");
      revivedAtMs = Date.now();
    }
    expect(revivedAtMs - killedAtMs, "revived within the heartbeat TTL").toBeLessThan(3_000);

    // The breaker lets a trial probe through after its cool-down, the node answers, it closes;
    // the containers are probed again and healthy, in place, never restarted.
    await waitFor(
      "the breaker to close again",
      async () => {
        const b = await breaker();
        return b.open === 0 && b.halfOpen === 0 && b.closed === nodeCount;
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    );
    const healed = await h.waitHealthy(name, 3, 20_000);
    for (const c of healed) {
      expect(c.node).toBe(node);
      expect(c.restartCount, c.id).toBe(0);
      expect(containers.map((x) => x.id)).toContain(c.id);
    }
    const lateHealed = await h.waitHealthy(late, 1, 20_000);
    expect(lateHealed[0]).toMatchObject({ id: lateContainer.id, node, restartCount: 0 });
    expect((await h.node(node)).status).toBe("ready");
    expect(h.events(name, "restarted")).toEqual([]);
    expect(h.events(name, "container-unhealthy")).toEqual([]);
    expect(h.events(name, "container-health-unknown").length).toBe(3);
    // Never judged healthy, it had no verdict to lose: still unknown, and no event says otherwise.
    expect(h.events(late, "container-health-unknown").length).toBe(0);
    expect(h.events(late, "container-unhealthy")).toEqual([]);
    expect((await breaker()).restarts - restartsBefore, "no restart decided").toBe(0);
    await h.deleteAndWait(late);
    await h.deleteAndWait(name);
  });

  it("a killed node's containers run elsewhere within TTL plus scheduling, the node shows down, and after revive it is ready, its agent stops what moved away, and new work on it is probed healthy", async () => {
    const name = "movers";
    // Fast probes, so the dead node's breaker opens before the node is declared down; a failure
    // threshold the outage never reaches, so nothing is restarted on a dead node.
    await h.deploy({
      name,
      replicas: 3,
      strategy: Strategy.STRATEGY_SPREAD,
      healthCheck: { periodMs: 200, timeoutMs: 150, failureThreshold: 50, successThreshold: 1 },
    });
    const before = await h.waitHealthy(name, 3);
    const victim = before[0];
    const node = victim.node;
    const region = victim.region;
    const agent = await h.agentAddressOf(node);
    expect(await h.agentInstance(agent, victim.id)).toMatchObject({ nodeId: node, state: "running" });
    const leader = await h.leaderId(true);
    const breakerOpen = async (): Promise<number> =>
      sampleValue(await h.metrics(leader), "orchestrator_health_breaker_state", { state: "open" }) ?? Number.NaN;

    const killedAtMs = Date.now();
    await h.nodeFault(node, "kill");
    let replaced: ContainerView[];
    try {
      let sawOpen = false;
      const downAtMs = await waitFor(
        `node ${node} declared down`,
        async () => {
          if ((await breakerOpen()) >= 1) sawOpen = true;
          return (await h.node(node)).status === "down" ? Date.now() : undefined;
        },
        { timeoutMs: 20_000, intervalMs: 100 },
      );
      expect(sawOpen, "the dead node's probe breaker opened before the node was declared down").toBe(true);
      // The last heartbeat came at most one interval (500 ms) before the kill: not before TTL - 500 ms.
      expect(downAtMs - killedAtMs).toBeGreaterThanOrEqual(2_500);
      replaced = await waitFor(
        `a replacement of ${victim.id} running on another node`,
        async () => {
          const live = (await h.get(name)).containers.filter((c) => c.desired === "running");
          return live.length === 3 && live.every((c) => c.state === "running" && c.node !== node) ? live : undefined;
        },
        { timeoutMs: 20_000, intervalMs: 100 },
      );
      // TTL (3 s) plus the liveness check, the scheduler and the start delay: generously bounded.
      expect(Date.now() - killedAtMs).toBeLessThan(15_000);
      const { containers } = await h.get(name);
      const lost = containers.find((c) => c.id === victim.id);
      if (lost !== undefined) expect(lost.state).toBe("lost");
      expect(replaced.map((c) => c.id)).not.toContain(victim.id);
      // The other two never moved, and nothing was restarted.
      for (const c of before.slice(1)) expect(replaced.find((r) => r.id === c.id)?.node).toBe(c.node);
      expect(replaced.every((c) => c.restartCount === 0)).toBe(true);
      expect(h.events(name, "restarted")).toEqual([]);
      const rescheduled = h.events(name, "rescheduled");
      expect(
        rescheduled.some((e) => e.message.includes(victim.id) && e.node === node),
        JSON.stringify(rescheduled),
      ).toBe(true);
      // The dead node's agent could not hear any of it: it still holds the old instance.
      expect(await h.agentInstance(agent, victim.id)).toMatchObject({ nodeId: node });
    } finally {
      await h.nodeFault(node, "revive");
    }
    await waitFor(`node ${node} ready again`, async () => (await h.node(node)).status === "ready", {
      timeoutMs: 20_000,
      intervalMs: 100,
    });
    await waitFor(
      `the agent of ${node} to stop ${victim.id}, which moved away`,
      async () => (await h.agentInstance(agent, victim.id)) === undefined,
      {
        timeoutMs: 20_000,
        intervalMs: 100,
      },
    );
    // The replacements keep running where they are.
    const after = await h.waitHealthy(name, 3, 20_000);
    expect(after.map((c) => [c.id, c.node]).sort()).toEqual(replaced.map((c) => [c.id, c.node]).sort());

    // New work on the revived node (one replica per node of its region, so one lands there) is
    // probed again once its initial delay is over, and becomes healthy: the node's breaker,
    // opened during the outage, lets its trial through and closes.
    // Wait out the breaker's cool-down first (no breaker reads open): the first probe that asks is
    // then let through as the trial, and it must really go out.
    await waitFor("no breaker open", async () => (await breakerOpen()) === 0, { timeoutMs: 40_000, intervalMs: 100 });
    const newcomers = "newcomers";
    const regionNodes = (await h.nodes()).filter((n) => n.region === region).length;
    await h.deploy({
      name: newcomers,
      replicas: regionNodes,
      regions: [region],
      onePerNode: true,
      healthCheck: { periodMs: 200, timeoutMs: 150, failureThreshold: 3, successThreshold: 1, initialDelayMs: 500 },
    });
    const placed = await h.waitHealthy(newcomers, regionNodes, 20_000);
    expect(
      placed.some((c) => c.node === node),
      `one of ${newcomers} on ${node}`,
    ).toBe(true);
    const nodeCount = (await h.nodes()).length;
    let gauge = "";
    await waitFor(
      "every breaker closed",
      async () => {
        const samples = (await h.metrics(leader)).filter((x) => x.name === "orchestrator_health_breaker_state");
        gauge = JSON.stringify(samples.map((x) => [x.labels.state, x.value]));
        return sampleValue(samples, "orchestrator_health_breaker_state", { state: "closed" }) === nodeCount;
      },
      { timeoutMs: 10_000, intervalMs: 100 },
    ).catch((error: unknown) => {
      throw new Error(`${String(error)}; last gauge ${gauge}; ${JSON.stringify(placed)}`);
    });
    await h.deleteAndWait(newcomers);
    await h.deleteAndWait(name);
  });
});

describe("success ratio", () => {
  it("counts a deployment that misses its progress deadline as a failed operation", async () => {
    const name = "doomed";
    const before = await h.slo();
    const failedBefore = before.windows.find((w) => w.name === "5m")?.failed ?? 0;
    // Two nodes in the region, one replica per node, three replicas: one stays pending.
    const progressDeadlineMs = 3_000;
    await h.deploy({
      name,
      replicas: 3,
      regions: ["ap-southeast-1"],
      onePerNode: true,
      progressDeadlineMs,
      healthCheck: { periodMs: 300, timeoutMs: 200 },
    });
    const failed = await waitFor(
      `${name}'s deploy operation to fail at its deadline`,
      async () => {
        await h.get(name);
        return h.events(name, "operation-failed")[0];
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    );
    expect(failed.message).toMatch(/deploy operation .* failed/);
    expect(failed.message).toMatch(/only [0-2]\/3 replicas healthy at the progress deadline/);
    const { deployment, containers } = await h.get(name);
    expect(containers.filter((c) => c.state === "pending").length).toBe(1);
    const outcome = deployment.lastOutcome;
    expect(outcome?.succeeded).toBe(false);
    expect(outcome?.kind).toBe("deploy");
    const tookMs = (outcome?.finishedAtMs ?? 0) - (outcome?.startedAtMs ?? 0);
    expect(tookMs).toBeGreaterThanOrEqual(progressDeadlineMs);
    expect(tookMs).toBeLessThan(progressDeadlineMs + 5_000);

    const slo = await h.slo();
    const window5m = slo.windows.find((w) => w.name === "5m");
    expect(window5m?.failed ?? 0).toBeGreaterThanOrEqual(failedBefore + 1);
    expect(window5m?.successRatio ?? 1).toBeLessThan(1);
    expect(slo.recentOutcomes.find((o) => o.deployment === name)?.lastOutcome?.succeeded).toBe(false);

    const cli = await h.sc.ctlRaw(["slo"]);
    expect(cli.code, cli.stderr).toBe(0);
    const json = JSON.parse(cli.stdout) as { windows: { window: string; failed: number; successRatio: number }[] };
    const cli5m = json.windows.find((w) => w.window === "5m");
    expect(Number(cli5m?.failed)).toBeGreaterThanOrEqual(1);
    expect(cli5m?.successRatio).toBeLessThan(1);

    const ratio = sampleValue(await h.metrics(await h.leaderId()), "orchestrator_deployment_success_ratio", {
      window: "5m",
    });
    expect(ratio).toBeDefined();
    expect(ratio ?? 1).toBeLessThan(1);
    await h.deleteAndWait(name);
  });
});
