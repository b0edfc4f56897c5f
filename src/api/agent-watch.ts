/**
 * One WatchAssignments stream: a full snapshot of the agent's nodes on subscribe, and again
 * after every change touching them (throttled to one per snapshotIntervalMsMin, so a burst of
 * commits costs one message), plus a periodic resend. The stream ends with the not-leader
 * status as soon as this replica stops leading, so the agent re-resolves the leader at once.
 */
import { assertNever } from "../lib/assert.js";
import type { ServerWritableStream } from "@grpc/grpc-js";
import type { WatchAssignmentsRequest, WatchAssignmentsResponse } from "../gen/agent/v1/agent.js";
import type { StateChange } from "../fsm/index.js";
import type { Logger } from "../lib/logger.js";
import type { RaftNode } from "../raft/io/raft-node.js";
import type { AssignmentFeed, AssignmentWatcher } from "./agent-assignments.js";
import { agentServiceLimits } from "./agent-limits.js";
import { isExpectedError, toServiceError } from "./grpc-status.js";
import type { MembersView } from "./members-view.js";

export type WatchCall = ServerWritableStream<WatchAssignmentsRequest, WatchAssignmentsResponse>;

export interface AssignmentStreamDeps {
  readonly node: RaftNode;
  readonly members: MembersView;
  readonly feed: AssignmentFeed;
  readonly logger: Logger;
  readonly nowMs: () => number;
}

export class AssignmentStream implements AssignmentWatcher {
  private readonly nodeIds: readonly string[];
  private readonly nodes: ReadonlySet<string>;
  /** Containers in the last snapshot sent: their removal concerns us even once they left our nodes. */
  private sentContainers = new Set<string>();
  private lastSentMs = Number.NEGATIVE_INFINITY;
  private sendTimer: NodeJS.Timeout | null = null;
  private resyncTimer: NodeJS.Timeout | null = null;
  /** The transport buffer is full: send once it drains (one snapshot supersedes any other). */
  private waitingForDrain = false;
  private started = false;
  private ended = false;
  private unsubscribe: () => void = () => undefined;

  constructor(
    private readonly call: WatchCall,
    private readonly deps: AssignmentStreamDeps,
    private readonly onEnd: (stream: AssignmentStream) => void,
  ) {
    this.nodeIds = call.request.nodeIds;
    this.nodes = new Set(this.nodeIds);
  }

  /** Subscribes first and reads after, so no change can fall between the snapshot and the feed. */
  async start(): Promise<void> {
    this.unsubscribe = this.deps.feed.subscribe(this);
    this.call.on("cancelled", () => this.end());
    this.call.on("close", () => this.end());
    this.call.on("error", () => this.end());
    this.call.on("drain", () => {
      if (!this.waitingForDrain) return;
      this.waitingForDrain = false;
      this.send();
    });
    try {
      // A new leader may not have applied everything committed before it took over: a snapshot
      // missing a placement would make the agent stop a container it should keep.
      await this.deps.node.linearizableRead();
    } catch (error) {
      this.end(error);
      return;
    }
    if (this.ended) return;
    this.started = true;
    this.send();
    this.resyncTimer = setInterval(() => this.send(), agentServiceLimits.resyncIntervalMs);
  }

  touches(change: StateChange): boolean {
    switch (change.kind) {
      case "node":
        return this.nodes.has(change.id);
      case "container":
        return this.sentContainers.has(change.id) || this.nodes.has(this.deps.feed.nodeOf(change.id));
      case "deployment":
      case "event":
        return false;
      default:
        return assertNever(change.kind, "state change kind");
    }
  }

  changed(): void {
    if (!this.started || this.ended || this.sendTimer !== null) return;
    const delayMs = Math.max(0, this.lastSentMs + agentServiceLimits.snapshotIntervalMsMin - this.deps.nowMs());
    // Even at 0 the timer lets the rest of the Ready's entries apply first, so they share a snapshot.
    this.sendTimer = setTimeout(() => {
      this.sendTimer = null;
      this.send();
    }, delayMs);
  }

  /** This replica lost the leadership: the agent must go to the new leader. */
  deposed(leaderId: string): void {
    this.end(this.deps.node.notLeaderError(leaderId));
  }

  end(error?: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.unsubscribe();
    if (this.sendTimer !== null) clearTimeout(this.sendTimer);
    if (this.resyncTimer !== null) clearInterval(this.resyncTimer);
    this.onEnd(this);
    if (error === undefined) {
      if (!this.call.cancelled && !this.call.destroyed) this.call.end();
      return;
    }
    const status = toServiceError(error, this.deps.members);
    if (!isExpectedError(error))
      this.deps.logger.error(
        { err: error instanceof Error ? error.stack : String(error) },
        "assignment stream failed unexpectedly",
      );
    // grpc-js sends the status (and its trailers) when the stream errors and then ends itself;
    // destroy() would close it without any status.
    if (!this.call.cancelled && !this.call.destroyed)
      this.call.emit("error", Object.assign(new Error(status.message), status));
  }

  private send(): void {
    if (this.ended || !this.started) return;
    if (!this.deps.node.isLeader()) {
      this.deposed(this.deps.node.leaderId());
      return;
    }
    if (this.waitingForDrain) return;
    const snapshot = this.deps.feed.snapshot(this.nodeIds);
    this.sentContainers = new Set(snapshot.nodes.flatMap((n) => n.assignments.map((a) => a.containerId)));
    this.lastSentMs = this.deps.nowMs();
    if (!this.call.write(snapshot)) this.waitingForDrain = true;
  }
}
