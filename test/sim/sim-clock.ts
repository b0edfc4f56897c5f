import { assert } from "../../src/lib/assert.js";
import { simLimits } from "./sim-limits.js";

/**
 * Logical time. The cluster moves in ticks; within a tick every client-visible event gets
 * its own stamp, so the history orders what really happened one after the other in a tick
 * instead of calling it concurrent.
 */
export class SimClock {
  private tickNow = 0;
  private stepInTick = 0;

  get tick(): number {
    return this.tickNow;
  }

  advance(): void {
    this.tickNow++;
    this.stepInTick = 0;
  }

  stamp(): number {
    assert(this.stepInTick < simLimits.stampsPerTickMax, "too many events in one tick");
    return this.tickNow * simLimits.stampsPerTickMax + this.stepInTick++;
  }
}

export function tickOfStamp(stamp: number): number {
  return Math.floor(stamp / simLimits.stampsPerTickMax);
}
