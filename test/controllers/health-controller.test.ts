/**
 * The health controller on a manual clock: the real FSM without Raft (InMemoryLog), the real
 * leadership barrier, and time that moves only with advance(). Each test drives the agents'
 * side (reports, heartbeats) straight into the log and the heartbeat table, as AgentService
 * would, and checks what the controller proposed and when.
 *
 * The cadence test probes real HTTP servers on 127.0.0.1 through the real HttpProber: the probes
 * are what it is about. The others answer probes at once (AnsweringProber): there probes only
 * happen on the side, and a real round trip would add real time to every step for nothing.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { HealthController } from "../../src/health/io/health-controller.js";
import { HttpProber } from "../../src/health/io/http-prober.js";
import type { Prober } from "../../src/health/io/prober.js";
import { ContainerState, ControllerBench, healthTickMs, logger, settle, until } from "./harness.js";
import { AnsweringProber, CountingProber } from "./probers.js";

/** The liveness defaults (src/health/core/node-liveness.ts): heartbeat TTL and a new leader's grace. */
const heartbeatTtlMs = 3_000;
const failoverGraceMs = 3_000;
/** Liveness is judged every fifth tick. */
const livenessEveryMs = 5 * healthTickMs;

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

function startHealth(bench: ControllerBench, prober: Prober = new AnsweringProber()): HealthController {
  const controller = new HealthController({ ...bench.ports(), prober, seed: () => 42 }, logger, bench.registry);
  controller.start();
  stops.push(() => controller.stop());
  return controller;
}

async function counterValue(bench: ControllerBench, name: string, labels: Record<string, string>): Promise<number> {
  const metric = await bench.registry.getSingleMetric(name)?.get();
  const sample = metric?.values.find((v) => Object.entries(labels).every(([k, value]) => v.labels[k] === value));
  return sample?.value ?? 0;
}

describe("health controller on a manual clock", () => {
  it("probes each running container about once per its period, over real HTTP", async () => {
    const arrivals = new Map<string, number[]>();
    const bench = new ControllerBench();
    const server: Server = createServer((request, response) => {
      const path = request.url ?? "";
      arrivals.set(path, [...(arrivals.get(path) ?? []), bench.clock.nowMs()]);
      response.end("ok");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    stops.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const { port } = server.address() as AddressInfo;

    bench.registerNode("n1", `127.0.0.1:${port}`);
    const periods = { fast: 1_000, slow: 2_500 };
    for (const [name, periodMs] of Object.entries(periods)) {
      bench.deploy({
        name,
        replicas: 1,
        healthCheck: {
          path: "/healthz",
          periodMs,
          timeoutMs: 500,
          failureThreshold: 3,
          successThreshold: 1,
          initialDelayMs: 0,
        },
      });
      bench.place(name, [[`${name}-0`, "n1"]]);
      bench.report(`${name}-0`, "n1", ContainerState.CONTAINER_STATE_RUNNING);
    }
    const prober = new CountingProber(new HttpProber());
    const controller = startHealth(bench, prober);
    bench.elect();

    const runMs = 10_000;
    await bench.advance(runMs, healthTickMs, async () => {
      controller.heartbeats.record("n1", bench.clock.wallMs());
      // The probes of this tick are real requests: wait for their answers before time moves on.
      await until(() => prober.inFlight === 0, "the tick's probes to be answered");
      await settle(2);
    });

    for (const [name, periodMs] of Object.entries(periods)) {
      const times = arrivals.get(`/containers/${name}-0/healthz`) ?? [];
      const expected = runMs / periodMs;
      expect(times.length, `${name} probes at ${times.join(", ")}`).toBeGreaterThanOrEqual(Math.floor(expected) - 1);
      expect(times.length, `${name} probes at ${times.join(", ")}`).toBeLessThanOrEqual(Math.ceil(expected) + 1);
      // A probe goes out on the first tick at or after it is due: each gap is the period, give or take a tick.
      for (let i = 1; i < times.length; i++) {
        expect(times[i] - times[i - 1]).toBeGreaterThanOrEqual(periodMs - healthTickMs);
        expect(times[i] - times[i - 1]).toBeLessThanOrEqual(periodMs + healthTickMs);
      }
    }
    expect(await counterValue(bench, "orchestrator_health_probes_total", { result: "healthy" })).toBe(prober.sent);
    expect(bench.fsm.getContainer("fast-0")?.health).toBe("healthy");
  });

  it("probes a container the moment it reports running, not at the next tick", async () => {
    const bench = new ControllerBench();
    bench.registerNode("n1");
    bench.deploy({ name: "web", replicas: 1 });
    bench.place("web", [["web-0", "n1"]]);
    const prober = new AnsweringProber();
    const controller = startHealth(bench, prober);
    bench.elect();
    await bench.advance(2 * healthTickMs, healthTickMs, async () => {
      controller.heartbeats.record("n1", bench.clock.wallMs());
      await settle();
    });
    expect(prober.paths).toEqual([]);
    // Between two ticks: a rollout waits for this first passing probe, batch after batch.
    bench.clock.advance(healthTickMs / 2);
    const runningAtMs = bench.clock.wallMs();
    bench.report("web-0", "n1", ContainerState.CONTAINER_STATE_RUNNING);
    bench.clock.advance(0);
    await settle();
    expect(prober.paths).toEqual(["/containers/web-0/healthz"]);
    expect(bench.fsm.getContainer("web-0")).toMatchObject({ health: "healthy", healthySinceMs: runningAtMs });
    // Then once per period, as before: no second probe before it.
    await bench.advance(500, healthTickMs, async () => {
      controller.heartbeats.record("n1", bench.clock.wallMs());
      await settle();
    });
    expect(prober.paths).toHaveLength(1);
  });

  it("restarts a crashing container with not-before times that follow the policy: initial delay, doubling, cap", async () => {
    const bench = new ControllerBench();
    bench.registerNode("n1");
    const policy = { initialDelayMs: 1_000, factor: 2, maxDelayMs: 4_000, resetAfterMs: 600_000 };
    bench.deploy({ name: "crashy", replicas: 1, restartPolicy: policy });
    bench.place("crashy", [["crashy-0", "n1"]]);
    bench.report("crashy-0", "n1", ContainerState.CONTAINER_STATE_RUNNING);
    const controller = startHealth(bench);
    bench.elect();
    const heartbeat = async (): Promise<void> => {
      controller.heartbeats.record("n1", bench.clock.wallMs());
      await settle();
    };

    const ceilingsMs = [1_000, 2_000, 4_000, 4_000, 4_000];
    const stepsAfter = [1, 2, 2, 2, 2];
    for (const [i, ceilingMs] of ceilingsMs.entries()) {
      const crashedAtMs = bench.clock.wallMs();
      bench.report("crashy-0", "n1", ContainerState.CONTAINER_STATE_FAILED);
      await bench.advance(healthTickMs, healthTickMs, heartbeat);

      const restarts = bench.proposer.of("restart-container");
      expect(restarts).toHaveLength(i + 1);
      const { atMs, body, result } = restarts[i];
      const decision = body.restartContainer;
      expect(result?.ok, JSON.stringify(result)).toBe(true);
      // Decided on the first tick after the crash, at the leader's time stamped into the command.
      expect(atMs - crashedAtMs).toBeGreaterThan(0);
      expect(atMs - crashedAtMs).toBeLessThanOrEqual(healthTickMs);
      // Equal jitter: the delay lies in (ceiling / 2, ceiling].
      expect(decision.delayMs).toBeGreaterThan(ceilingMs / 2);
      expect(decision.delayMs).toBeLessThanOrEqual(ceilingMs);
      expect(decision.notBeforeMs).toBe(atMs + decision.delayMs);
      expect(decision.backoffStep).toBe(stepsAfter[i]);
      const container = bench.fsm.getContainer("crashy-0");
      expect(container?.state).toBe("restarting");
      expect(container?.nextRestartAtMs).toBe(decision.notBeforeMs);

      // Nothing more is decided while the restart waits out its delay.
      await bench.advance(decision.notBeforeMs - bench.clock.wallMs(), healthTickMs, heartbeat);
      expect(bench.proposer.of("restart-container")).toHaveLength(i + 1);
      // The agent starts it again once the not-before time has passed; it runs a while, then crashes again.
      bench.report("crashy-0", "n1", ContainerState.CONTAINER_STATE_RUNNING);
      await bench.advance(1_000, healthTickMs, heartbeat);
    }
    expect(await counterValue(bench, "orchestrator_container_restarts_total", { reason: "crashed" })).toBe(
      ceilingsMs.length,
    );
  });

  it("declares a silent node down after the heartbeat TTL, not before, and leaves a heartbeating one alone", async () => {
    const bench = new ControllerBench();
    bench.registerNode("n1");
    bench.registerNode("n2");
    const controller = startHealth(bench);
    bench.elect();
    const silentFromMs = 5_000;
    let lastBeatMs = 0;
    let downAtMs: number | null = null;
    await bench.advance(silentFromMs + heartbeatTtlMs + 2_000, healthTickMs, async () => {
      const now = bench.clock.wallMs();
      if (bench.clock.nowMs() % 500 === 0) {
        controller.heartbeats.record("n1", now);
        if (bench.clock.nowMs() <= silentFromMs) {
          controller.heartbeats.record("n2", now);
          lastBeatMs = now;
        }
      }
      await settle();
      if (downAtMs === null && bench.proposer.of("node-down").length > 0) downAtMs = now;
    });

    const downs = bench.proposer.of("node-down");
    expect(downs.map((p) => p.body.nodeDown.nodeId)).toEqual(["n2"]);
    expect(downs[0].atMs).toBeGreaterThan(lastBeatMs + heartbeatTtlMs);
    expect(downs[0].atMs).toBeLessThanOrEqual(lastBeatMs + heartbeatTtlMs + livenessEveryMs);
    expect(downAtMs).toBe(downs[0].atMs);
    expect(bench.nodeStatus("n2")).toBe("down");
    expect(bench.nodeStatus("n1")).toBe("ready");
  });

  it("gives every node a fresh grace period after a leader change, however old its last heartbeat", async () => {
    const bench = new ControllerBench();
    bench.registerNode("n1");
    bench.registerNode("n2");
    const controller = startHealth(bench);
    const beat = (id: string): void => controller.heartbeats.record(id, bench.clock.wallMs());

    // A first leadership hears both nodes, then ends: what it heard is forgotten with it.
    bench.elect();
    await bench.advance(2_000, healthTickMs, async () => {
      beat("n1");
      beat("n2");
      await settle();
    });
    bench.depose();
    expect(controller.heartbeats.size).toBe(0);

    // A minute later this replica leads again. n1's agent died meanwhile; the table holds a
    // heartbeat of n1's from long ago (an agent's last word), n2 heartbeats on.
    await bench.advance(60_000, 1_000);
    controller.heartbeats.record("n1", bench.clock.wallMs() - 60_000);
    bench.elect();
    const electedAtMs = bench.clock.wallMs();
    let downAtMs: number | null = null;
    await bench.advance(failoverGraceMs + 2_000, healthTickMs, async () => {
      beat("n2");
      await settle();
      if (downAtMs === null && bench.proposer.of("node-down").length > 0) downAtMs = bench.clock.wallMs();
    });

    const downs = bench.proposer.of("node-down");
    expect(downs.map((p) => p.body.nodeDown.nodeId)).toEqual(["n1"]);
    expect(downs[0].atMs).toBeGreaterThan(electedAtMs + failoverGraceMs);
    expect(downs[0].atMs).toBeLessThanOrEqual(electedAtMs + failoverGraceMs + livenessEveryMs);
    expect(bench.nodeStatus("n1")).toBe("down");
    expect(bench.nodeStatus("n2")).toBe("ready");
  });
});
