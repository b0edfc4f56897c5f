import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../cluster/harness.js";
import { RolloutCluster, type RolloutView } from "./harness.js";

/**
 * Rolling updates on real processes: the leader SIGKILLed in the middle of one, and a version
 * whose image never turns healthy, which reverts by itself. The tests share one cluster and one
 * deployment (v1 -> v2 -> v3 bad -> v4 = v1's... spec of v2), in order.
 */

let rc: RolloutCluster;

beforeAll(async () => {
  rc = await RolloutCluster.start("rollout-e2e");
}, 120_000);

afterEach(async (context) => {
  if (rc === undefined) return;
  if (context.task.result?.state === "fail") await rc.h.dumpLogs(120);
}, 90_000);

afterAll(async () => {
  await rc?.close();
}, 90_000);

const name = "web";
const replicas = 6;
const maxParallel = 2;
/** max_surge 0: every step stops old replicas first, so the floor replicas - max_parallel is reached. */
const update = {
  maxParallel,
  maxSurge: 0,
  minHealthyTimeMs: 1_000,
  healthyDeadlineMs: 10_000,
  progressDeadlineMs: 120_000,
  canary: 0,
};

function rolloutOf(view: RolloutView) {
  const rollout = view.deployment.rollout;
  if (rollout === undefined) throw new Error(`${name} has no rollout`);
  return rollout;
}

describe("rolling updates on real processes", () => {
  it("rolls 6 replicas v1 -> v2, 2 at a time, through a leader SIGKILL: once, never below replicas - max_parallel healthy", async () => {
    await rc.deploy({ name, image: "web:1", replicas, update });
    await rc.h.waitHealthy(name, replicas, 60_000);
    // v1 rolled out once its deploy operation closed successfully: it is the version a revert goes back to.
    await waitFor(
      "v1 marked as rolled out",
      async () => (await rc.get(name)).deployment.history.find((v) => v.version === 1)?.outcome === "succeeded",
      { timeoutMs: 60_000, intervalMs: 200 },
    );

    const sampler = rc.sample(name);
    await rc.deploy({ name, image: "web:2", replicas, update });
    const old = await rc.h.cluster.waitForLeader();
    await waitFor("the first step applied", async () => rolloutOf(await rc.get(name)).stepSeq >= 1, {
      timeoutMs: 60_000,
      intervalMs: 50,
    });
    expect(await rc.h.cluster.kill(old.leaderId, "SIGKILL")).toBeNull();
    const done = await waitFor(
      "the rollout to v2 to end",
      async () => {
        const view = await rc.get(name);
        const state = rolloutOf(view).state;
        return state === "running" || state === "paused" ? undefined : view;
      },
      { timeoutMs: 120_000, intervalMs: 200 },
    );
    await sampler.stop();

    const rollout = rolloutOf(done);
    expect(rollout.state).toBe("succeeded");
    expect(rollout.toVersion).toBe(2);
    const history = done.deployment.history;
    expect(history.filter((v) => v.spec?.image === "web:2").map((v) => [v.version, v.outcome])).toEqual([
      [2, "succeeded"],
    ]);
    // Each step once: the step events number 0..stepSeq-1 with none twice, and together they
    // started exactly `replicas` containers of v2 (a step applied twice would start more).
    const steps = rc
      .events("rollout-step")
      .map((e) => /^step (\d+) of web to v2: started (\d+)/.exec(e.message))
      .filter((m): m is RegExpExecArray => m !== null);
    const seqs = steps.map((m) => Number(m[1]));
    expect(new Set(seqs).size).toBe(seqs.length);
    // At least replicas / max_parallel steps; each step starts at least one (more than `replicas` would be a repeat).
    expect(rollout.stepSeq).toBeGreaterThanOrEqual(replicas / maxParallel);
    expect(rollout.stepSeq).toBeLessThanOrEqual(replicas);
    const v2Ids = new Set(
      sampler.samples.flatMap((s) => s.view.containers.filter((c) => c.version === 2).map((c) => c.id)),
    );
    expect(v2Ids.size).toBe(replicas);
    if (seqs.length === rollout.stepSeq) {
      expect(seqs).toEqual([...Array(rollout.stepSeq).keys()]);
      expect(steps.reduce((sum, m) => sum + Number(m[2]), 0)).toBe(replicas);
    }
    const live = done.containers.filter((c) => c.desired === "running");
    expect(live.map((c) => c.version)).toEqual(Array(replicas).fill(2));
    // Healthy all along, sampled every ~100 ms from before the new version to its end.
    expect(sampler.samples.length).toBeGreaterThan(20);
    const low = Math.min(...sampler.samples.map((s) => s.healthy));
    expect(low).toBeGreaterThanOrEqual(replicas - maxParallel);
  });

  it("a version whose image is unhealthy reverts by itself, and the old replicas that stayed healthy are never stopped", async () => {
    await rc.h.waitHealthy(name, replicas, 60_000);
    const sloBefore = await rc.h.slo();
    const failedBefore = sloBefore.windows.find((w) => w.name === "5m")?.failed ?? 0;
    const before = new Map(
      (await rc.get(name)).containers.filter((c) => c.desired === "running").map((c) => [c.id, c]),
    );
    expect(before.size).toBe(replicas);

    await rc.imageFault("web:3", "unhealthy");
    const sampler = rc.sample(name);
    // The budget may be spent by earlier failures of this cluster: this test is about the revert.
    await rc.deploy({ name, image: "web:3", replicas, update: { ...update, healthyDeadlineMs: 6_000 } }, true);
    const reverted = await waitFor(
      "the revert to end",
      async () => {
        const view = await rc.get(name);
        const rollout = rolloutOf(view);
        return rollout.isRevert && rollout.state === "reverted" ? view : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 200 },
    );
    await sampler.stop();

    const history = reverted.deployment.history;
    expect(history.find((v) => v.version === 3)?.outcome).toBe("failed");
    expect(reverted.deployment.spec?.image).toBe("web:2");
    expect(reverted.deployment.version).toBe(4);
    // The old replicas the failed rollout had not stopped yet: never stopped, never restarted.
    const first = sampler.samples.find((s) => s.view.containers.some((c) => c.version === 3));
    expect(first).toBeDefined();
    const survivors = [...before.values()].filter((c) =>
      reverted.containers.some((r) => r.id === c.id && r.desired === "running"),
    );
    expect(survivors.length).toBeGreaterThanOrEqual(replicas - maxParallel);
    for (const s of sampler.samples)
      for (const survivor of survivors) {
        const seen = s.view.containers.find((c) => c.id === survivor.id);
        expect(seen?.desired).toBe("running");
        expect(seen?.state).toBe("running");
        expect(seen?.restartCount).toBe(survivor.restartCount);
      }
    const live = reverted.containers.filter((c) => c.desired === "running");
    expect(live).toHaveLength(replicas);
    expect(live.every((c) => c.version === 4 && c.state === "running" && c.health === "healthy")).toBe(true);
    expect(Math.min(...sampler.samples.map((s) => s.healthy))).toBeGreaterThanOrEqual(replicas - maxParallel);
    // The failed rollout is a failed operation in the success rate.
    const sloAfter = await rc.h.slo();
    expect(sloAfter.windows.find((w) => w.name === "5m")?.failed ?? 0).toBeGreaterThan(failedBefore);
    await rc.imageFault("web:3", "healthy");
  });
});
