/**
 * The leader controllers' ports (src/fsm/controller-ports.ts) on the real Raft node and FSM.
 * Everything the controllers need of RaftNode goes through this one file: its proposals, its
 * role changes and its applied index.
 */
import {
  encodeCommand,
  leaderCommandActor,
  LeaderBarrier,
  proposeOutcome,
  type ApplyResult,
  type ApplyValue,
  type ClusterFsm,
  type CommandBody,
  type ControllerPorts,
  type LeadershipSignal,
  type MembershipPort,
  type MembershipView,
  type ProposeOutcome,
  type Proposer,
} from "../fsm/index.js";
import { realClock, type Clock } from "../lib/clock.js";
import { OrchestratorError, type Result } from "../lib/errors.js";
import { learnerCatchUpEntriesMax } from "../raft/core/raft.js";
import type { MemberOperations } from "../api/member-operations.js";
import type { MembersDirectory } from "./members-directory.js";
import type { Logger } from "../lib/logger.js";
import type { RaftNode, RoleChange } from "../raft/io/raft-node.js";
import { RaftError } from "../raft/io/raft-error.js";
import { raftFailureStatus } from "../api/raft-failure-status.js";
import type { MembersView } from "../api/members-view.js";

/** One proposer and one leadership signal, shared by every controller of the replica. */
export function raftControllerPorts(
  node: RaftNode,
  fsm: ClusterFsm,
  logger: Logger,
  members: MembersView,
  clock: Clock = realClock,
): ControllerPorts {
  return {
    state: fsm,
    proposer: new RaftProposer(node, members, clock),
    leadership: raftLeadership(node, logger),
    clock,
  };
}

/**
 * Proposes the controllers' commands (no client id: the leader's own decisions skip the dedup
 * table) and answers with the FSM's result once the entry is applied here.
 */
export class RaftProposer implements Proposer {
  constructor(
    private readonly node: RaftNode,
    private readonly members: MembersView,
    private readonly clock: Clock,
  ) {}

  async propose<K extends ApplyValue["kind"]>(body: CommandBody, kind: K): Promise<ProposeOutcome<K>> {
    // Only the leader can propose; checked first so a deposed leader's controller learns at once.
    if (!this.node.isLeader()) return { ok: false, error: raftFailureStatus(this.node.notLeaderError(), this.members) };
    const data = encodeCommand({ clientId: "", seq: 0, atMs: this.clock.wallMs(), actor: leaderCommandActor, body });
    let result: ApplyResult;
    try {
      result = (await this.node.propose(data)) as ApplyResult;
    } catch (error) {
      // Not the leader any more, a timeout, too many in flight. A stopped or failed node (its
      // "fatal" event ends the process) is no more a controller's to handle: it just did not commit.
      if (error instanceof RaftError) return { ok: false, error: raftFailureStatus(error, this.members) };
      if (error instanceof OrchestratorError) return { ok: false, error };
      return { ok: false, error: new OrchestratorError("UNAVAILABLE", `not committed: ${String(error)}`) };
    }
    return proposeOutcome(result, kind);
  }
}

/** The barrier fed from the node: elected on becoming leader, applied as entries are applied. */
export function raftLeadership(node: RaftNode, logger: Logger): LeadershipSignal {
  const barrier = new LeaderBarrier();
  const elected = (): void => {
    const status = node.status();
    barrier.elected(status.term, status.lastIndex, status.applied);
    if (barrier.catchUpIndex !== null)
      logger.info(
        { term: status.term, role: "leader", applied: status.applied, catchUpIndex: barrier.catchUpIndex },
        "controllers wait for the log to be applied before acting",
      );
  };
  node.on("role-change", (change: RoleChange) => {
    if (change.role === "leader") elected();
    else barrier.deposed(change.term);
  });
  node.on("applied", (index: number) => barrier.applied(index));
  if (node.isLeader()) elected();
  return barrier;
}

/** The membership port on the real node: MemberOperations' checks, the directory's addresses. */
export function raftMembershipPort(
  node: RaftNode,
  operations: MemberOperations,
  directory: MembersDirectory,
): MembershipPort {
  const attempt = async (change: () => Promise<unknown>): Promise<Result<void, OrchestratorError>> => {
    try {
      await change();
      return { ok: true, value: undefined };
    } catch (error) {
      if (error instanceof RaftError) return { ok: false, error: raftFailureStatus(error, directory) };
      if (error instanceof OrchestratorError) return { ok: false, error };
      return { ok: false, error: new OrchestratorError("UNAVAILABLE", String(error)) };
    }
  };
  return {
    view(): MembershipView | null {
      if (!node.isLeader()) return null;
      const snapshot = operations.list();
      return {
        selfId: node.id,
        commit: snapshot.commit,
        catchUpEntriesMax: learnerCatchUpEntriesMax,
        members: snapshot.members.map((m) => ({
          id: m.id,
          suffrage: m.suffrage,
          match: m.match,
          lastContactAgoMs: m.lastContactAgoMs,
          recorded: directory.isRecorded(m.id),
          addresses: m.raftAddress === "" || m.apiAddress === "" ? null : { raft: m.raftAddress, api: m.apiAddress },
        })),
      };
    },
    record: (id, raftAddress, apiAddress) => attempt(() => operations.record(id, raftAddress, apiAddress)),
    promote: (id) => attempt(() => operations.promote(id)),
    remove: (id) => attempt(() => operations.remove(id)),
  };
}
