/**
 * The ports of the leader's controllers (scheduler, health, and the next ones), as Nomad's
 * scheduler takes a `State` and a `Planner`: a read-only view of the cluster state with its
 * change feed, a proposer with typed results, a leadership signal, and a clock. A controller
 * sees nothing else of the replica, so it runs in a test on the real FSM without Raft, on a
 * manual clock (test/controllers), and on the real Raft node in a replica
 * (src/server/controller-ports-raft.ts).
 */
import type { Clock } from "../lib/clock.js";
import type { OrchestratorError, Result } from "../lib/errors.js";
import type { ApplyValue } from "./apply-result.js";
import type { StateChange } from "./cluster-state.js";
import type { CommandBody } from "./commands.js";
import type { ContainerFilter, ContainerPage, DeploymentStatusSummary } from "./read-model.js";
import type { ContainerRecord, DeploymentRecord, NodeRecord, OperationRecord } from "./state.js";

/**
 * What the controllers read of the cluster state (ClusterFsm implements it). Records are live:
 * treat them as read-only, and do not keep one across an await.
 */
export interface ClusterReadView {
  /** The index of the last applied log entry. */
  readonly revision: number;
  getNode(id: string): Readonly<NodeRecord> | undefined;
  /** Sorted by id. */
  listNodes(): Readonly<NodeRecord>[];
  getContainer(id: string): Readonly<ContainerRecord> | undefined;
  /** Every container, in no particular order, without copying. */
  allContainers(): IterableIterator<Readonly<ContainerRecord>>;
  listContainers(filter?: ContainerFilter): ContainerPage;
  /** The deployment's record alone, O(1). */
  getDeploymentRecord(name: string): Readonly<DeploymentRecord> | undefined;
  /** Its status summary: O(the deployment's containers). */
  getDeploymentStatus(name: string): DeploymentStatusSummary | undefined;
  /** The revision of the last change to any of the deployment's containers (0: none yet). */
  containersRevision(name: string): number;
  /** Names of the deployments with unplaced containers, sorted. */
  deploymentsWithPending(): string[];
  pendingCount(name: string): number;
  /** A deployment's unplaced containers, by ordinal. */
  pendingContainers(deployment: string): Readonly<ContainerRecord>[];
  /** Open deployment operations, in the order they were opened. */
  openOperations(): OperationRecord[];
  /** Every change an applied entry made, after the entry is applied. Returns the unsubscribe function. */
  onChange(listener: (change: StateChange) => void): () => void;
  /** A snapshot replaced the whole state: resynchronise from it. Returns the unsubscribe function. */
  onRestore(listener: (revision: number) => void): () => void;
}

/**
 * What proposing a command came to: the FSM's value once the entry is applied, or why not (not
 * the leader, leadership lost, timed out, or the FSM refused the command), never a throw.
 */
export type ProposeOutcome<K extends ApplyValue["kind"]> = Result<Extract<ApplyValue, { kind: K }>, OrchestratorError>;

/**
 * Writes through the log. The proposer stamps the leader's wall clock into the command (the
 * FSM never reads a clock); `kind` is the value kind the command answers with.
 */
export interface Proposer {
  propose<K extends ApplyValue["kind"]>(body: CommandBody, kind: K): Promise<ProposeOutcome<K>>;
}

/**
 * "leading": this replica leads `term` and its FSM holds everything committed before the term
 * (it applied its own first entry of the term), so plans made from it are current. "stopped":
 * it no longer leads; it may come without a "leading" before it (leadership lost at the barrier).
 */
export type LeadershipChange =
  { readonly kind: "leading"; readonly term: number } | { readonly kind: "stopped"; readonly term: number };

export interface LeadershipSignal {
  /** Between a "leading" change and the next "stopped". */
  isLeader(): boolean;
  /** The latest term this replica knows of (for logs). */
  term(): number;
  /** Returns the unsubscribe function. */
  onChange(listener: (change: LeadershipChange) => void): () => void;
}

/** Everything a leader controller takes. */
export interface ControllerPorts {
  readonly state: ClusterReadView;
  readonly proposer: Proposer;
  readonly leadership: LeadershipSignal;
  readonly clock: Clock;
}

/** A member of the control plane as the leader sees it (the membership port's view). */
export interface MemberStatus {
  readonly id: string;
  readonly suffrage: "voter" | "learner" | "none";
  /** The highest log index known to be on it. */
  readonly match: number;
  /** Milliseconds since the leader last heard from it (0: the leader itself; null: not since it leads). */
  readonly lastContactAgoMs: number | null;
  /** Whether the replicated address table names it. */
  readonly recorded: boolean;
  /** The addresses this replica knows for it (the table's, else its flags'); null: none. */
  readonly addresses: { readonly raft: string; readonly api: string } | null;
}

/** The control plane's membership, on the leader only. */
export interface MembershipView {
  readonly selfId: string;
  readonly commit: number;
  /** A learner within this many entries of the commit index may be promoted. */
  readonly catchUpEntriesMax: number;
  readonly members: readonly MemberStatus[];
}

/**
 * What a membership controller takes besides the ordinary ports: the members with their
 * progress, and the changes it may make. Each change answers once applied here, or why not.
 */
export interface MembershipPort {
  /** null when this replica does not lead. */
  view(): MembershipView | null;
  /** Records (or corrects) a member's addresses in the replicated table. */
  record(id: string, raftAddress: string, apiAddress: string): Promise<Result<void, OrchestratorError>>;
  promote(id: string): Promise<Result<void, OrchestratorError>>;
  remove(id: string): Promise<Result<void, OrchestratorError>>;
}
