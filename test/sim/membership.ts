import type { Prng } from "../../src/lib/prng.js";
import type { Status } from "../../src/raft/core/results.js";
import type { ConfChange, ReplicaId } from "../../src/raft/core/types.js";

/** A learner this close to the leader's last index may be promoted. */
export const learnerCatchUpEntriesMax = 10;
/** Membership changes never take the cluster below this many voters. */
export const votersMin = 3;

export interface MembershipCandidates {
  /** Every replica id of the pool, in order. */
  readonly pool: readonly ReplicaId[];
}

/**
 * Picks the next one-server change from the leader's point of view: promote a learner once it
 * has caught up, else add a learner (a spare with an empty disk, or a replica removed earlier,
 * which rejoins with its old disk), else remove a voter (maybe the leader itself), never going below three voters.
 */
export function nextMembershipChange(leader: Status, candidates: MembershipCandidates, prng: Prng): ConfChange | null {
  const { voters, learners } = leader.conf;
  if (learners.length > 0) {
    const learner = learners[0];
    const match = leader.progress.get(learner)?.match ?? 0;
    if (match + learnerCatchUpEntriesMax >= leader.lastIndex) return { type: "promote-learner", replica: learner };
    // A learner that never catches up (say it is down) is taken out again now and then.
    return prng.chance(0.2) ? { type: "remove", replica: learner } : null;
  }
  const options: ConfChange[] = [];
  const outsiders = candidates.pool.filter((id) => !voters.includes(id) && !learners.includes(id));
  if (outsiders.length > 0) options.push({ type: "add-learner", replica: prng.pick(outsiders) });
  if (voters.length > votersMin) options.push({ type: "remove", replica: prng.pick(voters) });
  return options.length === 0 ? null : prng.pick(options);
}
