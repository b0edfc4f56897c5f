import { assert } from "../lib/assert.js";
import type { OutcomeBucket } from "./state.js";

interface MutableBucket {
  readonly minute: number;
  succeeded: number;
  failed: number;
}

/**
 * Operation outcomes per minute of leader time, over a sliding window of `windowMinutes`
 * minutes ending at the newest minute recorded. Sparse (only minutes with an outcome) and
 * ordered by minute, so at most `windowMinutes` buckets exist. Time is the outcome command's
 * at_ms; a leader whose clock is behind its predecessor's may record into an earlier minute
 * (inserted in order), and one too old for the window is not kept.
 */
export class OutcomeBuckets {
  /** Invariant: minutes strictly increase and span less than windowMinutes. */
  private buckets: MutableBucket[] = [];

  constructor(
    readonly windowMinutes: number,
    readonly bucketMs: number,
  ) {
    assert(Number.isInteger(windowMinutes) && windowMinutes > 0, "outcome window must be a positive number of minutes");
    assert(Number.isInteger(bucketMs) && bucketMs > 0, "outcome bucket length must be positive");
  }

  get size(): number {
    return this.buckets.length;
  }

  minuteOf(atMs: number): number {
    return Math.floor(atMs / this.bucketMs);
  }

  /** Counts one outcome at `atMs`; false when it is older than the window keeps. */
  record(atMs: number, succeeded: boolean): boolean {
    const minute = this.minuteOf(atMs);
    const newest = this.buckets.length === 0 ? minute : Math.max(minute, this.buckets[this.buckets.length - 1].minute);
    if (minute <= newest - this.windowMinutes) return false;
    const bucket = this.bucketAt(minute);
    if (succeeded) bucket.succeeded += 1;
    else bucket.failed += 1;
    this.expireBefore(newest - this.windowMinutes + 1);
    return true;
  }

  private bucketAt(minute: number): MutableBucket {
    const last = this.buckets[this.buckets.length - 1];
    if (last !== undefined && last.minute === minute) return last;
    if (last === undefined || last.minute < minute) {
      const bucket = { minute, succeeded: 0, failed: 0 };
      this.buckets.push(bucket);
      return bucket;
    }
    // An earlier minute (a leader clock behind the last one's): binary search its place.
    let lo = 0;
    let hi = this.buckets.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.buckets[mid].minute < minute) lo = mid + 1;
      else hi = mid;
    }
    if (this.buckets[lo]?.minute === minute) return this.buckets[lo];
    const bucket = { minute, succeeded: 0, failed: 0 };
    this.buckets.splice(lo, 0, bucket);
    return bucket;
  }

  private expireBefore(minute: number): void {
    let expired = 0;
    while (expired < this.buckets.length && this.buckets[expired].minute < minute) expired += 1;
    if (expired > 0) this.buckets = this.buckets.slice(expired);
  }

  /** Copies, oldest first. */
  values(): OutcomeBucket[] {
    return this.buckets.map((bucket) => ({ ...bucket }));
  }

  restore(buckets: readonly OutcomeBucket[]): void {
    assert(this.buckets.length === 0, "restoring into outcome buckets in use");
    this.buckets = buckets.map((bucket) => ({ ...bucket }));
    this.checkInvariants();
  }

  checkInvariants(): void {
    assert(this.buckets.length <= this.windowMinutes, "outcome buckets over their bound");
    this.buckets.forEach((bucket, i) => {
      assert(Number.isSafeInteger(bucket.minute) && bucket.minute >= 0, `outcome bucket minute ${bucket.minute}`);
      assert(bucket.succeeded + bucket.failed > 0, `outcome bucket ${bucket.minute} is empty`);
      if (i > 0) assert(this.buckets[i - 1].minute < bucket.minute, "outcome buckets out of order");
    });
    if (this.buckets.length > 0) {
      assert(
        this.buckets[this.buckets.length - 1].minute - this.buckets[0].minute < this.windowMinutes,
        "outcome buckets span more than their window",
      );
    }
  }
}
