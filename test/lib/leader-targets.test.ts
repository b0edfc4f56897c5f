import { describe, expect, it } from "vitest";
import { LeaderTargets } from "../../src/lib/leader-targets.js";

describe("LeaderTargets", () => {
  it("walks the endpoints in order and backs off once per round", () => {
    const targets = new LeaderTargets(["a:1", "b:1", "c:1"]);
    expect(targets.current()).toBe("a:1");
    targets.failed("a:1");
    expect(targets.takeRoundEnd()).toBe(false);
    expect(targets.current()).toBe("b:1");
    targets.failed("b:1");
    expect(targets.takeRoundEnd()).toBe(false);
    targets.failed("c:1");
    expect(targets.takeRoundEnd()).toBe(true);
    expect(targets.takeRoundEnd()).toBe(false);
    expect(targets.current()).toBe("a:1");
  });

  it("prefers the known leader, forgets it when it fails, and resumes with the endpoints", () => {
    const targets = new LeaderTargets(["a:1", "b:1"]);
    targets.leaderIs({ id: "r3", address: "c:1" });
    expect(targets.current()).toBe("c:1");
    expect(targets.failed("c:1")).toEqual({ id: "r3", address: "c:1" });
    expect(targets.knownLeader()).toBeUndefined();
    // The endpoint that redirected is still first in line: it will name the next leader.
    expect(targets.current()).toBe("a:1");
  });

  it("moves past a failed leader that is also the current endpoint", () => {
    const targets = new LeaderTargets(["a:1", "b:1"]);
    targets.leaderIs({ id: "r1", address: "a:1" });
    targets.failed("a:1");
    expect(targets.current()).toBe("b:1");
  });

  it("starts a fresh round after a success", () => {
    const targets = new LeaderTargets(["a:1", "b:1"]);
    targets.failed("a:1");
    targets.succeeded();
    targets.failed("b:1");
    expect(targets.takeRoundEnd()).toBe(false);
  });
});
