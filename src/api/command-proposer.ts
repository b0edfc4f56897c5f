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

/**
 * Proposes a command through Raft and returns what the FSM answered when it applied it. The
 * leader's wall clock is stamped into the command here, so apply never reads a clock.
 */
export class CommandProposer {
  constructor(private readonly node: RaftNode) {}

  async propose<K extends ApplyValue["kind"]>(
    header: RequestHeader | undefined,
    body: CommandBody,
    kind: K,
  ): Promise<Extract<ApplyValue, { kind: K }>> {
    const clientId = header?.clientId ?? "";
    const seq = header?.seq ?? 0;
    const invalid = validateClientRequest(clientId, seq);
    if (invalid !== null) throw new OrchestratorError(invalid.code, invalid.message);
    // Only the leader can propose; check first so a follower answers with the redirect at once.
    if (!this.node.isLeader()) throw this.node.notLeaderError(this.node.leaderId());
    const data = encodeCommand({ clientId, seq, atMs: Date.now(), body });
    const result = (await this.node.propose(data)) as ApplyResult;
    if (!result.ok) throw new OrchestratorError(result.code, result.message);
    const value = result.value;
    if (value.kind !== kind) throw new OrchestratorError("INTERNAL", `expected a ${kind} result, got ${value.kind}`);
    return value as Extract<ApplyValue, { kind: K }>;
  }
}
