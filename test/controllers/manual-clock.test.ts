import { describe, expect, it } from "vitest";
import { ManualClock } from "../../src/lib/clock.js";

describe("ManualClock", () => {
  it("fires due timers in due order, reading each timer's due time, including timers set by timers", () => {
    const clock = new ManualClock(0, 1_000);
    const fired: string[] = [];
    clock.setTimer(300, () => fired.push(`c@${clock.nowMs()}`));
    clock.setTimer(100, () => {
      fired.push(`a@${clock.nowMs()}`);
      clock.setTimer(50, () => fired.push(`nested@${clock.nowMs()}`));
    });
    clock.setTimer(100, () => fired.push(`b@${clock.nowMs()}`));
    clock.setTimer(301, () => fired.push(`late@${clock.nowMs()}`));
    clock.advance(300);
    expect(fired).toEqual(["a@100", "b@100", "nested@150", "c@300"]);
    expect(clock.nowMs()).toBe(300);
    expect(clock.wallMs()).toBe(1_300);
    expect(clock.pendingTimers).toBe(1);
    clock.advance(1);
    expect(fired.at(-1)).toBe("late@301");
    expect(clock.pendingTimers).toBe(0);
  });

  it("fires a repeating timer once per period however large the step, until cancelled", () => {
    const clock = new ManualClock();
    const times: number[] = [];
    const cancel = clock.setRepeating(100, () => times.push(clock.nowMs()));
    clock.advance(350);
    expect(times).toEqual([100, 200, 300]);
    cancel();
    clock.advance(1_000);
    expect(times).toEqual([100, 200, 300]);
    expect(clock.pendingTimers).toBe(0);
  });

  it("does not fire a cancelled one-shot timer and refuses to go back", () => {
    const clock = new ManualClock();
    let fired = false;
    const cancel = clock.setTimer(10, () => (fired = true));
    cancel();
    clock.advance(20);
    expect(fired).toBe(false);
    expect(() => clock.advance(-1)).toThrow(/forward/);
  });
});
