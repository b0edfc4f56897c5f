/**
 * Expected failures: bad input, a missing entity, a replica that is not the leader. They
 * carry a code that maps one-to-one to a gRPC status and a message a person can act on.
 * Programmer errors are BugIndicatingError (assert.ts), never these.
 */
export type ErrorCode =
  | "INVALID_ARGUMENT"
  | "NOT_FOUND"
  | "ALREADY_EXISTS"
  | "FAILED_PRECONDITION"
  | "RESOURCE_EXHAUSTED"
  | "UNAVAILABLE"
  | "DEADLINE_EXCEEDED"
  | "UNAUTHENTICATED"
  | "PERMISSION_DENIED"
  | "ABORTED"
  | "INTERNAL";

export class OrchestratorError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = "OrchestratorError";
  }
}

export type Result<T, E = OrchestratorError> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: E };

export function ok<T>(value: T): { ok: true; value: T } {
  return { ok: true, value };
}

export function err<E>(error: E): { ok: false; error: E } {
  return { ok: false, error };
}
