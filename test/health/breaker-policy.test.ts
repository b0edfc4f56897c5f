/**
 * The per-node breaker: it opens when a node's probes fail together, lets one trial through
 * after the cool-down, closes on its success and re-opens with a growing cool-down on failure.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BugIndicatingError } from "../../src/lib/assert.js";
import { BreakerPolicy, breakerDefaults, type BreakerConfig } from "../../src/health/core/breaker-policy.js";

const config: BreakerConfig = {
  consecutiveFailuresToOpen: 5,
  failureRatioToOpen: 0.5,
  windowMs: 10_000,
  windowResultsMin: 10,
  coolDownMs: 2_000,
  coolDownFactor: 2,
  coolDownMsMax: 30_000,
};

/** Opens node n1's breaker at time 0..4 with consecutive failures. */
function opened(cfg: BreakerConfig = config): BreakerPolicy {
  const policy = new BreakerPolicy(cfg);
  for (let i = 0; i < cfg.consecutiveFailuresToOpen; i++) policy.onResult("n1", false, i);
  expect(policy.state("n1", cfg.consecutiveFailuresToOpen)).toBe("open");
  return policy;
}

describe("closed -> open", () => {
  it("opens on N consecutive failures across the node's containers, not before", () => {
    const policy = new BreakerPolicy(config);
    for (let i = 0; i < 4; i++) expect(policy.onResult("n1", false, i * 10)).toBeNull();
    expect(policy.state("n1", 40)).toBe("closed");
    const t = policy.onResult("n1", false, 50);
    expect(t).toMatchObject({ nodeId: "n1", from: "closed", to: "open" });
    expect(t?.reason).toContain("5 consecutive failed probes");
    expect(policy.allowProbe("n1", 60)).toBe(false);
  });

  it("keeps nodes apart: another node's failures do not count", () => {
    const policy = new BreakerPolicy(config);
    for (let i = 0; i < 4; i++) policy.onResult("n1", false, i);
    for (let i = 0; i < 4; i++) policy.onResult("n2", false, i);
    expect(policy.state("n1", 10)).toBe("closed");
    expect(policy.state("n2", 10)).toBe("closed");
    expect(policy.state("n3", 10)).toBe("closed");
  });

  it("is reset by any success: failures must be consecutive", () => {
    const policy = new BreakerPolicy({ ...config, windowResultsMin: 1_000 });
    for (let round = 0; round < 10; round++) {
      for (let i = 0; i < 4; i++) policy.onResult("n1", false, round * 10 + i);
      policy.onResult("n1", true, round * 10 + 5);
    }
    expect(policy.state("n1", 200)).toBe("closed");
  });

  it("opens on a failure ratio over the window once the minimum count is reached", () => {
    const policy = new BreakerPolicy({ ...config, consecutiveFailuresToOpen: 100 });
    // fail, fail, ok, ... : two thirds fail, never five in a row.
    const pattern = [false, false, true];
    let transition = null;
    let results = 0;
    while (transition === null) {
      transition = policy.onResult("n1", pattern[results % 3], results * 100);
      results += 1;
      if (results < config.windowResultsMin) expect(transition).toBeNull();
    }
    expect(results).toBe(config.windowResultsMin);
    expect(transition.reason).toMatch(/of 10 probes failed/);
  });

  it("forgets failures that fell out of the window", () => {
    const policy = new BreakerPolicy({ ...config, consecutiveFailuresToOpen: 100 });
    // Nine failures, then, long after, successes: had the failures stayed in the window, the
    // tenth result would make 9 of 10 failed and open the breaker.
    for (let i = 0; i < 9; i++) policy.onResult("n1", false, i);
    for (let i = 0; i < 20; i++) expect(policy.onResult("n1", true, 20_000 + i)).toBeNull();
    expect(policy.state("n1", 30_000)).toBe("closed");
  });

  it("does not open on a high ratio below the minimum count", () => {
    const policy = new BreakerPolicy({ ...config, consecutiveFailuresToOpen: 100, windowResultsMin: 20 });
    for (let i = 0; i < 19; i++) policy.onResult("n1", i % 4 !== 0, i);
    expect(policy.state("n1", 19)).toBe("closed");
  });
});

describe("open -> half-open -> closed | open", () => {
  it("stays open through the cool-down, then lets exactly one trial through", () => {
    const policy = opened();
    // Opened at time 4 with a 2 s cool-down.
    expect(policy.allowProbe("n1", 2_003)).toBe(false);
    expect(policy.state("n1", 2_003)).toBe("open");
    expect(policy.state("n1", 2_004)).toBe("half-open");
    expect(policy.allowProbe("n1", 2_004)).toBe(true);
    expect(policy.allowProbe("n1", 2_005)).toBe(false);
    expect(policy.state("n1", 2_005)).toBe("half-open");
  });

  it("closes when the trial succeeds, with the cool-down back at its start", () => {
    const policy = opened();
    policy.allowProbe("n1", 2_004);
    expect(policy.onResult("n1", true, 2_100)).toMatchObject({ from: "half-open", to: "closed" });
    expect(policy.allowProbe("n1", 2_101)).toBe(true);
    expect(policy.coolDownMs("n1")).toBe(config.coolDownMs);
  });

  it("re-opens when the trial fails, the cool-down doubling up to its cap", () => {
    const policy = opened();
    let now = 4;
    const coolDowns: number[] = [];
    for (let i = 0; i < 7; i++) {
      const coolDown = policy.coolDownMs("n1");
      coolDowns.push(coolDown);
      expect(policy.allowProbe("n1", now + coolDown - 1)).toBe(false);
      now += coolDown;
      expect(policy.allowProbe("n1", now)).toBe(true);
      expect(policy.onResult("n1", false, now)).toMatchObject({
        from: "half-open",
        to: "open",
        reason: "trial probe failed",
      });
    }
    expect(coolDowns).toEqual([2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]);
  });

  it("ignores results of probes sent before it opened", () => {
    const policy = opened();
    expect(policy.onResult("n1", true, 100)).toBeNull();
    expect(policy.state("n1", 100)).toBe("open");
    // Cool-down over but no trial let through yet: a late answer still decides nothing.
    expect(policy.onResult("n1", true, 3_000)).toBeNull();
    expect(policy.state("n1", 3_000)).toBe("half-open");
    expect(policy.allowProbe("n1", 3_000)).toBe(true);
  });

  it("never lets a probe through while open, and at most one per half-open episode (random schedules)", () => {
    type Op = { kind: "result"; ok: boolean; dtMs: number } | { kind: "allow"; dtMs: number };
    const opArb: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant("result" as const), ok: fc.boolean(), dtMs: fc.integer({ min: 0, max: 3_000 }) }),
      fc.record({ kind: fc.constant("allow" as const), dtMs: fc.integer({ min: 0, max: 3_000 }) }),
    );
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 200 }), (ops) => {
        const policy = new BreakerPolicy(config);
        let now = 0;
        let trialsThisEpisode = 0;
        for (const op of ops) {
          now += op.dtMs;
          const before = policy.state("n1", now);
          if (op.kind === "allow") {
            const allowed = policy.allowProbe("n1", now);
            if (before === "open") expect(allowed).toBe(false);
            if (before === "closed") expect(allowed).toBe(true);
            if (before === "half-open" && allowed) trialsThisEpisode += 1;
            expect(trialsThisEpisode).toBeLessThanOrEqual(1);
          } else {
            const t = policy.onResult("n1", op.ok, now);
            if (t !== null && t.from === "half-open") trialsThisEpisode = 0;
            if (t !== null && t.to === "closed") expect(op.ok).toBe(true);
          }
          expect(policy.coolDownMs("n1")).toBeGreaterThanOrEqual(config.coolDownMs);
          expect(policy.coolDownMs("n1")).toBeLessThanOrEqual(config.coolDownMsMax);
        }
      }),
    );
  });
});

describe("breaker bookkeeping", () => {
  it("forgets a node that left", () => {
    const policy = opened();
    policy.forget("n1");
    expect(policy.state("n1", 5)).toBe("closed");
    expect(policy.size).toBe(0);
  });

  it("asserts when time goes back or the configuration is impossible", () => {
    const policy = new BreakerPolicy(config);
    policy.onResult("n1", true, 1_000);
    expect(() => policy.onResult("n1", true, 999)).toThrow(BugIndicatingError);
    expect(() => new BreakerPolicy({ ...config, coolDownMsMax: 1_000 })).toThrow(BugIndicatingError);
    expect(() => new BreakerPolicy({ ...config, failureRatioToOpen: 0 })).toThrow(BugIndicatingError);
  });

  it("has valid defaults", () => {
    expect(new BreakerPolicy(breakerDefaults).state("n", 0)).toBe("closed");
  });
});
