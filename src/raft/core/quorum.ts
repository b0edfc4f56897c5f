import type { ReplicaId } from "./types.js";

export type VoteResult = "won" | "lost" | "pending";

export function majority(voterCount: number): number {
  return Math.floor(voterCount / 2) + 1;
}

/** The highest index that a majority of voters has, given each voter's match index. */
export function committedIndex(voters: readonly ReplicaId[], matchOf: (id: ReplicaId) => number): number {
  if (voters.length === 0) return 0;
  const matches = voters.map(matchOf).sort((a, b) => b - a);
  return matches[majority(voters.length) - 1];
}

/** Tallies an election: won on a majority of grants, lost on a majority of rejections. */
export function voteResult(voters: readonly ReplicaId[], votes: ReadonlyMap<ReplicaId, boolean>): VoteResult {
  let granted = 0;
  let rejected = 0;
  for (const id of voters) {
    const vote = votes.get(id);
    if (vote === true) granted++;
    else if (vote === false) rejected++;
  }
  const needed = majority(voters.length);
  if (granted >= needed) return "won";
  if (rejected >= needed) return "lost";
  return "pending";
}

export function hasQuorum(voters: readonly ReplicaId[], isActive: (id: ReplicaId) => boolean): boolean {
  let active = 0;
  for (const id of voters) if (isActive(id)) active++;
  return active >= majority(voters.length);
}
