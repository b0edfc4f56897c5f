import { assert } from "../../lib/assert.js";
import { fsmLimits } from "../../fsm/index.js";

/**
 * The leader's in-memory record of when each node last heartbeated. Liveness is not replicated:
 * a new leader starts with an empty tracker and must give every node a fresh grace period
 * before declaring anything down (docs/architecture.md, Health). The health controller owns it: its
 * node-down decisions read `lastSeen`, and it clears the record when this replica stops leading.
 * The API's AgentService only records into it (its HeartbeatRecorder).
 */
export class NodeHeartbeats {
  /** Least recently heard-from first (re-inserted on every record), so eviction is O(1). */
  private readonly lastSeenMsByNode = new Map<string, number>();

  constructor(private readonly nodesMax: number = fsmLimits.nodesMax) {
    assert(Number.isSafeInteger(nodesMax) && nodesMax >= 1, "a heartbeat tracker tracks at least one node");
  }

  /** Notes that `nodeId` was alive at `nowMs` (wall-clock milliseconds); time never goes back per node. */
  record(nodeId: string, nowMs: number): void {
    assert(nodeId !== "", "heartbeat without a node id");
    assert(Number.isFinite(nowMs), "heartbeat time must be a number");
    const previous = this.lastSeenMsByNode.get(nodeId);
    this.lastSeenMsByNode.delete(nodeId);
    if (previous === undefined && this.lastSeenMsByNode.size >= this.nodesMax) {
      // Only registered nodes are recorded, so this bound is never reached in practice; if it
      // is, the node silent for longest is the one least worth remembering.
      const oldest = this.lastSeenMsByNode.keys().next().value;
      if (oldest !== undefined) this.lastSeenMsByNode.delete(oldest);
    }
    this.lastSeenMsByNode.set(nodeId, Math.max(nowMs, previous ?? nowMs));
  }

  /** Wall-clock milliseconds of the node's last heartbeat on this replica, if any. */
  lastSeen(nodeId: string): number | undefined {
    return this.lastSeenMsByNode.get(nodeId);
  }

  forget(nodeId: string): void {
    this.lastSeenMsByNode.delete(nodeId);
  }

  /** Forgets everything (e.g. when this replica stops being the leader). */
  clear(): void {
    this.lastSeenMsByNode.clear();
  }

  get size(): number {
    return this.lastSeenMsByNode.size;
  }

  /** Every tracked node with its last heartbeat, least recently heard-from first. */
  entries(): [nodeId: string, lastSeenMs: number][] {
    return [...this.lastSeenMsByNode];
  }
}
