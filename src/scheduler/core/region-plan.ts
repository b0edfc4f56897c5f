/**
 * Region-level decisions of spread and latency-aware placement: which regions are in play and
 * how many replicas each should take so that the deployment ends as even as it can.
 */
import { assert } from "../../lib/assert.js";
import type { Prng } from "../../lib/prng.js";
import { meanLatencyMs, type PlannerConfig } from "./planner-config.js";
import type { Region } from "./types.js";

/**
 * Replicas per region so that adding `replicas` to `counts` leaves them as even as possible:
 * each next replica goes to the region with the fewest, ties to the earlier position. Regions
 * already above the level are left alone. O(regions^2), independent of `replicas`.
 */
export function waterFill(counts: readonly number[], replicas: number): number[] {
  assert(Number.isInteger(replicas) && replicas >= 0, "replicas to spread must be a count");
  const quotas = counts.map(() => 0);
  if (counts.length === 0) return quotas;
  const byCount = counts.map((_, position) => position).sort((a, b) => counts[a] - counts[b] || a - b);
  let level = counts[byCount[0]];
  let lowest = 1;
  let remaining = replicas;
  while (remaining > 0) {
    while (lowest < byCount.length && counts[byCount[lowest]] <= level) lowest += 1;
    const nextLevel = lowest < byCount.length ? counts[byCount[lowest]] : Infinity;
    const raise = Math.min(nextLevel - level, Math.floor(remaining / lowest));
    if (raise === 0) {
      // Fewer replicas left than regions at the level: one each, earliest positions first.
      const atLevel = byCount.slice(0, lowest).sort((a, b) => a - b);
      for (let i = 0; i < remaining; i++) quotas[atLevel[i]] += 1;
      break;
    }
    for (let i = 0; i < lowest; i++) quotas[byCount[i]] += raise;
    level += raise;
    remaining -= raise * lowest;
  }
  return quotas;
}

/** A seeded shuffle (Fisher-Yates), so ties between regions do not always favour the same one. */
export function shuffled<T>(items: readonly T[], prng: Prng): T[] {
  const result = [...items];
  for (let i = result.length - 1; i > 0; i--) {
    const j = prng.nextInt(i + 1);
    [result[i], result[j]] = [result[j], result[i]];
  }
  return result;
}

export interface RegionChoice {
  readonly region: number;
  /** Mean latency from the client regions; 0 for every region without client regions. */
  readonly latencyMs: number;
}

/** Regions in the order they are preferred: nearest first (when latency matters), ties as given. */
export function byLatency(
  regions: readonly number[],
  names: readonly Region[],
  clientRegions: readonly Region[],
  config: PlannerConfig,
): RegionChoice[] {
  const choices = regions.map((region) => ({ region, latencyMs: meanLatencyMs(config, names[region], clientRegions) }));
  return choices.sort((a, b) => a.latencyMs - b.latencyMs);
}

/**
 * The regions that share the next replicas: the nearest active region and every active region
 * within the tolerance of it. Without client regions all latencies are 0, so all active regions.
 */
export function nearestGroup(
  choices: readonly RegionChoice[],
  exhausted: ReadonlySet<number>,
  toleranceMs: number,
): number[] {
  const active = choices.filter((choice) => !exhausted.has(choice.region));
  if (active.length === 0) return [];
  const nearest = active[0].latencyMs;
  return active.filter((choice) => choice.latencyMs <= nearest + toleranceMs).map((choice) => choice.region);
}
