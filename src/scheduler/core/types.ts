/**
 * The scheduler core's own view of the cluster and of its output. The core defines these plain
 * shapes itself (it may not import the FSM); the io shell converts FSM records into NodeViews and
 * a Plan into an apply-plan command.
 */

export type Region = string;
export type NodeStatus = "ready" | "down" | "draining";
export type Strategy = "binpack" | "spread" | "latency";

/** One node as the scheduler sees it: what it has, what is already promised, whether it takes work. */
export interface NodeView {
  readonly id: string;
  readonly region: Region;
  readonly cpuCapacity: number;
  readonly memoryCapacity: number;
  /** Invariant: cpuAllocated <= cpuCapacity (the FSM never over-commits, and neither does a plan). */
  readonly cpuAllocated: number;
  /** Invariant: memoryAllocated <= memoryCapacity. */
  readonly memoryAllocated: number;
  readonly status: NodeStatus;
}

/** Where to put the pending containers of one deployment version; every container asks the same. */
export interface PlacementRequest {
  readonly deployment: string;
  readonly deploymentVersion: number;
  readonly cpuMillicores: number;
  readonly memoryMib: number;
  readonly strategy: Strategy;
  /** Allowed regions; empty allows every region. */
  readonly regions: readonly Region[];
  /** Where the deployment's clients are, for the latency strategy. */
  readonly clientRegions: readonly Region[];
  /** At most one replica of this deployment per node, counting those already there. */
  readonly onePerNode: boolean;
  /** Pending containers to place, in order: the plan places a prefix of this list. */
  readonly containerIds: readonly string[];
  /** Replicas of this deployment already holding capacity, by node id. */
  readonly existing: ReadonlyMap<string, number>;
}

export interface Placement {
  readonly containerId: string;
  readonly nodeId: string;
}

/**
 * Why a node cannot take a container, in the order the checks run (the FSM re-checks a plan in
 * the same order, with the same names).
 */
export type RejectionReason =
  | "node-not-ready"
  | "node-ineligible"
  | "region-constraint"
  | "insufficient-cpu"
  | "insufficient-memory"
  | "one-per-node";

export const rejectionReasons: readonly RejectionReason[] = [
  "node-not-ready",
  "node-ineligible",
  "region-constraint",
  "insufficient-cpu",
  "insufficient-memory",
  "one-per-node",
];

export interface RejectionCount {
  readonly reason: RejectionReason;
  readonly count: number;
}

/** What the leader proposes through the log; the FSM re-checks every placement when it applies it. */
export interface Plan {
  readonly planId: string;
  /** The PRNG seed the plan was drawn with: planning again with it reproduces the plan. */
  readonly seed: number;
  readonly deployment: string;
  readonly deploymentVersion: number;
  /** In containerIds order; runs of placements on one node come from one batch. */
  readonly placements: Placement[];
  /** Container ids that fit nowhere (a suffix of the request's containerIds). */
  readonly unplaced: string[];
  /**
   * Why the last unplaced container fits nowhere: every node counted once, under the first check
   * it fails; the counts add up to the number of nodes. Empty when everything was placed.
   */
  readonly rejections: RejectionCount[];
  /** The same as a sentence, "0/9 nodes: 6 insufficient memory, 3 region constraint"; "" when everything was placed. */
  readonly pendingReason: string;
}
