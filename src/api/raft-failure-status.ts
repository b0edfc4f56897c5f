import { assertNever } from "../lib/assert.js";
import { OrchestratorError } from "../lib/errors.js";
import { NO_REPLICA } from "../raft/core/types.js";
import { RaftError, type RaftFailure } from "../raft/io/raft-error.js";
import type { MembersView } from "./members-view.js";

/**
 * The API's answer to a Raft refusal (etcd's togRPCError, for our RaftFailure): a status code,
 * the message, and where a leader is known, the x-leader-id / x-leader-address trailers
 * (leaderId / leaderAddress details, see grpc-status.ts) that clients follow. Raft names the
 * leader by id; the address comes from the members directory.
 */
export function raftFailureStatus(error: RaftError, members: MembersView): OrchestratorError {
  const failure: RaftFailure = error.reason;
  switch (failure.kind) {
    case "not-leader":
      return notLeaderStatus(error.replica, failure.leaderId, members);
    case "transferring":
      // The leader is this replica, handing over: name it, but send nobody back here.
      return new OrchestratorError("UNAVAILABLE", error.message, { leaderId: failure.leaderId });
    case "lost-leader":
    case "stopped":
    case "fatal":
    case "dropped":
    case "transfer-stalled":
    case "capture-interrupted":
      return new OrchestratorError("UNAVAILABLE", error.message);
    case "timed-out":
      // A read that timed out changed nothing and may go anywhere; a write may still be applied.
      return new OrchestratorError(failure.what === "read" ? "UNAVAILABLE" : "DEADLINE_EXCEEDED", error.message);
    case "overloaded":
      return new OrchestratorError("RESOURCE_EXHAUSTED", error.message);
    case "too-large":
    case "not-a-voter":
      return new OrchestratorError("INVALID_ARGUMENT", error.message);
    case "conf-change-refused":
    case "no-transfer-target":
      return new OrchestratorError("FAILED_PRECONDITION", error.message);
    default:
      return assertNever(failure, "raft failure");
  }
}

/** The error as the API reports it: a RaftError becomes its status, anything else stays as it is. */
export function apiError(error: unknown, members: MembersView): unknown {
  return error instanceof RaftError ? raftFailureStatus(error, members) : error;
}

function notLeaderStatus(replica: string, leaderId: string, members: MembersView): OrchestratorError {
  const address = leaderId === NO_REPLICA ? undefined : members.addresses(leaderId)?.api;
  if (address === undefined) {
    const message = `replica ${replica} is not the leader and no leader is known yet (election in progress); retry shortly`;
    return new OrchestratorError("UNAVAILABLE", message);
  }
  return new OrchestratorError(
    "UNAVAILABLE",
    `replica ${replica} is not the leader; the leader is ${leaderId} at ${address}`,
    {
      leaderId,
      leaderAddress: address,
    },
  );
}
