/**
 * The plain data types of the Raft core. They mirror proto/raft/v1/raft.proto; the io/
 * shell converts between the two so the core never touches generated code.
 */

/** A replica's id, e.g. "r1". The empty string means "nobody". */
export type ReplicaId = string;
export const NO_REPLICA: ReplicaId = "";

export type EntryType = "normal" | "conf-change";

export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly type: EntryType;
  /** The command for the state machine, or an encoded ConfChange. Empty for a leader's no-op. */
  readonly data: Uint8Array;
}

/** What must be durable before any message that depends on it leaves the replica. */
export interface HardState {
  readonly term: number;
  readonly vote: ReplicaId;
  readonly commit: number;
}

export interface ConfState {
  readonly voters: readonly ReplicaId[];
  readonly learners: readonly ReplicaId[];
}

/**
 * Membership changes happen one server at a time; new servers join as learners first.
 * "add-voter" appears only in the bootstrap entries that start a new cluster's log.
 */
export type ConfChange =
  | { readonly type: "add-voter"; readonly replica: ReplicaId }
  | { readonly type: "add-learner"; readonly replica: ReplicaId }
  | { readonly type: "promote-learner"; readonly replica: ReplicaId }
  | { readonly type: "remove"; readonly replica: ReplicaId };

export interface SnapshotMeta {
  /** The last log index the snapshot covers. */
  readonly index: number;
  readonly term: number;
  /** The configuration as of `index`. */
  readonly conf: ConfState;
}

export interface Snapshot {
  readonly meta: SnapshotMeta;
  readonly data: Uint8Array;
}

export type Role = "follower" | "pre-candidate" | "candidate" | "leader";

/** Volatile state that the application may want to observe; never persisted. */
export interface SoftState {
  readonly leader: ReplicaId;
  readonly role: Role;
}

/** A confirmed linearizable read: once `index` is applied, reading the state is linearizable. */
export interface ReadState {
  readonly index: number;
  readonly context: string;
}

export type MessageType =
  | "vote"
  | "vote-resp"
  | "pre-vote"
  | "pre-vote-resp"
  | "append"
  | "append-resp"
  | "heartbeat"
  | "heartbeat-resp"
  | "snapshot"
  | "timeout-now"
  | "read-index"
  | "read-index-resp";

/**
 * One message between replicas. Flat like the wire format: fields a type does not use
 * keep their zero values (see `message()`).
 */
export interface Message {
  readonly type: MessageType;
  readonly from: ReplicaId;
  readonly to: ReplicaId;
  readonly term: number;
  /**
   * append: index of the entry before `entries`; (pre-)vote: the candidate's last index;
   * heartbeat(-resp): the leader's tick count when sent, echoed back (the lease-read clock).
   */
  readonly logIndex: number;
  /** append: term of the entry at logIndex; (pre-)vote: the candidate's last term; append-resp reject: term at rejectHint. */
  readonly logTerm: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
  readonly reject: boolean;
  /** append-resp: last index matched (accept) or the rejected index (reject); read-index-resp: read index. */
  readonly index: number;
  /** append-resp reject: the follower's best guess of where the leader should probe next. */
  readonly rejectHint: number;
  /** (pre-)vote sent on a leadership transfer: ignore the recent-leader check. */
  readonly force: boolean;
  /** heartbeat(-resp), read-index(-resp): the read request being confirmed. */
  readonly context: string;
  readonly snapshot: Snapshot | null;
}

export function message(fields: Pick<Message, "type" | "from" | "to" | "term"> & Partial<Message>): Message {
  return {
    logIndex: 0,
    logTerm: 0,
    entries: [],
    commit: 0,
    reject: false,
    index: 0,
    rejectHint: 0,
    force: false,
    context: "",
    snapshot: null,
    ...fields,
  };
}

export function isResponse(type: MessageType): boolean {
  return (
    type === "vote-resp" ||
    type === "pre-vote-resp" ||
    type === "append-resp" ||
    type === "heartbeat-resp" ||
    type === "read-index-resp"
  );
}

export function entryBytes(entry: Entry): number {
  // Fixed overhead roughly matching the encoded size of the metadata.
  return entry.data.byteLength + 16;
}

export function isEmptyHardState(hs: HardState): boolean {
  return hs.term === 0 && hs.vote === NO_REPLICA && hs.commit === 0;
}

export const EMPTY_HARD_STATE: HardState = { term: 0, vote: NO_REPLICA, commit: 0 };
