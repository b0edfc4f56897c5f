/**
 * Nodes whose agent says they cannot run containers now (their container engine is down or
 * slow), as the heartbeats carry them. The leader logs each reason when it changes, and the
 * heartbeat handler does not count such a node's heartbeat nor asks to re-register it.
 */
import type { NodeCondition } from "../gen/agent/v1/agent.js";
import { fsmLimits } from "../fsm/index.js";
import type { Logger } from "../lib/logger.js";

export class NotReadyNodes {
  private readonly reasonByNode = new Map<string, string>();

  /** Records one heartbeat's conditions; returns the ids of the nodes it says are not ready. */
  update(conditions: readonly NodeCondition[], logger: Logger): Set<string> {
    const ids = new Set<string>();
    for (const { nodeId, reason } of conditions) {
      ids.add(nodeId);
      const text = reason.slice(0, fsmLimits.reasonLengthMax);
      if (this.reasonByNode.get(nodeId) === text) continue;
      if (!this.reasonByNode.has(nodeId) && this.reasonByNode.size >= fsmLimits.nodesMax) continue;
      this.reasonByNode.set(nodeId, text);
      logger.warn({ node: nodeId, reason: text }, "node not ready: its heartbeat no longer counts until it is");
    }
    return ids;
  }

  /** A heartbeat without the condition: the node is ready again (its heartbeats count). */
  cleared(nodeIds: readonly string[], notReady: ReadonlySet<string>, logger: Logger): void {
    for (const id of nodeIds) {
      if (notReady.has(id) || !this.reasonByNode.has(id)) continue;
      this.reasonByNode.delete(id);
      logger.info({ node: id }, "node ready again: its container engine answers");
    }
  }
}
