/**
 * Ranking: a score per feasible candidate, higher is better. Binpack scores the fit a placement
 * leaves; spread scores how few replicas of the deployment the node has, then how empty it is.
 */
import type { FeasibilityContext } from "./feasibility.js";
import { noNode, type NodeIterator } from "./candidate-source.js";
import { share, type NodeTable } from "./node-table.js";

export type RankMode = "binpack" | "spread";

/**
 * Best fit on the more loaded dimension after placement (fuller is better), the other dimension
 * breaking near-ties: a node left 90% full on memory beats one left 60% full on cpu and memory.
 */
export function binpackScore(table: NodeTable, context: FeasibilityContext, ordinal: number): number {
  const cpu = share(table.cpuAllocated[ordinal] + context.cpuMillicores, table.cpuCapacity[ordinal]);
  const memory = share(table.memoryAllocated[ordinal] + context.memoryMib, table.memoryCapacity[ordinal]);
  return cpu > memory ? cpu + memory / 1024 : memory + cpu / 1024;
}

/**
 * Fewest replicas of this deployment first (one replica outweighs any amount of free capacity),
 * then least allocated after placement on the more loaded dimension.
 */
export function spreadScore(table: NodeTable, context: FeasibilityContext, ordinal: number): number {
  const cpu = share(table.cpuAllocated[ordinal] + context.cpuMillicores, table.cpuCapacity[ordinal]);
  const memory = share(table.memoryAllocated[ordinal] + context.memoryMib, table.memoryCapacity[ordinal]);
  return -context.replicas[ordinal] + (1 - Math.max(cpu, memory)) / 2;
}

/** Scores each candidate the feasibility stage lets through; `score` belongs to the last one. */
export class RankIterator implements NodeIterator {
  score = 0;
  private table: NodeTable | null = null;
  private context: FeasibilityContext | null = null;
  private mode: RankMode = "binpack";

  constructor(private readonly source: NodeIterator) {}

  reset(table: NodeTable, context: FeasibilityContext, mode: RankMode): void {
    this.table = table;
    this.context = context;
    this.mode = mode;
  }

  next(): number {
    const ordinal = this.source.next();
    if (ordinal === noNode) return noNode;
    const table = this.table as NodeTable;
    const context = this.context as FeasibilityContext;
    this.score = this.mode === "binpack" ? binpackScore(table, context, ordinal) : spreadScore(table, context, ordinal);
    return ordinal;
  }
}
