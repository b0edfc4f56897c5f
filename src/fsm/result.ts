import type { ErrorCode } from "../lib/errors.js";

/**
 * Expected failures of the FSM and its validation: a code that maps one-to-one to a gRPC status
 * and a message a person can act on. Results are plain data (JSON round-trips them exactly),
 * because the dedup table stores them and the snapshot carries them.
 */
export interface FsmFailure {
  readonly ok: false;
  readonly code: ErrorCode;
  readonly message: string;
}

export type FsmResult<T> = { readonly ok: true; readonly value: T } | FsmFailure;

export function success<T>(value: T): { readonly ok: true; readonly value: T } {
  return { ok: true, value };
}

export function failure(code: ErrorCode, message: string): FsmFailure {
  return { ok: false, code, message };
}
