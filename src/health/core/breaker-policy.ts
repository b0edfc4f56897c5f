import { assert, assertNever } from "../../lib/assert.js";
import { healthLimits } from "./limits.js";

/**
 * The circuit breaker policy per node. When a node stops answering, every probe to each of its
 * containers would hang until its timeout and pile up; worse, each container would be declared
 * unhealthy and restarted on a node that cannot run anything. The breaker notices that the
 * node's probes fail together, stops probing it (open), and the probe machines mark its
 * containers "unknown" instead of failed. After a cool-down one trial probe goes through
 * (half-open): an answer closes the breaker, silence re-opens it with a longer cool-down.
 *
 *   closed --(correlated failures)--> open --(cool-down over, trial let through)--> half-open
 *   half-open --(trial ok)--> closed          half-open --(trial failed)--> open (cool-down x factor)
 *
 * What counts as a failure is the node's, not the container's: the io prober should report
 * `ok` for any HTTP answer (a 500 means the node is up and the container is ill) and a failure
 * for a refused or reset connection or a timeout. Otherwise one ill container alone on its node
 * would open the breaker and hide itself from its restarts.
 *
 * Pure and deterministic: no clock (time enters as `nowMs`), plain maps. The io layer may use
 * cockatiel's breaker instead; this file states and tests the policy.
 */

export type BreakerState = "closed" | "open" | "half-open";

export interface BreakerConfig {
  /** Consecutive failures across all of the node's containers that open the breaker. */
  readonly consecutiveFailuresToOpen: number;
  /** A failure ratio over the window at or above this opens the breaker... */
  readonly failureRatioToOpen: number;
  /** ...the window being this long... */
  readonly windowMs: number;
  /** ...and holding at least this many results (a ratio over three probes proves nothing). */
  readonly windowResultsMin: number;
  /** The first cool-down after the breaker opens. */
  readonly coolDownMs: number;
  /** Each failed trial multiplies the cool-down by this... */
  readonly coolDownFactor: number;
  /** ...up to this. */
  readonly coolDownMsMax: number;
}

/** Scaled for the demo: a dead node's breaker opens within about one 2 s probe period. */
export const breakerDefaults: BreakerConfig = Object.freeze({
  consecutiveFailuresToOpen: 5,
  failureRatioToOpen: 0.5,
  windowMs: 10_000,
  windowResultsMin: 10,
  coolDownMs: 2_000,
  coolDownFactor: 2,
  coolDownMsMax: 30_000,
});

export interface BreakerTransition {
  readonly nodeId: string;
  readonly from: BreakerState;
  readonly to: BreakerState;
  /** A sentence for the log. */
  readonly reason: string;
}

interface WindowBucket {
  /** bucket number: floor(time / bucketMs). */
  readonly index: number;
  successes: number;
  failures: number;
}

/** The stored state of one node's breaker. "open" past its cool-down reads as half-open. */
type NodeBreaker =
  | {
      readonly kind: "closed";
      consecutiveFailures: number;
      /** Oldest first, unique indexes; at most breakerBucketsPerWindowMax + 1. */
      readonly buckets: WindowBucket[];
      /** The cool-down the next opening will use. */
      readonly coolDownMs: number;
      lastMs: number;
    }
  | { readonly kind: "open"; readonly openedAtMs: number; readonly coolDownMs: number; lastMs: number }
  /** The trial probe is out; its result decides. */
  | { readonly kind: "half-open"; readonly coolDownMs: number; lastMs: number };

/** The legal moves, as grpc-js states them: every other move is a bug. */
const legalMoves: Readonly<Record<BreakerState, readonly BreakerState[]>> = {
  closed: ["open"],
  open: ["half-open"],
  "half-open": ["closed", "open"],
};

export function assertBreakerConfig(config: BreakerConfig): void {
  assert(
    Number.isInteger(config.consecutiveFailuresToOpen) && config.consecutiveFailuresToOpen >= 1,
    "consecutive failures to open must be at least 1",
  );
  assert(config.failureRatioToOpen > 0 && config.failureRatioToOpen <= 1, "failure ratio to open must be in (0, 1]");
  assert(Number.isInteger(config.windowMs) && config.windowMs > 0, "breaker window must be a positive integer of ms");
  assert(
    Number.isInteger(config.windowResultsMin) && config.windowResultsMin >= 1,
    "breaker window needs a minimum count of at least 1",
  );
  assert(Number.isInteger(config.coolDownMs) && config.coolDownMs > 0, "cool-down must be a positive integer of ms");
  assert(config.coolDownFactor >= 1, "cool-down must not shrink");
  assert(config.coolDownMsMax >= config.coolDownMs, "cool-down cap at least the first cool-down");
  assert(config.coolDownMsMax <= healthLimits.breakerCoolDownMsMax, "cool-down cap within the health limits");
}

export class BreakerPolicy {
  private readonly nodes = new Map<string, NodeBreaker>();
  private readonly bucketMs: number;

  constructor(readonly config: BreakerConfig = breakerDefaults) {
    assertBreakerConfig(config);
    this.bucketMs = Math.ceil(config.windowMs / healthLimits.breakerBucketsPerWindowMax);
  }

  /** The breaker as it reads at nowMs: an open breaker whose cool-down is over reads half-open. */
  state(nodeId: string, nowMs: number): BreakerState {
    const breaker = this.nodes.get(nodeId);
    if (breaker === undefined) return "closed";
    if (breaker.kind === "open" && nowMs >= breaker.openedAtMs + breaker.coolDownMs) return "half-open";
    return breaker.kind;
  }

  /**
   * May a probe go to this node now? Closed: yes. Open: no, until the cool-down is over; then
   * exactly one trial is let through and the breaker is half-open until its result.
   */
  allowProbe(nodeId: string, nowMs: number): boolean {
    const breaker = this.nodes.get(nodeId);
    if (breaker === undefined) return true;
    this.observe(breaker, nowMs);
    switch (breaker.kind) {
      case "closed":
        return true;
      case "open":
        if (nowMs < breaker.openedAtMs + breaker.coolDownMs) return false;
        this.move(nodeId, breaker, { kind: "half-open", coolDownMs: breaker.coolDownMs, lastMs: nowMs });
        return true;
      case "half-open":
        return false;
      default:
        return assertNever(breaker, "breaker");
    }
  }

  /**
   * A probe to the node finished: `ok` when the node answered at all. Returns the transition it
   * caused, if any. Results while open are late answers of probes sent before it opened, and are
   * ignored; so is a result while the cool-down is over but no trial has been let through.
   */
  onResult(nodeId: string, ok: boolean, nowMs: number): BreakerTransition | null {
    const breaker = this.nodes.get(nodeId) ?? this.create(nodeId, nowMs);
    this.observe(breaker, nowMs);
    switch (breaker.kind) {
      case "closed":
        return this.onClosedResult(nodeId, breaker, ok, nowMs);
      case "open":
        return null;
      case "half-open":
        if (ok) return this.move(nodeId, breaker, closedBreaker(this.config.coolDownMs, nowMs), "trial probe answered");
        return this.move(
          nodeId,
          breaker,
          {
            kind: "open",
            openedAtMs: nowMs,
            coolDownMs: Math.min(this.config.coolDownMsMax, breaker.coolDownMs * this.config.coolDownFactor),
            lastMs: nowMs,
          },
          "trial probe failed",
        );
      default:
        return assertNever(breaker, "breaker");
    }
  }

  /** The node left the cluster: drop its breaker. */
  forget(nodeId: string): void {
    this.nodes.delete(nodeId);
  }

  /** The cool-down in force (open) or that the next opening would use (closed, half-open). */
  coolDownMs(nodeId: string): number {
    return this.nodes.get(nodeId)?.coolDownMs ?? this.config.coolDownMs;
  }

  get size(): number {
    return this.nodes.size;
  }

  private onClosedResult(
    nodeId: string,
    breaker: NodeBreaker & { kind: "closed" },
    ok: boolean,
    nowMs: number,
  ): BreakerTransition | null {
    breaker.consecutiveFailures = ok ? 0 : breaker.consecutiveFailures + 1;
    this.record(breaker, ok, nowMs);
    let reason = "";
    if (breaker.consecutiveFailures >= this.config.consecutiveFailuresToOpen) {
      reason = `${breaker.consecutiveFailures} consecutive failed probes across the node's containers`;
    } else {
      const { successes, failures } = windowCounts(breaker.buckets);
      const total = successes + failures;
      if (total >= this.config.windowResultsMin && failures / total >= this.config.failureRatioToOpen) {
        reason = `${failures} of ${total} probes failed in the last ${this.config.windowMs} ms`;
      }
    }
    if (reason === "") return null;
    return this.move(
      nodeId,
      breaker,
      { kind: "open", openedAtMs: nowMs, coolDownMs: breaker.coolDownMs, lastMs: nowMs },
      reason,
    );
  }

  /** Counts a result in the window, dropping buckets that fell out of it. */
  private record(breaker: NodeBreaker & { kind: "closed" }, ok: boolean, nowMs: number): void {
    const index = Math.floor(nowMs / this.bucketMs);
    const oldestIndex = index - healthLimits.breakerBucketsPerWindowMax + 1;
    const buckets = breaker.buckets;
    let drop = 0;
    while (drop < buckets.length && buckets[drop].index < oldestIndex) drop++;
    if (drop > 0) buckets.splice(0, drop);
    const last = buckets[buckets.length - 1];
    const bucket = last !== undefined && last.index === index ? last : { index, successes: 0, failures: 0 };
    if (bucket !== last) buckets.push(bucket);
    if (ok) bucket.successes += 1;
    else bucket.failures += 1;
    assert(buckets.length <= healthLimits.breakerBucketsPerWindowMax, "breaker window bounded");
  }

  private create(nodeId: string, nowMs: number): NodeBreaker {
    assert(this.nodes.size < healthLimits.breakerNodesMax, "breaker nodes within their limit");
    const breaker = closedBreaker(this.config.coolDownMs, nowMs);
    this.nodes.set(nodeId, breaker);
    return breaker;
  }

  /** Time per node never goes back: the io layer reads one monotonic clock. */
  private observe(breaker: NodeBreaker, nowMs: number): void {
    assert(Number.isFinite(nowMs), "breaker time must be finite");
    assert(nowMs >= breaker.lastMs, "breaker time must not go back");
    breaker.lastMs = nowMs;
  }

  /** The one way a breaker changes state; an illegal move is a bug. */
  private move(
    nodeId: string,
    from: NodeBreaker,
    to: NodeBreaker,
    reason = "cool-down over, trial probe let through",
  ): BreakerTransition {
    assert(legalMoves[from.kind].includes(to.kind), `illegal breaker move ${from.kind} -> ${to.kind}`);
    if (to.kind === "open")
      assert(
        to.coolDownMs >= this.config.coolDownMs && to.coolDownMs <= this.config.coolDownMsMax,
        "cool-down within its bounds",
      );
    this.nodes.set(nodeId, to);
    return { nodeId, from: from.kind, to: to.kind, reason };
  }
}

function closedBreaker(coolDownMs: number, nowMs: number): NodeBreaker {
  return { kind: "closed", consecutiveFailures: 0, buckets: [], coolDownMs, lastMs: nowMs };
}

function windowCounts(buckets: readonly WindowBucket[]): { successes: number; failures: number } {
  let successes = 0;
  let failures = 0;
  for (const bucket of buckets) {
    successes += bucket.successes;
    failures += bucket.failures;
  }
  return { successes, failures };
}
