/**
 * Limit and select: score a bounded number of feasible candidates and take the best. Scoring
 * every feasible node would make each placement linear in the cluster; a log2(n)-sized sample
 * from a source that already prefers the right cells loses little (Nomad's LimitIterator).
 */
import type { Prng } from "../../lib/prng.js";
import { noNode, type NodeIterator } from "./candidate-source.js";
import type { FeasibilityFilter } from "./feasibility.js";
import type { RankIterator } from "./rank.js";

/**
 * Stops after `limit` scored candidates. Once it holds one, it also caps the feasibility
 * stage's visits, so a region of nearly full nodes cannot make one selection scan them all;
 * with none yet, the search goes on until the source is exhausted.
 */
export class LimitIterator implements NodeIterator {
  private limit = 1;
  private visitsMax = Infinity;
  private yielded = 0;

  constructor(
    private readonly source: RankIterator,
    private readonly filter: FeasibilityFilter,
  ) {}

  get score(): number {
    return this.source.score;
  }

  reset(limit: number, visitsMax: number): void {
    this.limit = limit;
    this.visitsMax = visitsMax;
    this.yielded = 0;
  }

  next(): number {
    if (this.yielded >= this.limit) return noNode;
    if (this.yielded > 0) this.filter.visitsMax = this.visitsMax;
    const ordinal = this.source.next();
    if (ordinal !== noNode) this.yielded += 1;
    return ordinal;
  }
}

/**
 * Takes the highest score; equal scores are settled by the seeded generator (reservoir style,
 * each of k tied candidates wins with probability 1/k), so identical nodes share the load
 * across plans while a plan stays reproducible from its seed.
 */
export function selectMaxScore(limit: LimitIterator, prng: Prng): number {
  let best = noNode;
  let bestScore = -Infinity;
  let ties = 0;
  for (let ordinal = limit.next(); ordinal !== noNode; ordinal = limit.next()) {
    const score = limit.score;
    if (score > bestScore) {
      best = ordinal;
      bestScore = score;
      ties = 1;
    } else if (score === bestScore) {
      ties += 1;
      if (prng.nextInt(ties) === 0) best = ordinal;
    }
  }
  return best;
}
