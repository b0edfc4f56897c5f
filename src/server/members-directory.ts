import type { MemberAddresses, MembersView } from "../api/members-view.js";
import type { ConfState, ReplicaId } from "../raft/core/types.js";
import { derivedApiAddress } from "./peers.js";

/** One row of the replicated address table (the FSM's MemberAddressRecord). */
export interface MemberAddressEntry {
  readonly id: ReplicaId;
  readonly raftAddress: string;
  readonly apiAddress: string;
}

/**
 * The cluster's members and both their addresses. The replicated address table (the FSM's,
 * updated as entries apply and snapshots restore) is the truth; what the flags said (--peers,
 * --peer-apis, or the answer a joining replica got) only fills in members the table does not
 * name yet, and only while Raft's configuration still holds them. Raft gets the Raft addresses
 * only; the API reads the rest through MembersView (etcd keeps client URLs in its membership,
 * out of the raft package, the same way).
 */
export class MembersDirectory implements MembersView {
  private readonly seed: ReadonlyMap<ReplicaId, MemberAddresses>;
  private table: ReadonlyMap<ReplicaId, MemberAddresses> = new Map();
  /** Raft's configuration once known (null: not yet; the seed stands for it). */
  private conf: ConfState | null = null;
  private readonly listeners = new Set<() => void>();

  constructor(
    members: ReadonlyMap<ReplicaId, MemberAddresses>,
    /** This replica: always present with the addresses it serves on, whatever the table says. */
    private readonly self?: { readonly id: ReplicaId; readonly addresses: MemberAddresses },
  ) {
    this.seed = new Map(members);
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

  /** The same members, with `id` serving its API at `api` (an explicit --api); `id` is this replica. */
  withApi(id: ReplicaId, api: string): MembersDirectory {
    const members = new Map(this.seed);
    const self = members.get(id);
    if (self !== undefined) members.set(id, { raft: self.raft, api });
    return new MembersDirectory(members, self === undefined ? undefined : { id, addresses: { raft: self.raft, api } });
  }

  /** The same seed, knowing which member this replica is (its addresses win over any record). */
  withSelf(id: ReplicaId, addresses: MemberAddresses): MembersDirectory {
    const members = new Map(this.seed);
    members.set(id, addresses);
    return new MembersDirectory(members, { id, addresses });
  }

  /** Ids with addresses: the configuration's members and the table's, sorted. */
  ids(): readonly ReplicaId[] {
    const ids = new Set<ReplicaId>(this.table.keys());
    if (this.conf === null) for (const id of this.seed.keys()) ids.add(id);
    else for (const id of [...this.conf.voters, ...this.conf.learners]) ids.add(id);
    if (this.self !== undefined) ids.add(this.self.id);
    return [...ids].sort();
  }

  addresses(id: ReplicaId): MemberAddresses | undefined {
    if (this.self !== undefined && id === this.self.id) return this.self.addresses;
    return this.table.get(id) ?? this.seed.get(id);
  }

  /** Whether the replicated table names `id` (not only the flags). */
  isRecorded(id: ReplicaId): boolean {
    return this.table.has(id);
  }

  /** What the transport takes: replica id -> Raft address of every member with an address, self included. */
  raftAddresses(): ReadonlyMap<ReplicaId, string> {
    const peers = new Map<ReplicaId, string>();
    for (const id of this.ids()) {
      const addresses = this.addresses(id);
      if (addresses !== undefined) peers.set(id, addresses.raft);
    }
    return peers;
  }

  /** The replicated table changed (apply or restore). Listeners run if the addresses changed. */
  setTable(entries: readonly MemberAddressEntry[]): void {
    this.update(() => {
      this.table = new Map(entries.map((e) => [e.id, { raft: e.raftAddress, api: e.apiAddress }]));
    });
  }

  /** Raft's configuration changed. Listeners run if the addresses changed. */
  setConf(conf: ConfState): void {
    this.update(() => {
      this.conf = { voters: [...conf.voters], learners: [...conf.learners] };
    });
  }

  /** Hears every change of the addresses (ids or either address). Returns the unsubscribe function. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** For the "replica started" log line. */
  toJSON(): Record<ReplicaId, MemberAddresses> {
    return Object.fromEntries(
      this.ids().flatMap((id) => {
        const addresses = this.addresses(id);
        return addresses === undefined ? [] : [[id, addresses] as const];
      }),
    );
  }

  private update(change: () => void): void {
    const before = JSON.stringify(this.toJSON());
    change();
    if (JSON.stringify(this.toJSON()) === before) return;
    for (const listener of this.listeners) listener();
  }
}
