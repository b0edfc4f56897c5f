import { assert } from "../lib/assert.js";
import { fsmLimits } from "./limits.js";

/**
 * Deployment success rate against the objective, from per-minute outcome buckets, in the terms
 * of the Google SRE workbook:
 *
 *   success ratio    = succeeded / total                     (1 when there were no operations)
 *   error budget     = 1 - objective                         (0.0001 of operations may fail)
 *   allowed failures = total(30 d) * error budget
 *   budget consumed  = failed(30 d) / allowed failures       (0 when there were no operations)
 *   budget remaining = 1 - consumed, clamped to [0, 1]       (1 with no operations: nothing spent;
 *                                                             0 once the budget is spent or overspent)
 *   burn rate        = error ratio / error budget            (1 spends the budget exactly in 30 d)
 *
 * A window of w minutes at nowMs holds the buckets with nowMinute - w < minute <= nowMinute,
 * where nowMinute = floor(nowMs / 60 000): the current, partial minute and the w - 1 before it.
 * Buckets after nowMinute (another leader's clock ran ahead) are not counted yet.
 *
 * The bucket ring below is plain data (an array of plain objects, oldest first) so the FSM can
 * embed it, apply outcome commands to it deterministically and put it in snapshots as it is.
 */

/** The objective of the product: 99.99% of deployment operations succeed. */
export const sloObjective = 0.9999;

export type SloWindowName = "5m" | "1h" | "30d";

/** The reporting windows, shortest first; the last one is also the error budget's. */
export const sloWindows: readonly { readonly name: SloWindowName; readonly minutes: number }[] = Object.freeze([
  { name: "5m", minutes: 5 },
  { name: "1h", minutes: 60 },
  { name: "30d", minutes: 30 * 24 * 60 },
]);

/**
 * The SRE workbook's fast-burn page: 2% of a 30-day budget spent in one hour is a burn rate of
 * 14.4, confirmed over the short window so the alert stops soon after the burning does.
 */
export const fastBurnRateThreshold = 14.4;

/** The window of a deployment's own burn rate, which gates its rollouts (issue 12, point 5). */
export const rolloutBurnWindowMs = 5 * 60_000;

export type Outcome = "succeeded" | "failed";

export interface OutcomeBucket {
  /** floor(ms / 60 000) of the outcome's time, on the leader's clock that recorded it. */
  readonly minute: number;
  succeeded: number;
  failed: number;
}

/** Buckets oldest first, one per minute that had outcomes. */
export interface OutcomeRing {
  readonly buckets: OutcomeBucket[];
}

export interface SloWindowReport {
  readonly window: SloWindowName;
  readonly minutes: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly total: number;
  /** 1 when total is 0. */
  readonly successRatio: number;
  /** 0 when total is 0. */
  readonly errorRatio: number;
  readonly burnRate: number;
}

export interface ErrorBudgetReport {
  /** total(30 d) * (1 - objective); not rounded: 0.5 means one failure overspends it. */
  readonly allowedFailures: number;
  readonly failed: number;
  /** failed / allowedFailures, not clamped (2 means spent twice over); 0 with no operations. */
  readonly consumedRatio: number;
  /** 1 - consumedRatio clamped to [0, 1]. */
  readonly remainingRatio: number;
}

export interface SloReport {
  readonly objective: number;
  readonly nowMinute: number;
  readonly windows: Readonly<Record<SloWindowName, SloWindowReport>>;
  /** Over the 30-day window. */
  readonly errorBudget: ErrorBudgetReport;
}

assert(sloWindows[sloWindows.length - 1].minutes <= fsmLimits.outcomeBucketsMax, "the ring keeps the longest window");
assert(fsmLimits.outcomeBucketMs === 60_000, "buckets are minutes");

export function minuteOf(ms: number): number {
  assert(Number.isFinite(ms), "time must be finite");
  return Math.floor(ms / fsmLimits.outcomeBucketMs);
}

/**
 * 1 - objective, rounded to 12 decimals: 1 - 0.9999 is 0.00009999999999998899 in binary floating
 * point, which would leave a sliver of budget after exactly the allowed failures.
 */
export function errorBudgetFraction(objective: number): number {
  assert(objective > 0 && objective < 1, "objective must be in (0, 1)");
  return Math.round((1 - objective) * 1e12) / 1e12;
}

export function computeSlo(buckets: readonly OutcomeBucket[], nowMs: number, objective = sloObjective): SloReport {
  const budget = errorBudgetFraction(objective);
  const nowMinute = minuteOf(nowMs);
  const reports = sloWindows.map((w) => windowReport(buckets, nowMinute, w.name, w.minutes, budget));
  const windows = Object.fromEntries(reports.map((r) => [r.window, r])) as Record<SloWindowName, SloWindowReport>;
  const month = windows["30d"];
  const allowedFailures = month.total * budget;
  const consumedRatio = month.total === 0 ? 0 : month.failed / allowedFailures;
  return {
    objective,
    nowMinute,
    windows,
    errorBudget: {
      allowedFailures,
      failed: month.failed,
      consumedRatio,
      remainingRatio: Math.min(1, Math.max(0, 1 - consumedRatio)),
    },
  };
}

/** The fast-burn condition of the SRE workbook's multi-window alert: 1 h and 5 m both burning. */
export function isFastBurn(report: SloReport): boolean {
  return (
    report.windows["1h"].burnRate >= fastBurnRateThreshold && report.windows["5m"].burnRate >= fastBurnRateThreshold
  );
}

function windowReport(
  buckets: readonly OutcomeBucket[],
  nowMinute: number,
  window: SloWindowName,
  minutes: number,
  budget: number,
): SloWindowReport {
  let succeeded = 0;
  let failed = 0;
  for (const bucket of buckets) {
    if (bucket.minute > nowMinute - minutes && bucket.minute <= nowMinute) {
      succeeded += bucket.succeeded;
      failed += bucket.failed;
    }
  }
  const total = succeeded + failed;
  const errorRatio = total === 0 ? 0 : failed / total;
  return {
    window,
    minutes,
    succeeded,
    failed,
    total,
    successRatio: total === 0 ? 1 : succeeded / total,
    errorRatio,
    burnRate: errorRatio / budget,
  };
}

export function emptyOutcomeRing(): OutcomeRing {
  return { buckets: [] };
}

/**
 * Counts `count` outcomes at `minute`. Buckets older than outcomeBucketsMax minutes before the newest
 * are dropped, so the ring never holds more than outcomeBucketsMax buckets. An outcome for a minute
 * the ring no longer keeps is dropped too, and the answer is false.
 */
export function addOutcome(ring: OutcomeRing, minute: number, outcome: Outcome, count = 1): boolean {
  assert(Number.isSafeInteger(minute) && minute >= 0, "minute must be a non-negative integer");
  assert(Number.isSafeInteger(count) && count >= 1, "count must be a positive integer");
  const buckets = ring.buckets;
  const newest = buckets.length === 0 ? minute : Math.max(minute, buckets[buckets.length - 1].minute);
  const oldestKept = newest - fsmLimits.outcomeBucketsMax + 1;
  if (minute < oldestKept) return false;
  const at = lowerBound(buckets, minute);
  let bucket = buckets[at];
  if (bucket === undefined || bucket.minute !== minute) {
    bucket = { minute, succeeded: 0, failed: 0 };
    buckets.splice(at, 0, bucket);
  }
  if (outcome === "succeeded") bucket.succeeded += count;
  else bucket.failed += count;
  dropBefore(ring, oldestKept);
  return true;
}

/** Drops the buckets before `minute`: the FSM may prune on a clock command, not only on adds. */
export function dropBefore(ring: OutcomeRing, minute: number): void {
  const drop = lowerBound(ring.buckets, minute);
  if (drop > 0) ring.buckets.splice(0, drop);
}

/** The ring's invariants; check a restored snapshot with it. */
export function checkOutcomeRing(ring: OutcomeRing): void {
  const buckets = ring.buckets;
  assert(buckets.length <= fsmLimits.outcomeBucketsMax, "outcome ring within its bound");
  for (let i = 0; i < buckets.length; i++) {
    const b = buckets[i];
    assert(Number.isSafeInteger(b.minute) && b.minute >= 0, "bucket minute is a non-negative integer");
    assert(Number.isSafeInteger(b.succeeded) && b.succeeded >= 0, "bucket success count is a non-negative integer");
    assert(Number.isSafeInteger(b.failed) && b.failed >= 0, "bucket failure count is a non-negative integer");
    if (i > 0) assert(buckets[i - 1].minute < b.minute, "buckets are in minute order, one per minute");
  }
  if (buckets.length > 0)
    assert(
      buckets[buckets.length - 1].minute - buckets[0].minute < fsmLimits.outcomeBucketsMax,
      "ring spans at most its bound",
    );
}

/** The index of the first bucket whose minute is >= `minute`. */
function lowerBound(buckets: readonly OutcomeBucket[], minute: number): number {
  let lo = 0;
  let hi = buckets.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (buckets[mid].minute < minute) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * A deployment's own burn rate over the `windowMs` before nowMs (exclusive of outcomes after
 * nowMs, a later leader's clock): its error ratio over the error budget, 0 with no outcomes in
 * the window. Like the cluster's windows, one failure among few operations burns fast: that is
 * the point of a 99.99% objective.
 */
export function recentBurnRate(
  outcomes: readonly { readonly atMs: number; readonly succeeded: boolean }[],
  nowMs: number,
  windowMs = rolloutBurnWindowMs,
  objective = sloObjective,
): number {
  assert(Number.isFinite(nowMs) && windowMs > 0, "burn rate needs a time and a window");
  let total = 0;
  let failed = 0;
  for (const outcome of outcomes) {
    if (outcome.atMs <= nowMs - windowMs || outcome.atMs > nowMs) continue;
    total += 1;
    if (!outcome.succeeded) failed += 1;
  }
  return total === 0 ? 0 : failed / total / errorBudgetFraction(objective);
}
