import { OrchestratorError } from "../lib/errors.js";
import type { ApplyResult, ApplyValue } from "./apply-result.js";
import type { ProposeOutcome } from "./controller-ports.js";

/**
 * A proposer's outcome from what the FSM answered when it applied the command: a refusal
 * becomes the error, and a value of another kind than the command answers with is INTERNAL.
 */
export function proposeOutcome<K extends ApplyValue["kind"]>(result: ApplyResult, kind: K): ProposeOutcome<K> {
  if (!result.ok) return { ok: false, error: new OrchestratorError(result.code, result.message) };
  const value = result.value;
  if (!isKind(value, kind))
    return { ok: false, error: new OrchestratorError("INTERNAL", `expected a ${kind} result, got ${value.kind}`) };
  return { ok: true, value };
}

function isKind<K extends ApplyValue["kind"]>(value: ApplyValue, kind: K): value is Extract<ApplyValue, { kind: K }> {
  return value.kind === kind;
}
