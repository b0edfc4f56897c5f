import type { DeliberateBugs } from "../../src/raft/core/config.js";
import type { SimOptions } from "./sim-options.js";
import { defaultFaultMix } from "./sim-options.js";

export const deliberateBugNames = ["commitWithoutQuorum", "commitPreviousTermByCounting", "voteTwicePerTerm"] as const;
export type DeliberateBugName = (typeof deliberateBugNames)[number];

/** The violations each deliberate bug must cause; anything else found would not prove the checker works. */
export const expectedViolations: Readonly<Record<DeliberateBugName, readonly string[]>> = {
  commitWithoutQuorum: ["state-machine-safety", "leader-completeness", "lost-write", "linearizability"],
  commitPreviousTermByCounting: ["state-machine-safety", "leader-completeness", "lost-write", "linearizability"],
  voteTwicePerTerm: ["election-safety"],
};

/**
 * Runs with a deliberate bug switched on, shaped so the bug shows within a couple of hundred
 * seeds. Committing an earlier term's entry by counting (Raft's Figure 8) only differs from the
 * correct rule when a follower holds that entry but not the new leader's no-op after it, so
 * appends carry one entry each (a tiny message size), and leaders crash or get cut off often
 * and come back quickly, on three replicas.
 */
export function bugHuntOptions(bug: DeliberateBugName): Partial<SimOptions> {
  const bugs: DeliberateBugs = { [bug]: true };
  if (bug !== "commitPreviousTermByCounting") return { bugs };
  return {
    bugs,
    replicas: 3,
    messageBytesMax: 40,
    faultMix: {
      ...defaultFaultMix,
      eventIntervalTicksMean: 10,
      kindEnabledChance: 1,
      weights: {
        partition: 6,
        "one-way-cut": 2,
        asymmetric: 0,
        crash: 0,
        "crash-leader": 6,
        "slow-disk": 0,
        "false-leader-lost": 0,
        "transfer-leadership": 0,
        membership: 0,
        "lossy-network": 0,
        "clock-drift": 0,
      },
      cutTicksMax: 60,
      downTicksMax: 30,
    },
  };
}
