/**
 * Feasibility: can this node take one more container of the request? Each check names the
 * reason it refuses, in the FSM's order (a plan's rejections read the same as apply's), and a
 * node is counted once, under the first check it fails.
 */
import { assert } from "../../lib/assert.js";
import { noNode, type NodeIterator } from "./candidate-source.js";
import { statusCode, type NodeTable } from "./node-table.js";
import { rejectionReasons, type RejectionCount, type RejectionReason } from "./types.js";

/** What the checks need to know about the plan being built. */
export interface FeasibilityContext {
  readonly cpuMillicores: number;
  readonly memoryMib: number;
  readonly onePerNode: boolean;
  /** 1 for each region index the request allows. */
  readonly allowedRegion: Uint8Array;
  /** Replicas of the deployment on each ordinal, already there plus placed by this plan. */
  readonly replicas: Int32Array;
}

/** firstRejection's answer for a node that can take the container. */
export const feasible = -1;
export const rejectNotReady = 0;
export const rejectIneligible = 1;
export const rejectRegion = 2;
export const rejectCpu = 3;
export const rejectMemory = 4;
export const rejectOnePerNode = 5;

assert(rejectionReasons[rejectNotReady] === "node-not-ready", "reason codes follow rejectionReasons");
assert(rejectionReasons[rejectIneligible] === "node-ineligible", "reason codes follow rejectionReasons");
assert(rejectionReasons[rejectRegion] === "region-constraint", "reason codes follow rejectionReasons");
assert(rejectionReasons[rejectCpu] === "insufficient-cpu", "reason codes follow rejectionReasons");
assert(rejectionReasons[rejectMemory] === "insufficient-memory", "reason codes follow rejectionReasons");
assert(rejectionReasons[rejectOnePerNode] === "one-per-node", "reason codes follow rejectionReasons");

/** The first check the node fails (an index into rejectionReasons), or `feasible`. */
export function firstRejection(table: NodeTable, context: FeasibilityContext, ordinal: number): number {
  // The scheduler's draining: live, but cordoned or draining (see the io shell's nodeView).
  if (table.status[ordinal] === statusCode.draining) return rejectIneligible;
  if (table.status[ordinal] !== statusCode.ready) return rejectNotReady;
  if (context.allowedRegion[table.region[ordinal]] === 0) return rejectRegion;
  if (table.cpuAllocated[ordinal] + context.cpuMillicores > table.cpuCapacity[ordinal]) return rejectCpu;
  if (table.memoryAllocated[ordinal] + context.memoryMib > table.memoryCapacity[ordinal]) return rejectMemory;
  if (context.onePerNode && context.replicas[ordinal] > 0) return rejectOnePerNode;
  return feasible;
}

/** Containers the node can still take, counting resources only. */
export function containersThatFit(table: NodeTable, context: FeasibilityContext, ordinal: number): number {
  const byCpu = context.cpuMillicores === 0 ? Infinity : Math.floor(table.cpuFree(ordinal) / context.cpuMillicores);
  const byMemory = context.memoryMib === 0 ? Infinity : Math.floor(table.memoryFree(ordinal) / context.memoryMib);
  return Math.min(byCpu, byMemory);
}

/**
 * Why no node can take the request: every live node counted under its first failing check.
 * O(nodes), run once per plan that leaves something unplaced. A node that passes every check
 * here is a bug in the search, which must have found it.
 */
export function countRejections(table: NodeTable, context: FeasibilityContext): RejectionCount[] {
  const counts = new Array<number>(rejectionReasons.length).fill(0);
  for (let ordinal = 0; ordinal < table.size; ordinal++) {
    if (!table.isLive(ordinal)) continue;
    const reason = firstRejection(table, context, ordinal);
    assert(reason !== feasible, `node ${table.ids[ordinal]} can take the container but the search did not find it`);
    counts[reason] += 1;
  }
  const result: RejectionCount[] = [];
  rejectionReasons.forEach((reason, code) => {
    if (counts[code] > 0) result.push({ reason, count: counts[code] });
  });
  return result;
}

const reasonWords: Readonly<Record<RejectionReason, string>> = {
  "node-not-ready": "not ready",
  "node-ineligible": "ineligible (cordoned or draining)",
  "region-constraint": "region constraint",
  "insufficient-cpu": "insufficient cpu",
  "insufficient-memory": "insufficient memory",
  "one-per-node": "already running a replica (one per node)",
};

/** "0/9 nodes: 6 insufficient memory, 3 region constraint": largest counts first, then check order. */
export function pendingSentence(rejections: readonly RejectionCount[], nodeCount: number): string {
  if (nodeCount === 0) return "0/0 nodes: no nodes registered";
  const order = (reason: RejectionReason): number => rejectionReasons.indexOf(reason);
  const parts = [...rejections]
    .sort((a, b) => b.count - a.count || order(a.reason) - order(b.reason))
    .map(({ reason, count }) => `${count} ${reasonWords[reason]}`);
  return `0/${nodeCount} nodes: ${parts.join(", ")}`;
}

/**
 * The feasibility stage: passes on the candidates every check accepts and skips the rest.
 * `visitsMax` lets the limit stage cap the search once it holds a candidate.
 */
export class FeasibilityFilter implements NodeIterator {
  /** Candidates pulled from the source in this search. */
  visits = 0;
  visitsMax = Infinity;
  private source: NodeIterator | null = null;
  private table: NodeTable | null = null;
  private context: FeasibilityContext | null = null;

  reset(source: NodeIterator, table: NodeTable, context: FeasibilityContext): void {
    this.source = source;
    this.table = table;
    this.context = context;
    this.visits = 0;
    this.visitsMax = Infinity;
  }

  next(): number {
    const source = this.source as NodeIterator;
    const table = this.table as NodeTable;
    const context = this.context as FeasibilityContext;
    while (this.visits < this.visitsMax) {
      const ordinal = source.next();
      if (ordinal === noNode) return noNode;
      this.visits += 1;
      if (firstRejection(table, context, ordinal) === feasible) return ordinal;
    }
    return noNode;
  }
}
