import { Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { BugIndicatingError } from "../lib/assert.js";
import { OrchestratorError, type ErrorCode } from "../lib/errors.js";
import type { MembersView } from "./members-view.js";
import { RaftError } from "../raft/io/raft-error.js";
import { apiError } from "./raft-failure-status.js";

export const statusByCode: Readonly<Record<ErrorCode, status>> = {
  INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  NOT_FOUND: status.NOT_FOUND,
  ALREADY_EXISTS: status.ALREADY_EXISTS,
  FAILED_PRECONDITION: status.FAILED_PRECONDITION,
  RESOURCE_EXHAUSTED: status.RESOURCE_EXHAUSTED,
  UNAVAILABLE: status.UNAVAILABLE,
  DEADLINE_EXCEEDED: status.DEADLINE_EXCEEDED,
  UNAUTHENTICATED: status.UNAUTHENTICATED,
  PERMISSION_DENIED: status.PERMISSION_DENIED,
  ABORTED: status.ABORTED,
  INTERNAL: status.INTERNAL,
};

/**
 * Turns any thrown value into a gRPC error. Expected failures keep their code and message (a
 * RaftError is mapped first, see raft-failure-status.ts); a not-leader answer carries
 * x-leader-id / x-leader-address trailers so clients can follow. Anything else is reported as
 * INTERNAL without leaking internals.
 */
export function toServiceError(thrown: unknown, members: MembersView): Partial<ServiceError> {
  const error = apiError(thrown, members);
  const metadata = new Metadata();
  if (error instanceof OrchestratorError) {
    const leaderId = error.details["leaderId"];
    const leaderAddress = error.details["leaderAddress"];
    if (leaderId !== undefined) metadata.set("x-leader-id", leaderId);
    if (leaderAddress !== undefined) metadata.set("x-leader-address", leaderAddress);
    return { code: statusByCode[error.code], details: error.message, message: error.message, metadata };
  }
  const text =
    error instanceof BugIndicatingError
      ? "internal error (a bug): see the replica's log"
      : "internal error: see the replica's log";
  return { code: status.INTERNAL, details: text, message: text, metadata };
}

/** Whether the error is one the API expects (a typed failure), not a bug or an unknown throw. */
export function isExpectedError(error: unknown): boolean {
  return error instanceof OrchestratorError || error instanceof RaftError;
}
