import type {
  MemberAddRequest,
  MemberAddResponse,
  MemberListResponse,
  MemberPromoteRequest,
  MemberPromoteResponse,
  MemberRemoveRequest,
  MemberRemoveResponse,
} from "../gen/orchestrator/v1/orchestrator.js";
import type { RaftNode } from "../raft/io/raft-node.js";
import { memberToProto, type MemberOperations } from "./member-operations.js";

/** The Member* RPCs: thin wrappers of MemberOperations (leader only; followers redirect). */
export function createMemberHandlers(node: RaftNode, operations: MemberOperations) {
  return {
    memberList: async (): Promise<MemberListResponse> => {
      const snapshot = operations.list();
      return {
        leaderId: snapshot.leaderId,
        term: snapshot.term,
        commitIndex: snapshot.commit,
        members: snapshot.members.map(memberToProto),
        clusterId: node.clusterId,
      };
    },
    memberAdd: async (request: MemberAddRequest): Promise<MemberAddResponse> => ({
      member: memberToProto(await operations.add(request.id, request.raftAddress, request.apiAddress)),
    }),
    memberPromote: async (request: MemberPromoteRequest): Promise<MemberPromoteResponse> => ({
      member: memberToProto(await operations.promote(request.id)),
    }),
    memberRemove: async (request: MemberRemoveRequest): Promise<MemberRemoveResponse> => ({
      members: (await operations.remove(request.id)).members.map(memberToProto),
    }),
  };
}
