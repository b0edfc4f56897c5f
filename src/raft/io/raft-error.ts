import { assertNever } from "../../lib/assert.js";
import type { ReplicaId } from "../core/types.js";
import { NO_REPLICA } from "../core/types.js";

/**
 * Why this replica could not serve a proposal, a read or a leadership transfer, in Raft's terms
 * only: no client address, no API status. The API maps each kind to a gRPC status (see
 * src/api/raft-failure-status.ts), the way etcdserver's errors are mapped by its gRPC layer.
 */
export type RaftFailure =
  /** Only the leader serves this; `leaderId` is the leader this replica knows (NO_REPLICA: none). */
  | { readonly kind: "not-leader"; readonly leaderId: ReplicaId }
  /** This replica leads but is handing leadership over: retry in a moment. */
  | { readonly kind: "transferring"; readonly leaderId: ReplicaId }
  /** A follower forgot its leader while a read it forwarded waited for the leader's answer. */
  | { readonly kind: "lost-leader" }
  /** The replica is shutting down. */
  | { readonly kind: "stopped" }
  /** The Raft loop failed (a disk write, a broken invariant); the replica serves nothing more. */
  | { readonly kind: "fatal"; readonly message: string }
  | { readonly kind: "timed-out"; readonly what: "proposal" | "read"; readonly timeoutMs: number }
  | { readonly kind: "timed-out"; readonly what: "transfer"; readonly timeoutMs: number; readonly target: ReplicaId }
  /** Too much in flight: proposals waiting here, bytes uncommitted on the leader, reads waiting. */
  | { readonly kind: "overloaded"; readonly what: "proposals" | "uncommitted-bytes" | "reads" }
  /** Leadership changed before the proposal committed: another entry took its index. */
  | { readonly kind: "dropped" }
  /** The command alone is larger than a Raft message may be. */
  | { readonly kind: "too-large" }
  | { readonly kind: "conf-change-refused"; readonly detail: "conf-change-pending" | "invalid-conf-change" }
  /** A transfer with no other voter to hand leadership to. */
  | { readonly kind: "no-transfer-target" }
  /** A transfer to a replica that is not another voter. */
  | { readonly kind: "not-a-voter"; readonly target: ReplicaId; readonly voters: readonly ReplicaId[] }
  /** We stepped down for `target`, but no replica leads yet (e.g. the whole cluster is stopping). */
  | { readonly kind: "transfer-stalled"; readonly target: ReplicaId }
  /** A backup snapshot was not taken: the state was replaced by the leader's snapshot, or never settled. */
  | { readonly kind: "capture-interrupted" };

export type RaftFailureKind = RaftFailure["kind"];

/** An expected Raft failure: thrown (or rejected with) by RaftNode; `reason` says which. */
export class RaftError extends Error {
  constructor(
    /** The replica that refused. */
    readonly replica: ReplicaId,
    readonly reason: RaftFailure,
  ) {
    super(describeRaftFailure(replica, reason));
    this.name = "RaftError";
  }
}

/** A sentence a person can act on; it names replicas, never their addresses. */
export function describeRaftFailure(replica: ReplicaId, reason: RaftFailure): string {
  switch (reason.kind) {
    case "not-leader":
      return reason.leaderId === NO_REPLICA
        ? `replica ${replica} is not the leader and no leader is known yet (election in progress); retry shortly`
        : `replica ${replica} is not the leader; the leader is ${reason.leaderId}`;
    case "transferring":
      return "leadership is being transferred; retry in a moment";
    case "lost-leader":
      return `replica ${replica} lost its leader before the read was confirmed (election in progress); retry shortly`;
    case "stopped":
      return `replica ${replica} is shutting down; retry on another replica`;
    case "fatal":
      return `replica ${replica} stopped after an internal error: ${reason.message}`;
    case "timed-out":
      return describeTimeout(reason);
    case "overloaded":
      return describeOverload(reason.what);
    case "dropped":
      return "leadership changed before the write committed; it was not applied — retry";
    case "too-large":
      return "the command is larger than a Raft message may be";
    case "conf-change-refused":
      return `membership change refused: ${reason.detail}`;
    case "no-transfer-target":
      return "no other voting replica to hand leadership to";
    case "not-a-voter":
      return `replica ${reason.target} is not another voting member (voters: ${reason.voters.join(", ")})`;
    case "transfer-stalled":
      return `stepped down for ${reason.target}, but no new leader appeared yet`;
    case "capture-interrupted":
      return `replica ${replica} could not take a consistent snapshot now (its state was being replaced); retry`;
    default:
      return assertNever(reason);
  }
}

function describeTimeout(reason: Extract<RaftFailure, { kind: "timed-out" }>): string {
  switch (reason.what) {
    case "proposal":
      return `the write was not committed within ${reason.timeoutMs} ms; it may still be applied — retry with the same request id`;
    case "read":
      return `the leader did not confirm the read within ${reason.timeoutMs} ms; retry`;
    case "transfer":
      return `leadership did not move to ${reason.target} within ${reason.timeoutMs} ms`;
    default:
      return assertNever(reason);
  }
}

function describeOverload(what: Extract<RaftFailure, { kind: "overloaded" }>["what"]): string {
  switch (what) {
    case "proposals":
      return "too many proposals in flight on this replica; retry shortly";
    case "uncommitted-bytes":
      return "too much uncommitted data; the followers are behind — retry shortly";
    case "reads":
      return "too many reads in flight; retry shortly";
    default:
      return assertNever(what);
  }
}
