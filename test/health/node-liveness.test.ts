/**
 * Node liveness: a node silent past its TTL is declared down, but never within the grace period
 * a new leader gives every node; a down node heard from again is back.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BugIndicatingError } from "../../src/lib/assert.js";
import { healthLimits } from "../../src/health/core/limits.js";
import {
  evaluateLiveness,
  livenessDefaults,
  type LivenessConfig,
  type NodeLivenessView,
} from "../../src/health/core/node-liveness.js";

const config: LivenessConfig = { heartbeatTtlMs: 3_000, failoverGraceMs: 3_000, notReadyTtlMs: 15_000 };

function ready(nodeId: string, lastHeartbeatMs: number | null): NodeLivenessView {
  return { nodeId, status: "ready", lastHeartbeatMs, downSinceMs: 0 };
}

function down(nodeId: string, downSinceMs: number, lastHeartbeatMs: number | null): NodeLivenessView {
  return { nodeId, status: "down", lastHeartbeatMs, downSinceMs };
}

const declared = (nodes: NodeLivenessView[], leaderSinceMs: number, nowMs: number) =>
  evaluateLiveness(nodes, leaderSinceMs, nowMs, config).declareDown.map((d) => d.nodeId);

describe("liveness defaults", () => {
  it("give a new leader a grace period of one TTL", () => {
    expect(livenessDefaults).toEqual({ heartbeatTtlMs: 3_000, failoverGraceMs: 3_000, notReadyTtlMs: 15_000 });
  });
});

describe("declaring nodes down", () => {
  it("declares a node silent for longer than the TTL, not one silent for exactly the TTL", () => {
    const nodes = [ready("a", 10_000), ready("b", 12_000)];
    expect(declared(nodes, 0, 13_000)).toEqual([]);
    expect(declared(nodes, 0, 13_001)).toEqual(["a"]);
    const verdicts = evaluateLiveness(nodes, 0, 15_001, config);
    expect(verdicts.declareDown.map((d) => d.nodeId)).toEqual(["a", "b"]);
    expect(verdicts.declareDown[0].reason).toBe("no heartbeat for 5001 ms (TTL 3000 ms)");
  });

  it("declares nothing within the grace after a leadership change, however old the heartbeats", () => {
    // The old leader heard from these nodes long ago; this leader took over at 100 s.
    const nodes = [ready("a", 1_000), ready("b", 50_000), ready("c", null)];
    for (const now of [100_000, 101_000, 102_999, 103_000]) expect(declared(nodes, 100_000, now)).toEqual([]);
    expect(declared(nodes, 100_000, 103_001)).toEqual(["a", "b", "c"]);
  });

  it("keeps a node alive that beats during the grace period", () => {
    const nodes = [ready("a", 1_000), ready("b", 102_500)];
    expect(declared(nodes, 100_000, 103_001)).toEqual(["a"]);
    expect(declared(nodes, 100_000, 105_500)).toEqual(["a"]);
    expect(declared(nodes, 100_000, 105_501)).toEqual(["a", "b"]);
  });

  it("judges draining nodes like ready ones and never declares a down node again", () => {
    const nodes: NodeLivenessView[] = [
      { nodeId: "d", status: "draining", lastHeartbeatMs: 0, downSinceMs: 0 },
      down("x", 5_000, 0),
    ];
    expect(declared(nodes, 0, 10_000)).toEqual(["d"]);
  });

  it("declares at most the per-evaluation limit, the longest silent first, and defers the rest", () => {
    const n = healthLimits.nodesDeclaredDownPerEvaluationMax + 50;
    const nodes = Array.from({ length: n }, (_, i) => ready(`node-${String(i).padStart(4, "0")}`, 1_000 + i));
    const verdicts = evaluateLiveness(nodes.slice().reverse(), 0, 1_000_000, config);
    expect(verdicts.declareDown).toHaveLength(healthLimits.nodesDeclaredDownPerEvaluationMax);
    expect(verdicts.deferred).toBe(50);
    expect(verdicts.declareDown[0].nodeId).toBe("node-0000");
  });

  it("only ever declares a node past both its TTL and the leader's grace, in an order independent of the input", () => {
    const nodeArb = fc.record({ last: fc.option(fc.integer({ min: 0, max: 100_000 }), { nil: null }) });
    fc.assert(
      fc.property(
        fc.array(nodeArb, { maxLength: 30 }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.integer({ min: 0, max: 20_000 }),
        (specs, leaderSinceMs, elapsedMs) => {
          const nowMs = leaderSinceMs + elapsedMs;
          const nodes = specs.map((s, i) => ready(`n${i}`, s.last));
          const verdicts = evaluateLiveness(nodes, leaderSinceMs, nowMs, config);
          const byId = new Map(nodes.map((node) => [node.nodeId, node]));
          for (const { nodeId } of verdicts.declareDown) {
            const last = byId.get(nodeId)?.lastHeartbeatMs ?? null;
            expect(nowMs).toBeGreaterThan(leaderSinceMs + config.failoverGraceMs);
            if (last !== null) expect(nowMs - last).toBeGreaterThan(config.heartbeatTtlMs);
          }
          const silentCount = nodes.filter(
            (node) => nowMs > Math.max(leaderSinceMs + 3_000, (node.lastHeartbeatMs ?? -Infinity) + 3_000),
          ).length;
          expect(verdicts.declareDown.length).toBe(silentCount);
          expect(evaluateLiveness(nodes.slice().reverse(), leaderSinceMs, nowMs, config)).toEqual(verdicts);
        },
      ),
    );
  });

  it("asserts when asked about a time before the leadership began", () => {
    expect(() => evaluateLiveness([], 1_000, 999, config)).toThrow(BugIndicatingError);
  });
});

describe("nodes that cannot run containers", () => {
  const notReady = (nodeId: string, lastHeartbeatMs: number, notReadySinceMs: number): NodeLivenessView => ({
    ...ready(nodeId, lastHeartbeatMs),
    notReadySinceMs,
  });

  it("are alive while they heartbeat, and declared down once not ready past the limit", () => {
    const node = notReady("a", 20_000, 5_000);
    expect(declared([node], 0, 20_000)).toEqual([]);
    const verdicts = evaluateLiveness([node], 0, 20_001, config);
    expect(verdicts.declareDown).toEqual([{ nodeId: "a", reason: "not ready for 15001 ms (limit 15000 ms)" }]);
  });

  it("get a new leader's grace period like silent ones", () => {
    expect(declared([notReady("a", 30_000, 0)], 29_000, 30_000)).toEqual([]);
    expect(declared([notReady("a", 32_001, 0)], 29_000, 32_001)).toEqual(["a"]);
  });

  it("are judged by their silence first when they stop heartbeating", () => {
    expect(evaluateLiveness([notReady("a", 1_000, 900)], 0, 4_001, config).declareDown[0]?.reason).toMatch(
      /^no heartbeat for 3001 ms/,
    );
  });
});

describe("nodes coming back", () => {
  it("reports a down node heard from after it was declared down", () => {
    const verdicts = evaluateLiveness([down("b", 10_000, 12_000), down("a", 10_000, 11_000)], 0, 12_500, config);
    expect(verdicts.cameBack).toEqual(["a", "b"]);
    expect(verdicts.declareDown).toEqual([]);
  });

  it("does not report one whose last heartbeat predates the declaration, or none at all", () => {
    expect(
      evaluateLiveness(
        [down("a", 10_000, 9_000), down("b", 10_000, 10_000), down("c", 10_000, null)],
        0,
        10_500,
        config,
      ).cameBack,
    ).toEqual([]);
  });

  it("does not report one whose post-declaration heartbeat is already older than the TTL", () => {
    const node = down("a", 10_000, 11_000);
    expect(evaluateLiveness([node], 0, 14_000, config).cameBack).toEqual(["a"]);
    expect(evaluateLiveness([node], 0, 14_001, config).cameBack).toEqual([]);
  });
});
