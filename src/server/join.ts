import * as grpc from "@grpc/grpc-js";
import {
  MemberListRequest,
  OrchestratorServiceService,
  type MemberListResponse,
} from "../gen/orchestrator/v1/orchestrator.js";
import { LeaderFollowingClient, unaryCall, type MethodDefinition } from "../lib/leader-following-client.js";
import type { RetryPolicy } from "../lib/retry-policy.js";
import { RpcFailure } from "../lib/rpc-failure.js";
import type { MemberAddresses } from "../api/members-view.js";

/** How a joining replica asks the cluster who its members are. */
export const joinLimits = {
  /** Asking the cluster gives up after this long: with a new data directory, start fails. */
  askTimeoutMs: 30_000,
  /** With data already on disk the replica can start from it: ask only briefly. */
  askWithDataTimeoutMs: 3_000,
  attemptTimeoutMs: 3_000,
} as const;

const joinRetryPolicy: RetryPolicy = {
  retryableCodes: new Set([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED, grpc.status.ABORTED]),
  roundsMax: Infinity,
  backoff: { initialMs: 100, factor: 2, maxMs: 1_000, jitter: "upward" },
  deadlineMs: joinLimits.askTimeoutMs,
  attemptTimeoutMsMax: joinLimits.attemptTimeoutMs,
  leaderRedirectsPerAttemptMax: 3,
  answererIsLeader: true,
};

export interface JoinAnswer {
  /** Every member's addresses, this replica's included. */
  readonly members: ReadonlyMap<string, MemberAddresses>;
  readonly clusterId: string;
  readonly leaderId: string;
}

/** Why a replica may not join, as a sentence a person can act on (null: it may). */
export function joinRefusal(
  answer: MemberListResponse,
  id: string,
  raftAddress: string,
  apiAddress: string,
): string | null {
  const self = answer.members.find((m) => m.id === id);
  const addCommand = `orchctl member add ${id} --raft ${raftAddress} --api ${apiAddress}`;
  if (self === undefined || self.suffrage === "none")
    return `replica ${id} is not a member of the cluster (members: ${answer.members.map((m) => m.id).join(", ")}); run \`${addCommand}\` first`;
  if (self.raftAddress !== raftAddress || self.apiAddress !== apiAddress)
    return `the cluster lists ${id} at --raft ${self.raftAddress} --api ${self.apiAddress}, not --raft ${raftAddress} --api ${apiAddress}: start it with those, or \`orchctl member remove ${id}\` and run \`${addCommand}\``;
  return null;
}

/**
 * Asks the cluster at `endpoints` (through the leader: only it knows the membership) for its
 * members and their addresses. Rejects with an Error whose message says what went wrong.
 */
export async function askCluster(
  endpoints: readonly string[],
  timeoutMs: number,
  credentials?: grpc.ChannelCredentials,
): Promise<{ response: MemberListResponse; answer: JoinAnswer }> {
  const client = new LeaderFollowingClient({
    endpoints,
    policy: { ...joinRetryPolicy, deadlineMs: timeoutMs },
    ...(credentials !== undefined ? { credentials } : {}),
  });
  const definition = OrchestratorServiceService.memberList as unknown as MethodDefinition<
    MemberListRequest,
    MemberListResponse
  >;
  try {
    const response = await client.call((channel, address, attemptTimeoutMs) =>
      unaryCall(channel, address, definition, MemberListRequest.fromPartial({}), attemptTimeoutMs),
    );
    const members = new Map<string, MemberAddresses>();
    for (const m of response.members)
      if (m.suffrage !== "none" && m.raftAddress !== "" && m.apiAddress !== "")
        members.set(m.id, { raft: m.raftAddress, api: m.apiAddress });
    return { response, answer: { members, clusterId: response.clusterId, leaderId: response.leaderId } };
  } catch (error) {
    const detail = error instanceof RpcFailure ? `${error.statusName}: ${error.shortDetails}` : String(error);
    throw new Error(`--join ${endpoints.join(",")}: could not get the cluster's members (${detail})`, {
      cause: error,
    });
  } finally {
    client.close();
  }
}
