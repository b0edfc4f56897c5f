/**
 * Membership operations on the leader: list the members with their replication progress, add a
 * learner, promote a caught-up learner, remove a member. Each refuses with a status a person can
 * act on before anything changes. Raft's configuration (conf-change entries) says who votes;
 * the FSM's address table says where each member listens, so an add records the addresses
 * first (every replica's transport then knows the new member before Raft sends to it) and a
 * remove forgets them last.
 */
import {
  encodeCommand,
  memberAddressProblem,
  type ApplyResult,
  type ClusterFsm,
  type CommandBody,
} from "../fsm/index.js";
import type { Member } from "../gen/orchestrator/v1/orchestrator.js";
import { OrchestratorError } from "../lib/errors.js";
import { learnerCatchUpEntriesMax } from "../raft/core/raft.js";
import type { Status } from "../raft/core/results.js";
import type { ReplicaId } from "../raft/core/types.js";
import type { RaftNode } from "../raft/io/raft-node.js";
import { RaftError } from "../raft/io/raft-error.js";
import { memberLimits } from "./member-limits.js";
import type { MembersView } from "./members-view.js";

export type Suffrage = "voter" | "learner" | "none";

/** A member as the leader sees it. */
export interface MemberProgress {
  readonly id: ReplicaId;
  readonly raftAddress: string;
  readonly apiAddress: string;
  readonly suffrage: Suffrage;
  readonly isLeader: boolean;
  /** The highest log index known to be on the member (the leader's own last index for itself). */
  readonly match: number;
  /** Milliseconds since the leader last heard from it; 0 for the leader itself, null: never since it leads. */
  readonly lastContactAgoMs: number | null;
  readonly reachable: boolean;
}

export interface MemberSnapshot {
  readonly leaderId: ReplicaId;
  readonly term: number;
  readonly commit: number;
  readonly members: readonly MemberProgress[];
}

export class MemberOperations {
  constructor(
    private readonly node: RaftNode,
    private readonly fsm: Pick<ClusterFsm, "memberAddresses">,
    private readonly directory: MembersView,
    private readonly nowMs: () => number = Date.now,
  ) {}

  /** Leader only: every member of the configuration or the address table, with its progress. */
  list(): MemberSnapshot {
    const status = this.leaderStatus();
    const ids = new Set<ReplicaId>([...status.conf.voters, ...status.conf.learners, ...this.directory.ids()]);
    const members = [...ids].sort().map((id) => this.progressOf(id, status));
    return { leaderId: status.id, term: status.term, commit: status.commit, members };
  }

  /** Adds `id` as a learner at the given addresses. */
  async add(id: ReplicaId, raftAddress: string, apiAddress: string): Promise<MemberProgress> {
    const problem = memberAddressProblem(id, raftAddress, apiAddress);
    if (problem !== null) throw new OrchestratorError("INVALID_ARGUMENT", problem);
    const status = this.leaderStatus();
    const suffrage = suffrageOf(id, status);
    if (suffrage !== "none")
      throw new OrchestratorError(
        "ALREADY_EXISTS",
        `member ${id} already exists (a ${suffrage}); to replace it, run \`orchctl member remove ${id}\` first`,
      );
    for (const other of this.directory.ids()) {
      if (other === id || suffrageOf(other, status) === "none") continue;
      const addresses = this.directory.addresses(other);
      const clash = [addresses?.raft, addresses?.api].find((a) => a === raftAddress || a === apiAddress);
      if (clash !== undefined)
        throw new OrchestratorError(
          "ALREADY_EXISTS",
          `member ${other} already uses ${clash}; give ${id} other addresses`,
        );
    }
    await this.proposeFsm({ kind: "member-set", memberSet: { member: { id, raftAddress, apiAddress } } });
    await this.confChange({ type: "add-learner", replica: id });
    return this.progressOf(id, this.leaderStatus());
  }

  /** Records (or corrects) `id`'s addresses in the replicated table, without changing the configuration. */
  async record(id: ReplicaId, raftAddress: string, apiAddress: string): Promise<void> {
    const problem = memberAddressProblem(id, raftAddress, apiAddress);
    if (problem !== null) throw new OrchestratorError("INVALID_ARGUMENT", problem);
    this.leaderStatus();
    await this.proposeFsm({ kind: "member-set", memberSet: { member: { id, raftAddress, apiAddress } } });
  }

  /** Promotes learner `id` to voter; refused while it is behind. */
  async promote(id: ReplicaId): Promise<MemberProgress> {
    const status = this.leaderStatus();
    const suffrage = suffrageOf(id, status);
    if (suffrage === "none") throw unknownMember(id, status);
    if (suffrage === "voter") throw new OrchestratorError("FAILED_PRECONDITION", `member ${id} is already a voter`);
    const match = status.progress.get(id)?.match ?? 0;
    const behind = status.commit - match;
    if (behind > learnerCatchUpEntriesMax)
      throw new OrchestratorError(
        "FAILED_PRECONDITION",
        `learner ${id} is ${behind} entries behind (it has ${match} of ${status.commit}); a learner is promoted only within ${learnerCatchUpEntriesMax} entries of the leader: wait for it to catch up (\`orchctl member list\` shows its match index)`,
      );
    await this.confChange({ type: "promote-learner", replica: id });
    return this.progressOf(id, this.leaderStatus());
  }

  /**
   * Removes `id`. Refused when it would leave no voter, or fewer reachable voters than the
   * remaining configuration's quorum (the cluster could not commit its next write). Removing
   * the leader hands leadership to another voter first and answers not-leader, so the client
   * follows the redirect and the new leader removes the old one.
   */
  async remove(id: ReplicaId): Promise<MemberSnapshot> {
    const status = this.leaderStatus();
    const suffrage = suffrageOf(id, status);
    if (suffrage === "none") {
      if (!this.isRecorded(id)) throw unknownMember(id, status);
      // Only its addresses are left (an add or a remove cut short): forget them.
      await this.proposeFsm({ kind: "member-forget", memberForget: { id } });
      return this.list();
    }
    if (suffrage === "voter") this.checkQuorumAfterRemoving(id, status);
    if (id === status.id) {
      const to = await this.node.transferLeadership(undefined, memberLimits.leaderTransferTimeoutMs);
      throw this.node.notLeaderError(to);
    }
    await this.confChange({ type: "remove", replica: id });
    await this.proposeFsm({ kind: "member-forget", memberForget: { id } });
    return this.list();
  }

  private checkQuorumAfterRemoving(id: ReplicaId, status: Status): void {
    const remaining = status.conf.voters.filter((v) => v !== id);
    if (remaining.length === 0)
      throw new OrchestratorError(
        "FAILED_PRECONDITION",
        `${id} is the last voter: removing it would leave no cluster; add and promote another member first`,
      );
    const reachable = remaining.filter((v) => this.progressOf(v, status).reachable);
    const quorum = Math.floor(remaining.length / 2) + 1;
    if (reachable.length < quorum)
      throw new OrchestratorError(
        "FAILED_PRECONDITION",
        `removing ${id} would leave voters ${remaining.join(", ")} of which only ${reachable.length} ${reachable.length === 1 ? "is" : "are"} reachable, fewer than their quorum of ${quorum}: bring a voter back first`,
      );
  }

  private progressOf(id: ReplicaId, status: Status): MemberProgress {
    const addresses = this.directory.addresses(id);
    const isSelf = id === status.id;
    const heard = isSelf ? this.nowMs() : this.node.lastHeardFromMs(id);
    const lastContactAgoMs = heard === undefined ? null : Math.max(0, this.nowMs() - heard);
    return {
      id,
      raftAddress: addresses?.raft ?? "",
      apiAddress: addresses?.api ?? "",
      suffrage: suffrageOf(id, status),
      isLeader: id === status.leader,
      match: isSelf ? status.lastIndex : (status.progress.get(id)?.match ?? 0),
      lastContactAgoMs,
      reachable: lastContactAgoMs !== null && lastContactAgoMs <= memberLimits.reachableWithinMs,
    };
  }

  private isRecorded(id: ReplicaId): boolean {
    return this.fsm.memberAddresses().some((m) => m.id === id);
  }

  private leaderStatus(): Status {
    if (!this.node.isLeader()) throw this.node.notLeaderError();
    return this.node.status();
  }

  private async confChange(change: Parameters<RaftNode["proposeConfChange"]>[0]): Promise<void> {
    try {
      await this.node.proposeConfChange(change);
    } catch (error) {
      if (error instanceof RaftError && error.reason.kind === "conf-change-refused") {
        const detail =
          error.reason.detail === "conf-change-pending"
            ? "another membership change is still being applied; retry in a moment"
            : `Raft refused ${change.type} of ${change.replica} for the current configuration`;
        throw new OrchestratorError("FAILED_PRECONDITION", detail);
      }
      throw error;
    }
  }

  /** The leader's own command (no client session: member operations are idempotent or checked). */
  private async proposeFsm(body: CommandBody): Promise<void> {
    const data = encodeCommand({ clientId: "", seq: 0, atMs: this.nowMs(), body });
    const result = (await this.node.propose(data)) as ApplyResult;
    if (!result.ok) throw new OrchestratorError(result.code, result.message);
  }
}

/** Voter, learner or none, in the configuration `status` reports. */
export function suffrageOf(id: ReplicaId, status: Pick<Status, "conf">): Suffrage {
  if (status.conf.voters.includes(id)) return "voter";
  if (status.conf.learners.includes(id)) return "learner";
  return "none";
}

function unknownMember(id: ReplicaId, status: Status): OrchestratorError {
  const members = [...status.conf.voters, ...status.conf.learners].sort().join(", ");
  return new OrchestratorError(
    "NOT_FOUND",
    `${id} is not a member (members: ${members}); \`orchctl member list\` shows them`,
  );
}

/** The wire form of a member (orchestrator.v1.Member). */
export function memberToProto(member: MemberProgress): Member {
  return {
    id: member.id,
    raftAddress: member.raftAddress,
    apiAddress: member.apiAddress,
    role: member.isLeader ? "leader" : member.suffrage === "voter" ? "follower" : member.suffrage,
    matchIndex: member.match,
    reachable: member.reachable,
    suffrage: member.suffrage,
    lastContactMs: member.lastContactAgoMs ?? -1,
  };
}
