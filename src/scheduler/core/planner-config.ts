/**
 * The placement engine's configuration: the region latency matrix of the latency-aware strategy
 * and the sample sizes of the limit stage. Built once at startup from operator settings; a bad
 * setting is an expected failure with a message, not a crash.
 */
import { OrchestratorError, err, ok, type Result } from "../../lib/errors.js";
import { schedulerLimits } from "./limits.js";
import type { Region } from "./types.js";

/** Round-trip-ish latencies between regions in milliseconds; a missing pair is looked up the other way round. */
export type RegionLatencyMatrix = Readonly<Record<Region, Readonly<Record<Region, number>>>>;

/** Roughly the public-internet figures between the three demo regions. */
export const defaultRegionLatencyMs: RegionLatencyMatrix = {
  "us-east-1": { "us-east-1": 1, "eu-west-1": 75, "ap-southeast-1": 220 },
  "eu-west-1": { "us-east-1": 75, "eu-west-1": 1, "ap-southeast-1": 160 },
  "ap-southeast-1": { "us-east-1": 220, "eu-west-1": 160, "ap-southeast-1": 1 },
};

export interface PlannerConfig {
  readonly regionLatencyMs: RegionLatencyMatrix;
  /** Latency within a region the matrix does not list. */
  readonly sameRegionLatencyMs: number;
  /** Latency between two regions the matrix does not relate: far, so listed regions win. */
  readonly unknownLatencyMs: number;
  /** Regions within this much of the nearest one count as equally near, and share the replicas. */
  readonly latencyToleranceMs: number;
  /** The limit stage scores clamp(ceil(log2(nodes)), min, max) feasible candidates. */
  readonly sampleCandidatesMin: number;
  readonly sampleCandidatesMax: number;
}

export const defaultPlannerConfig: PlannerConfig = {
  regionLatencyMs: defaultRegionLatencyMs,
  sameRegionLatencyMs: 1,
  unknownLatencyMs: 300,
  latencyToleranceMs: 5,
  sampleCandidatesMin: schedulerLimits.sampleCandidatesMin,
  sampleCandidatesMax: schedulerLimits.sampleCandidatesMax,
};

/** The defaults with `overrides` applied, or why the overrides make no sense. */
export function plannerConfig(overrides: Partial<PlannerConfig> = {}): Result<PlannerConfig> {
  const config: PlannerConfig = { ...defaultPlannerConfig, ...overrides };
  const problem = checkConfig(config);
  return problem === null
    ? ok(config)
    : err(new OrchestratorError("INVALID_ARGUMENT", `scheduler configuration: ${problem}`));
}

function checkConfig(config: PlannerConfig): string | null {
  for (const [from, row] of Object.entries(config.regionLatencyMs)) {
    for (const [to, ms] of Object.entries(row)) {
      if (!isLatency(ms))
        return `latency from ${from} to ${to} must be a number of milliseconds in [0, ${schedulerLimits.latencyMsMax}], got ${ms}`;
    }
  }
  for (const key of ["sameRegionLatencyMs", "unknownLatencyMs", "latencyToleranceMs"] as const) {
    if (!isLatency(config[key])) return `${key} must be in [0, ${schedulerLimits.latencyMsMax}] ms, got ${config[key]}`;
  }
  const { sampleCandidatesMin: min, sampleCandidatesMax: max } = config;
  if (!Number.isInteger(min) || min < 1) return `sampleCandidatesMin must be a positive integer, got ${min}`;
  if (!Number.isInteger(max) || max < min || max > schedulerLimits.candidateVisitsMax) {
    return `sampleCandidatesMax must be an integer in [sampleCandidatesMin, ${schedulerLimits.candidateVisitsMax}], got ${max}`;
  }
  return null;
}

function isLatency(ms: number): boolean {
  return typeof ms === "number" && Number.isFinite(ms) && ms >= 0 && ms <= schedulerLimits.latencyMsMax;
}

/** Latency between two regions: the matrix either way round, else the configured fallbacks. */
export function latencyMs(config: PlannerConfig, from: Region, to: Region): number {
  const listed = config.regionLatencyMs[from]?.[to] ?? config.regionLatencyMs[to]?.[from];
  if (listed !== undefined) return listed;
  return from === to ? config.sameRegionLatencyMs : config.unknownLatencyMs;
}

/** Mean latency from the clients' regions to `region` (each client region weighs the same). */
export function meanLatencyMs(config: PlannerConfig, region: Region, clientRegions: readonly Region[]): number {
  if (clientRegions.length === 0) return 0;
  let sum = 0;
  for (const client of clientRegions) sum += latencyMs(config, client, region);
  return sum / clientRegions.length;
}

/** The limit stage's sample size for a search over `nodes` nodes, log2(n) style. */
export function sampleSize(config: PlannerConfig, nodes: number): number {
  const log = nodes <= 1 ? 1 : Math.ceil(Math.log2(nodes));
  return Math.min(config.sampleCandidatesMax, Math.max(config.sampleCandidatesMin, log));
}
