import type { MemberAddresses, MembersView } from "../api/members-view.js";
import type { ReplicaId } from "../raft/core/types.js";
import { derivedApiAddress } from "./peers.js";

/**
 * The cluster's members and both their addresses, from --peers and --peer-apis. Raft gets the
 * Raft addresses only; the API reads the rest through MembersView (etcd keeps client URLs in
 * its membership, out of the raft package, the same way).
 */
export class MembersDirectory implements MembersView {
  private readonly members: ReadonlyMap<ReplicaId, MemberAddresses>;

  constructor(members: ReadonlyMap<ReplicaId, MemberAddresses>) {
    this.members = new Map([...members].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }

  /**
   * Joins the Raft addresses with the API addresses. Without --peer-apis, the default local
   * layout is assumed: Raft port 700i serves API port 5005i on the same host.
   */
  static fromFlags(
    raft: ReadonlyMap<ReplicaId, string>,
    apis: ReadonlyMap<ReplicaId, string> | undefined,
  ): MembersDirectory {
    const members = new Map<ReplicaId, MemberAddresses>();
    for (const [id, raftAddress] of raft) {
      const api = apis?.get(id) ?? derivedApiAddress(id, raftAddress);
      members.set(id, { raft: raftAddress, api });
    }
    return new MembersDirectory(members);
  }

  /** The same members, with `id` serving its API at `api` (an explicit --api). */
  withApi(id: ReplicaId, api: string): MembersDirectory {
    const members = new Map(this.members);
    const self = members.get(id);
    if (self !== undefined) members.set(id, { raft: self.raft, api });
    return new MembersDirectory(members);
  }

  ids(): readonly ReplicaId[] {
    return [...this.members.keys()];
  }

  addresses(id: ReplicaId): MemberAddresses | undefined {
    return this.members.get(id);
  }

  /** What RaftNode takes: replica id -> Raft address. */
  raftAddresses(): ReadonlyMap<ReplicaId, string> {
    return new Map([...this.members].map(([id, addresses]) => [id, addresses.raft]));
  }

  /** For the "replica started" log line. */
  toJSON(): Record<ReplicaId, MemberAddresses> {
    return Object.fromEntries(this.members);
  }
}
