import { assert } from "../../lib/assert.js";
import { healthLimits } from "./limits.js";

/**
 * Which nodes to declare down, and which down nodes came back, from heartbeat times: Nomad's
 * heartbeat TTL, scaled for the demo.
 *
 * Heartbeats reach the leader only; they are not written to the log. So a new leader knows
 * nothing of the time before it was elected: the heartbeats it has seen are at most as old as
 * its leadership. Were it to judge the silence since the nodes' last logged activity, a failover
 * would evict the whole cluster at once. Instead every node gets a fresh grace period: nothing is
 * declared down before leaderSinceMs + failoverGraceMs, as Nomad resets all heartbeat timers when
 * a leader is established.
 *
 * A node is declared down at nowMs when nowMs > max(lastHeartbeatMs + heartbeatTtlMs,
 * leaderSinceMs + failoverGraceMs): silence exactly as long as the TTL is still fine. A down
 * node is back when the leader heard from it after it was declared down, within the TTL.
 *
 * Pure: the io heartbeat tracker keeps the times (one monotonic clock) and asks.
 */

export interface LivenessConfig {
  /** Silence longer than this makes a node down. */
  readonly heartbeatTtlMs: number;
  /** A new leader declares nothing down before this long after its election. */
  readonly failoverGraceMs: number;
  /**
   * A node whose agent says it cannot run containers (its engine is down or slow) is alive, but
   * if that lasts longer than this it is declared down all the same, so its containers are
   * replaced elsewhere (Kubernetes evicts from a NotReady node after a timeout too). Shorter
   * outages only keep new containers away from it.
   */
  readonly notReadyTtlMs: number;
}

/** Agents heartbeat every 500 ms (src/agent/limits.ts); six missed beats make a node down. Grace = TTL. */
export const livenessDefaults: LivenessConfig = Object.freeze({
  heartbeatTtlMs: 3_000,
  failoverGraceMs: 3_000,
  notReadyTtlMs: 15_000,
});

/** The FSM's node status, as far as liveness cares. */
export type LivenessStatus = "ready" | "draining" | "down";

export interface NodeLivenessView {
  readonly nodeId: string;
  readonly status: LivenessStatus;
  /** The last heartbeat this leader received from the node; null if none yet. */
  readonly lastHeartbeatMs: number | null;
  /** When the node was declared down (meaningful only while down), on the same clock. */
  readonly downSinceMs: number;
  /** Since when its agent says it cannot run containers (the log's time); absent or null: it can. */
  readonly notReadySinceMs?: number | null;
}

export interface DownDecision {
  readonly nodeId: string;
  /** A sentence for the log and the event ring. */
  readonly reason: string;
}

export interface LivenessVerdicts {
  /** Nodes to declare down through the log, the longest silent first; at most nodesDeclaredDownPerEvaluationMax. */
  readonly declareDown: readonly DownDecision[];
  /** Silent nodes past their deadline left for the next evaluation by that limit. */
  readonly deferred: number;
  /** Down nodes heard from since, to mark ready again, in id order. */
  readonly cameBack: readonly string[];
}

export function assertLivenessConfig(config: LivenessConfig): void {
  assert(
    Number.isInteger(config.heartbeatTtlMs) && config.heartbeatTtlMs > 0,
    "heartbeat TTL must be a positive integer of ms",
  );
  assert(
    Number.isInteger(config.failoverGraceMs) && config.failoverGraceMs >= 0,
    "failover grace must be a non-negative integer of ms",
  );
  assert(
    Number.isInteger(config.notReadyTtlMs) && config.notReadyTtlMs >= config.heartbeatTtlMs,
    "a node may stay not ready at least as long as it may stay silent",
  );
}

/** The time after which the node counts as down if still silent. */
export function downDeadlineMs(lastHeartbeatMs: number | null, leaderSinceMs: number, config: LivenessConfig): number {
  const graceEndMs = leaderSinceMs + config.failoverGraceMs;
  return lastHeartbeatMs === null ? graceEndMs : Math.max(lastHeartbeatMs + config.heartbeatTtlMs, graceEndMs);
}

export function evaluateLiveness(
  nodes: readonly NodeLivenessView[],
  leaderSinceMs: number,
  nowMs: number,
  config: LivenessConfig = livenessDefaults,
): LivenessVerdicts {
  assertLivenessConfig(config);
  assert(Number.isFinite(leaderSinceMs) && Number.isFinite(nowMs), "times must be finite");
  assert(nowMs >= leaderSinceMs, "a leader cannot evaluate before it was elected");
  const silent: { nodeId: string; deadlineMs: number; reason: string }[] = [];
  const cameBack: string[] = [];
  for (const node of nodes) {
    if (node.status === "down") {
      if (heardSinceDown(node, nowMs, config)) cameBack.push(node.nodeId);
      continue;
    }
    const deadlineMs = downDeadlineMs(node.lastHeartbeatMs, leaderSinceMs, config);
    if (nowMs > deadlineMs) {
      silent.push({
        nodeId: node.nodeId,
        deadlineMs,
        reason: downReason(node.lastHeartbeatMs, leaderSinceMs, nowMs, config),
      });
      continue;
    }
    // Heard from, but unable to run containers for too long. A new leader's grace applies here
    // too: it has not seen the node's own word yet.
    const notReadySinceMs = node.notReadySinceMs ?? null;
    if (notReadySinceMs === null) continue;
    const notReadyDeadlineMs = Math.max(notReadySinceMs + config.notReadyTtlMs, leaderSinceMs + config.failoverGraceMs);
    if (nowMs > notReadyDeadlineMs)
      silent.push({
        nodeId: node.nodeId,
        deadlineMs: notReadyDeadlineMs,
        reason: `not ready for ${nowMs - notReadySinceMs} ms (limit ${config.notReadyTtlMs} ms)`,
      });
  }
  // Longest silent first, then by id: deterministic whatever order the nodes came in.
  silent.sort((a, b) => a.deadlineMs - b.deadlineMs || compareIds(a.nodeId, b.nodeId));
  const taken = silent.slice(0, healthLimits.nodesDeclaredDownPerEvaluationMax);
  cameBack.sort(compareIds);
  return {
    declareDown: taken.map((s) => ({ nodeId: s.nodeId, reason: s.reason })),
    deferred: silent.length - taken.length,
    cameBack,
  };
}

function heardSinceDown(node: NodeLivenessView, nowMs: number, config: LivenessConfig): boolean {
  const last = node.lastHeartbeatMs;
  return last !== null && last > node.downSinceMs && nowMs - last <= config.heartbeatTtlMs;
}

function downReason(
  lastHeartbeatMs: number | null,
  leaderSinceMs: number,
  nowMs: number,
  config: LivenessConfig,
): string {
  if (lastHeartbeatMs === null) {
    return `no heartbeat since this leader took over ${nowMs - leaderSinceMs} ms ago (grace ${config.failoverGraceMs} ms)`;
  }
  return `no heartbeat for ${nowMs - lastHeartbeatMs} ms (TTL ${config.heartbeatTtlMs} ms)`;
}

function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
