/**
 * Nodes whose agent says they cannot run containers now (their container engine is down or
 * slow), as the heartbeats carry them. The leader records the word in the log (NodeReadiness)
 * only when it differs from the node's record, so an outage costs two entries (not ready, ready
 * again), not one per heartbeat; a new leader compares with the same record and proposes nothing
 * the log already has. One proposal per node in flight.
 */
import type { NodeCondition } from "../gen/agent/v1/agent.js";
import { fsmLimits, type ClusterFsm } from "../fsm/index.js";
import type { Logger } from "../lib/logger.js";
import type { CommandProposer } from "./command-proposer.js";

export interface NotReadyNodesDeps {
  readonly fsm: ClusterFsm;
  readonly proposer: CommandProposer;
  readonly logger: Logger;
}

export class NotReadyNodes {
  /** Nodes with a NodeReadiness command in flight. */
  private readonly proposing = new Set<string>();

  constructor(private readonly deps: NotReadyNodesDeps) {}

  /**
   * One heartbeat for `nodeIds`, with the conditions of those that are not ready: proposes the
   * change for every registered node whose record says otherwise. Returns the not-ready ids.
   */
  heartbeat(nodeIds: readonly string[], conditions: readonly NodeCondition[]): Set<string> {
    const reasons = new Map<string, string>();
    for (const { nodeId, reason } of conditions)
      reasons.set(nodeId, (reason === "" ? "no reason given" : reason).slice(0, fsmLimits.reasonLengthMax));
    for (const id of nodeIds) {
      const node = this.deps.fsm.getNode(id);
      const reason = reasons.get(id) ?? "";
      if (node === undefined || node.notReadyReason === reason || this.proposing.has(id)) continue;
      this.propose(id, reason);
    }
    return new Set([...reasons.keys()].filter((id) => nodeIds.includes(id)));
  }

  private propose(nodeId: string, reason: string): void {
    const { logger, proposer } = this.deps;
    if (reason === "") logger.info({ node: nodeId }, "node ready again: its container engine answers");
    else logger.warn({ node: nodeId, reason }, "node not ready: nothing new is placed on it");
    this.proposing.add(nodeId);
    proposer
      .propose(
        undefined,
        { kind: "node-readiness", nodeReadiness: { nodeId, ready: reason === "", reason } },
        "node-readiness",
      )
      .catch((error: unknown) =>
        // Lost leadership or a refused entry: the next heartbeat proposes it again if still needed.
        logger.debug(
          { node: nodeId, err: error instanceof Error ? error.message : String(error) },
          "readiness not recorded",
        ),
      )
      .finally(() => this.proposing.delete(nodeId));
  }
}
