/**
 * The members' address table. Raft's configuration (conf-change entries) says who votes and who
 * learns; this table says where each replica's Raft transport and API listen. It lives in the
 * FSM, not in Raft, so it travels in FSM snapshots (a member that catches up by snapshot, or a
 * backup, carries it) and Raft keeps speaking only Raft.
 */
import type { MemberForgetCommand, MemberSetCommand } from "../gen/orchestrator/v1/fsm.js";
import { splitHostPort } from "../lib/host-port.js";
import type { ApplyResult } from "./apply-result.js";
import type { ClusterState } from "./cluster-state.js";
import { fsmLimits } from "./limits.js";
import { failure, success } from "./result.js";

const memberIdPattern = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** Why a member id or address is unacceptable, or null. Also the API's check before proposing. */
export function memberAddressProblem(id: string, raftAddress: string, apiAddress: string): string | null {
  if (!memberIdPattern.test(id)) return `member id "${id}" must be lowercase letters, digits and '-' (e.g. r4)`;
  for (const [what, address] of [
    ["Raft", raftAddress],
    ["API", apiAddress],
  ] as const) {
    try {
      splitHostPort(address);
    } catch (error) {
      return `the ${what} address of ${id}: ${(error as Error).message}`;
    }
  }
  if (raftAddress === apiAddress) return `member ${id}: the Raft and API addresses must differ (both ${raftAddress})`;
  return null;
}

/** Records or replaces a member's addresses. Another member already at one of them is refused. */
export function applyMemberSet(state: ClusterState, command: MemberSetCommand): ApplyResult {
  const member = command.member;
  if (member === undefined) return failure("INVALID_ARGUMENT", "MemberSet without a member");
  const problem = memberAddressProblem(member.id, member.raftAddress, member.apiAddress);
  if (problem !== null) return failure("INVALID_ARGUMENT", problem);
  for (const other of state.members.values()) {
    if (other.id === member.id) continue;
    const clash = [other.raftAddress, other.apiAddress].find(
      (address) => address === member.raftAddress || address === member.apiAddress,
    );
    if (clash !== undefined)
      return failure("ALREADY_EXISTS", `member ${other.id} already uses ${clash}; give ${member.id} other addresses`);
  }
  const existing = state.members.get(member.id);
  if (existing === undefined && state.members.size >= fsmLimits.membersMax)
    return failure(
      "RESOURCE_EXHAUSTED",
      `the cluster already records ${state.members.size} members, the most it allows`,
    );
  const changed =
    existing === undefined || existing.raftAddress !== member.raftAddress || existing.apiAddress !== member.apiAddress;
  if (changed) {
    state.members.set(member.id, { id: member.id, raftAddress: member.raftAddress, apiAddress: member.apiAddress });
    state.membersChanged = true;
  }
  return success({ kind: "member", id: member.id, changed });
}

/** Forgets a member's addresses; forgetting an unknown member changes nothing. */
export function applyMemberForget(state: ClusterState, command: MemberForgetCommand): ApplyResult {
  const changed = state.members.delete(command.id);
  if (changed) state.membersChanged = true;
  return success({ kind: "member", id: command.id, changed });
}
