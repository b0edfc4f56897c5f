/**
 * The operation rule: succeeded when all desired replicas are healthy before the progress
 * deadline, failed at the deadline otherwise, pending in between.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BugIndicatingError } from "../../src/lib/assert.js";
import { evaluateOperation, operationDeadlineMs, type Operation } from "../../src/health/core/operation-tracker.js";

const op: Operation = { kind: "deploy", startedAtMs: 10_000, progressDeadlineMs: 120_000 };
const deadline = 130_000;

describe("operation outcome", () => {
  it("puts the deadline at start + progress deadline", () => {
    expect(operationDeadlineMs(op)).toBe(deadline);
  });

  it("succeeds when all desired replicas are healthy one millisecond before the deadline", () => {
    expect(evaluateOperation(op, { desired: 3, healthy: 3 }, deadline - 1)).toBe("succeeded");
  });

  it("fails at the deadline itself, even if the replicas are healthy by then", () => {
    expect(evaluateOperation(op, { desired: 3, healthy: 3 }, deadline)).toBe("failed");
    expect(evaluateOperation(op, { desired: 3, healthy: 2 }, deadline)).toBe("failed");
  });

  it("is pending before the deadline while some replicas are not healthy", () => {
    expect(evaluateOperation(op, { desired: 3, healthy: 2 }, deadline - 1)).toBe("pending");
    expect(evaluateOperation(op, { desired: 3, healthy: 0 }, op.startedAtMs)).toBe("pending");
  });

  it("succeeds at once for zero replicas and is not held back by surplus healthy ones", () => {
    expect(evaluateOperation({ ...op, kind: "scale" }, { desired: 0, healthy: 0 }, op.startedAtMs)).toBe("succeeded");
    expect(evaluateOperation({ ...op, kind: "scale" }, { desired: 2, healthy: 5 }, op.startedAtMs + 1)).toBe(
      "succeeded",
    );
  });

  it("follows the rule for any counts and time", () => {
    fc.assert(
      fc.property(
        fc.nat(20),
        fc.nat(20),
        fc.integer({ min: -1_000, max: 200_000 }),
        fc.constantFrom("deploy", "scale", "version-change", "replacement" as const),
        (desired, healthy, offsetMs, kind) => {
          const nowMs = op.startedAtMs + offsetMs;
          const outcome = evaluateOperation({ ...op, kind }, { desired, healthy }, nowMs);
          const expected = nowMs >= deadline ? "failed" : healthy >= desired ? "succeeded" : "pending";
          expect(outcome).toBe(expected);
        },
      ),
    );
  });

  it("asserts on impossible counts", () => {
    expect(() => evaluateOperation(op, { desired: -1, healthy: 0 }, 0)).toThrow(BugIndicatingError);
    expect(() => evaluateOperation(op, { desired: 1, healthy: 0.5 }, 0)).toThrow(BugIndicatingError);
    expect(() => evaluateOperation({ ...op, progressDeadlineMs: 0 }, { desired: 1, healthy: 1 }, 0)).toThrow(
      BugIndicatingError,
    );
  });
});
