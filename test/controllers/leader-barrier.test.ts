import { describe, expect, it } from "vitest";
import { LeaderBarrier, type LeadershipChange } from "../../src/fsm/index.js";

function recorded(barrier: LeaderBarrier): LeadershipChange[] {
  const changes: LeadershipChange[] = [];
  barrier.onChange((change) => changes.push(change));
  return changes;
}

describe("LeaderBarrier", () => {
  it("says leading only once the FSM applied the new leader's first entry of its term", () => {
    const barrier = new LeaderBarrier();
    const changes = recorded(barrier);
    barrier.elected(3, 10, 7);
    expect(barrier.isLeader()).toBe(false);
    expect(barrier.catchUpIndex).toBe(10);
    barrier.applied(9);
    expect(changes).toEqual([]);
    barrier.applied(10);
    expect(changes).toEqual([{ kind: "leading", term: 3 }]);
    expect(barrier.isLeader()).toBe(true);
    barrier.applied(11);
    expect(changes).toHaveLength(1);
  });

  it("leads at once when the FSM is caught up, and stops on deposition, even at the barrier", () => {
    const barrier = new LeaderBarrier();
    const changes = recorded(barrier);
    barrier.elected(2, 5, 5);
    barrier.deposed(3);
    barrier.elected(4, 9, 6);
    barrier.deposed(5);
    barrier.applied(9);
    barrier.deposed(5);
    expect(changes).toEqual([
      { kind: "leading", term: 2 },
      { kind: "stopped", term: 3 },
      { kind: "stopped", term: 5 },
    ]);
    expect(barrier.isLeader()).toBe(false);
    expect(barrier.term()).toBe(5);
  });

  it("ends a leadership that a later term's election replaces without a step-down seen in between", () => {
    const barrier = new LeaderBarrier();
    const changes = recorded(barrier);
    barrier.elected(2, 5, 5);
    barrier.elected(2, 5, 5);
    barrier.elected(4, 8, 8);
    expect(changes).toEqual([
      { kind: "leading", term: 2 },
      { kind: "stopped", term: 4 },
      { kind: "leading", term: 4 },
    ]);
  });
});
