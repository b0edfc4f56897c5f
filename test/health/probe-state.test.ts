/**
 * The probe state machine: thresholds are exact (against a reference model), the initial delay
 * and period are respected, an unreachable node never counts against its containers, and every
 * illegal move asserts.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BugIndicatingError } from "../../src/lib/assert.js";
import { deploymentDefaults } from "../../src/fsm/limits.js";
import {
  inFlightSeq,
  nextProbeAtMs,
  probeDefaults,
  probeDue,
  startProbing,
  stepProbe,
  type ProbeConfig,
  type ProbeResult,
  type ProbeState,
  type ProbeVerdict,
  type VerdictTransition,
} from "../../src/health/core/probe-state.js";

const config: ProbeConfig = {
  periodMs: 2_000,
  timeoutMs: 1_000,
  failureThreshold: 3,
  successThreshold: 2,
  initialDelayMs: 5_000,
};

/** Sends a probe when due and answers it `latencyMs` later; returns the new state and the transition. */
function probeOnce(
  state: ProbeState,
  result: ProbeResult,
  latencyMs = 10,
): { state: ProbeState; transition: VerdictTransition | null } {
  const dueMs = nextProbeAtMs(state);
  if (dueMs === null) throw new Error("no probe due");
  const sent = stepProbe(state, { kind: "send", nowMs: dueMs }).state;
  const seq = inFlightSeq(sent);
  const step = stepProbe(sent, { kind: "result", seq, result, nowMs: dueMs + latencyMs });
  return { state: step.state, transition: step.transition };
}

/**
 * The reference: a verdict is decided by the tail of the results seen since the node was last
 * reachable. The last `successThreshold` all successes make it healthy, the last
 * `failureThreshold` all failures make it unhealthy, anything else leaves it as it was.
 */
class ReferenceModel {
  verdict: ProbeVerdict = "unknown";
  private history: boolean[] = [];
  constructor(private readonly cfg: ProbeConfig) {}

  result(ok: boolean): ProbeVerdict | null {
    this.history.push(ok);
    const tail = (n: number) => this.history.length >= n && this.history.slice(-n).every((x) => x === ok);
    const before = this.verdict;
    if (ok && tail(this.cfg.successThreshold)) this.verdict = "healthy";
    if (!ok && tail(this.cfg.failureThreshold)) this.verdict = "unhealthy";
    return this.verdict === before ? null : this.verdict;
  }

  unreachable(): ProbeVerdict | null {
    const before = this.verdict;
    this.verdict = "unknown";
    this.history = [];
    return before === "unknown" ? null : "unknown";
  }
}

describe("probe defaults", () => {
  it("match the FSM's deployment defaults, which fill unset health-check fields", () => {
    const { path: _path, ...fsmProbe } = deploymentDefaults.healthCheck;
    expect(probeDefaults).toEqual(fsmProbe);
  });

  it("are a valid configuration", () => {
    expect(startProbing(probeDefaults, 0).verdict).toBe("unknown");
  });
});

describe("probe schedule", () => {
  it("waits the initial delay after the container started before the first probe", () => {
    const state = startProbing(config, 1_000);
    expect(nextProbeAtMs(state)).toBe(6_000);
    expect(probeDue(state, 5_999)).toBe(false);
    expect(probeDue(state, 6_000)).toBe(true);
    expect(() => stepProbe(state, { kind: "send", nowMs: 5_999 })).toThrow(BugIndicatingError);
  });

  it("probes at once when there is no initial delay", () => {
    const state = startProbing({ ...config, initialDelayMs: 0 }, 1_000);
    expect(probeDue(state, 1_000)).toBe(true);
  });

  it("schedules the next probe one period after the last was sent, not after it was answered", () => {
    const sent = stepProbe(startProbing(config, 0), { kind: "send", nowMs: 5_000 }).state;
    expect(nextProbeAtMs(sent)).toBeNull();
    expect(probeDue(sent, 100_000)).toBe(false);
    const answered = stepProbe(sent, { kind: "result", seq: 1, result: "success", nowMs: 5_900 }).state;
    expect(nextProbeAtMs(answered)).toBe(7_000);
  });

  it("counts a success after the timeout as a timeout", () => {
    let state = startProbing({ ...config, failureThreshold: 1 }, 0);
    state = stepProbe(state, { kind: "send", nowMs: 5_000 }).state;
    const late = stepProbe(state, { kind: "result", seq: 1, result: "success", nowMs: 6_001 });
    expect(late.transition).toMatchObject({ from: "unknown", to: "unhealthy" });
    expect(late.transition?.reason).toContain("timeout");
  });

  it("counts a success exactly at the timeout as a success", () => {
    let state = startProbing({ ...config, successThreshold: 1 }, 0);
    state = stepProbe(state, { kind: "send", nowMs: 5_000 }).state;
    expect(stepProbe(state, { kind: "result", seq: 1, result: "success", nowMs: 6_000 }).state.verdict).toBe("healthy");
  });
});

describe("probe thresholds", () => {
  it("turns unhealthy on exactly the failureThreshold-th consecutive failure", () => {
    let state = startProbing(config, 0);
    for (const result of ["failure", "timeout"] as const) {
      const step = probeOnce(state, result);
      expect(step.transition).toBeNull();
      state = step.state;
    }
    const third = probeOnce(state, "failure");
    expect(third.transition).toMatchObject({ from: "unknown", to: "unhealthy" });
    expect(third.state.consecutiveFailures).toBe(3);
  });

  it("turns healthy on exactly the successThreshold-th consecutive success, and a success interrupts failures", () => {
    let state = startProbing(config, 0);
    state = probeOnce(state, "failure").state;
    state = probeOnce(state, "failure").state;
    state = probeOnce(state, "success").state;
    expect(state.verdict).toBe("unknown");
    expect(state.consecutiveFailures).toBe(0);
    const second = probeOnce(state, "success");
    expect(second.transition).toMatchObject({ from: "unknown", to: "healthy" });
    expect(probeOnce(second.state, "success").transition).toBeNull();
  });

  it("agrees with the reference model on any sequence of results", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 5 }),
        fc.array(
          fc.tuple(fc.constantFrom<ProbeResult>("success", "failure", "timeout"), fc.integer({ min: 0, max: 1_000 })),
          { maxLength: 60 },
        ),
        (failureThreshold, successThreshold, results) => {
          const cfg = { ...config, failureThreshold, successThreshold };
          const model = new ReferenceModel(cfg);
          let state = startProbing(cfg, 0);
          for (const [result, latencyMs] of results) {
            const step = probeOnce(state, result, latencyMs);
            const expected = model.result(result === "success");
            expect(step.transition?.to ?? null).toBe(expected);
            expect(step.state.verdict).toBe(model.verdict);
            state = step.state;
          }
        },
      ),
    );
  });
});

describe("unreachable nodes", () => {
  it("mark the container unknown, never unhealthy, however long the node stays away", () => {
    let state = startProbing(config, 0);
    state = probeOnce(state, "success").state;
    state = probeOnce(state, "success").state;
    expect(state.verdict).toBe("healthy");
    const away = stepProbe(state, { kind: "node-unreachable", nowMs: 20_000 });
    expect(away.transition).toMatchObject({ from: "healthy", to: "unknown" });
    expect(nextProbeAtMs(away.state)).toBeNull();
    expect(probeDue(away.state, 10_000_000)).toBe(false);
    expect(away.state.consecutiveFailures).toBe(0);
  });

  it("do not add to failures counted before: a full threshold is needed after the node returns", () => {
    let state = startProbing(config, 0);
    state = probeOnce(state, "failure").state;
    state = probeOnce(state, "failure").state;
    state = stepProbe(state, { kind: "node-unreachable", nowMs: 20_000 }).state;
    state = stepProbe(state, { kind: "node-reachable", nowMs: 30_000 }).state;
    expect(probeDue(state, 30_000)).toBe(true);
    state = probeOnce(state, "failure").state;
    state = probeOnce(state, "failure").state;
    expect(state.verdict).toBe("unknown");
    expect(probeOnce(state, "failure").state.verdict).toBe("unhealthy");
  });

  it("ignore the late answer of a probe abandoned when the node became unreachable", () => {
    let state = stepProbe(startProbing(config, 0), { kind: "send", nowMs: 5_000 }).state;
    state = stepProbe(state, { kind: "node-unreachable", nowMs: 5_500 }).state;
    const late = stepProbe(state, { kind: "result", seq: 1, result: "failure", nowMs: 6_000 });
    expect(late.stale).toBe(true);
    expect(late.state.consecutiveFailures).toBe(0);
    state = stepProbe(late.state, { kind: "node-reachable", nowMs: 7_000 }).state;
    // Even after the node is back, the abandoned probe's answer changes nothing.
    const later = stepProbe(state, { kind: "result", seq: 1, result: "failure", nowMs: 7_100 });
    expect(later.stale).toBe(true);
    expect(later.state.consecutiveFailures).toBe(0);
  });

  it("never count as failures in any interleaving (reference model with resets)", () => {
    type Step = { kind: "result"; result: ProbeResult } | { kind: "away" };
    const stepArb: fc.Arbitrary<Step> = fc.oneof(
      {
        weight: 5,
        arbitrary: fc
          .constantFrom<ProbeResult>("success", "failure", "timeout")
          .map((result) => ({ kind: "result" as const, result })),
      },
      { weight: 1, arbitrary: fc.constant({ kind: "away" as const }) },
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 4 }),
        fc.array(stepArb, { maxLength: 80 }),
        (failureThreshold, successThreshold, steps) => {
          const cfg = { ...config, failureThreshold, successThreshold };
          const model = new ReferenceModel(cfg);
          let state = startProbing(cfg, 0);
          let now = 0;
          for (const s of steps) {
            if (s.kind === "result") {
              const step = probeOnce(state, s.result);
              expect(step.transition?.to ?? null).toBe(model.result(s.result === "success"));
              state = step.state;
            } else {
              now = Math.max(now, state.lastEventMs) + 1;
              const away = stepProbe(state, { kind: "node-unreachable", nowMs: now });
              expect(away.transition?.to ?? null).toBe(model.unreachable());
              expect(away.transition?.to).not.toBe("unhealthy");
              state = stepProbe(away.state, { kind: "node-reachable", nowMs: now + 1 }).state;
            }
            expect(state.verdict).toBe(model.verdict);
          }
        },
      ),
    );
  });
});

describe("illegal moves assert", () => {
  const fresh = () => startProbing(config, 0);
  const inFlight = () => stepProbe(fresh(), { kind: "send", nowMs: 5_000 }).state;

  it("refuses a second probe while one is in flight", () => {
    expect(() => stepProbe(inFlight(), { kind: "send", nowMs: 9_000 })).toThrow(BugIndicatingError);
  });

  it("refuses a result for a probe never sent, or one already answered", () => {
    expect(() => stepProbe(fresh(), { kind: "result", seq: 1, result: "success", nowMs: 5_000 })).toThrow(
      BugIndicatingError,
    );
    const answered = stepProbe(inFlight(), { kind: "result", seq: 1, result: "success", nowMs: 5_100 }).state;
    expect(() => stepProbe(answered, { kind: "result", seq: 1, result: "success", nowMs: 5_200 })).toThrow(
      BugIndicatingError,
    );
  });

  it("refuses node-reachable unless unreachable, and node-unreachable twice", () => {
    expect(() => stepProbe(fresh(), { kind: "node-reachable", nowMs: 1 })).toThrow(BugIndicatingError);
    const away = stepProbe(fresh(), { kind: "node-unreachable", nowMs: 1 }).state;
    expect(() => stepProbe(away, { kind: "node-unreachable", nowMs: 2 })).toThrow(BugIndicatingError);
    expect(() => stepProbe(away, { kind: "send", nowMs: 10_000 })).toThrow(BugIndicatingError);
  });

  it("refuses time going back and an invalid configuration", () => {
    expect(() => stepProbe(inFlight(), { kind: "result", seq: 1, result: "success", nowMs: 4_999 })).toThrow(
      BugIndicatingError,
    );
    expect(() => startProbing({ ...config, timeoutMs: 3_000 }, 0)).toThrow(BugIndicatingError);
    expect(() => startProbing({ ...config, failureThreshold: 0 }, 0)).toThrow(BugIndicatingError);
  });
});
