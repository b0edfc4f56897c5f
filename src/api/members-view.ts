/** A replica's two addresses: where its peers reach its Raft transport, where clients reach its API. */
export interface MemberAddresses {
  readonly raft: string;
  readonly api: string;
}

/**
 * What the API knows of the cluster's members: their addresses, by replica id. Raft knows only
 * the Raft addresses; the server's members directory implements this, so a follower can name
 * the leader's API address when it redirects a client.
 */
export interface MembersView {
  /** The replica ids, sorted. */
  ids(): readonly string[];
  addresses(id: string): MemberAddresses | undefined;
}
