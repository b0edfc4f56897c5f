import type { RaftNode } from "../raft/io/raft-node.js";
import { OrchestratorError } from "../lib/errors.js";
import {
  encodeCommand,
  validateClientRequest,
  type ApplyResult,
  type ApplyValue,
  type CommandBody,
} from "../fsm/index.js";
import type { RequestHeader } from "../gen/orchestrator/v1/orchestrator.js";
import { anonymousCaller, type Caller } from "./access-control.js";

/** Who a command comes from: the request's dedup header and the caller the access check settled on. */
export interface CommandOrigin {
  readonly header?: RequestHeader | undefined;
  readonly caller: Caller;
  /** The actor when the caller has no name and the request no client id (an agent's id). */
  readonly fallbackActor?: string;
}

/** The audit actor of a command: the caller's token or certificate name, else its client id. */
export function actorOf(origin: CommandOrigin): string {
  if (origin.caller.actor !== "") return origin.caller.actor;
  const clientId = origin.header?.clientId ?? "";
  return clientId !== "" ? clientId : (origin.fallbackActor ?? "");
}

/**
 * Proposes a command through Raft and returns what the FSM answered when it applied it. The
 * leader's wall clock and the caller's name (the audit actor) are stamped into the command here,
 * the one place every API command passes, so apply never reads a clock and no handler forgets
 * who asked.
 */
export class CommandProposer {
  constructor(private readonly node: RaftNode) {}

  /** `origin` undefined: an anonymous caller without a dedup header (tests, tools). */
  async propose<K extends ApplyValue["kind"]>(
    origin: CommandOrigin | undefined,
    body: CommandBody,
    kind: K,
  ): Promise<Extract<ApplyValue, { kind: K }>> {
    origin ??= { caller: anonymousCaller };
    const clientId = origin.header?.clientId ?? "";
    const seq = origin.header?.seq ?? 0;
    const invalid = validateClientRequest(clientId, seq);
    if (invalid !== null) throw new OrchestratorError(invalid.code, invalid.message);
    // Only the leader can propose; check first so a follower answers with the redirect at once.
    if (!this.node.isLeader()) throw this.node.notLeaderError(this.node.leaderId());
    const data = encodeCommand({ clientId, seq, atMs: Date.now(), actor: actorOf(origin), body });
    const result = (await this.node.propose(data)) as ApplyResult;
    if (!result.ok) throw new OrchestratorError(result.code, result.message);
    const value = result.value;
    if (value.kind !== kind) throw new OrchestratorError("INTERNAL", `expected a ${kind} result, got ${value.kind}`);
    return value as Extract<ApplyValue, { kind: K }>;
  }
}
