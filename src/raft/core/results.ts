import type { ConfState, ReplicaId, Role } from "./types.js";

// What the core answers to its inputs. Apart from raw-node.ts so that raft.ts and raw-node.ts
// both import them without importing each other.

export type ProposeError =
  /** Only the leader accepts proposals; `leader` says who that is, when known. */
  | "not-leader"
  /** A leadership transfer is under way; retry on the new leader. */
  | "transfer-in-progress"
  /** Too many bytes proposed but not yet committed: back off. */
  | "uncommitted-limit"
  /** The proposal alone is larger than a message may be. */
  | "too-large"
  /** Another membership change has not been applied yet. */
  | "conf-change-pending"
  /** The change makes no sense for the current configuration. */
  | "invalid-conf-change";

export type ProposeResult =
  | { readonly ok: true; readonly index: number; readonly term: number }
  | { readonly ok: false; readonly error: ProposeError; readonly leader: ReplicaId };

export type ReadIndexError = "not-leader" | "too-many-reads";
export type ReadIndexResult =
  { readonly ok: true } | { readonly ok: false; readonly error: ReadIndexError; readonly leader: ReplicaId };

export interface ProgressStatus {
  readonly match: number;
  readonly next: number;
  readonly state: "probe" | "replicate" | "snapshot";
  readonly recentActive: boolean;
}

export interface Status {
  readonly id: ReplicaId;
  readonly term: number;
  readonly vote: ReplicaId;
  readonly commit: number;
  readonly applied: number;
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly role: Role;
  readonly leader: ReplicaId;
  readonly conf: ConfState;
  readonly leadTransferee: ReplicaId;
  /** Per-replica replication progress; only on the leader. */
  readonly progress: ReadonlyMap<ReplicaId, ProgressStatus>;
}

/** The few fields a driver reads on every request: cheap, unlike Status (no progress map). */
export interface BasicStatus {
  readonly term: number;
  readonly role: Role;
  readonly leader: ReplicaId;
}
