/**
 * Autopilot (after Nomad's and Consul's): what the leader does about its members, decided from
 * a view of them alone (no clock: ages come in the view). One change at a time, in this order:
 * record missing addresses, promote a caught-up learner, remove a dead voter (only with
 * removeDead, and never below minVoters voters).
 */

/** A member as the leader sees it (the shape of the fsm ports' MemberStatus; core/ imports no port). */
export interface MemberStatus {
  readonly id: string;
  readonly suffrage: "voter" | "learner" | "none";
  readonly match: number;
  /** Milliseconds since the leader last heard from it (0: the leader itself; null: not since it leads). */
  readonly lastContactAgoMs: number | null;
  readonly recorded: boolean;
  readonly addresses: { readonly raft: string; readonly api: string } | null;
}

export interface MembershipView {
  readonly selfId: string;
  readonly commit: number;
  readonly catchUpEntriesMax: number;
  readonly members: readonly MemberStatus[];
}

export interface AutopilotConfig {
  /** A voter not heard from for this long is dead (reported; removed with removeDead). */
  readonly deadAfterMs: number;
  readonly removeDead: boolean;
  /** Removing a dead voter never leaves fewer voters than this. */
  readonly minVoters: number;
  /** A learner must have been heard from within this long to be promoted. */
  readonly promoteHeardWithinMs: number;
}

export type AutopilotAction =
  | { readonly kind: "record"; readonly id: string; readonly raftAddress: string; readonly apiAddress: string }
  | { readonly kind: "promote"; readonly id: string; readonly reason: string }
  | { readonly kind: "remove"; readonly id: string; readonly reason: string };

export interface AutopilotDecision {
  /** Voters not heard from for deadAfterMs or more, sorted. */
  readonly deadVoters: readonly string[];
  /** At most one membership change. */
  readonly action: AutopilotAction | null;
}

/**
 * `selfAddresses`: where this (leading) replica really listens; its record is corrected to them.
 * `leadingForMs`: how long it has led (a member never heard from counts as silent that long).
 */
export function decideAutopilot(
  view: MembershipView,
  selfAddresses: { readonly raft: string; readonly api: string },
  leadingForMs: number,
  config: AutopilotConfig,
): AutopilotDecision {
  const silentMs = (m: MemberStatus): number => m.lastContactAgoMs ?? leadingForMs;
  const voters = view.members.filter((m) => m.suffrage === "voter");
  const deadVoters = voters
    .filter((m) => m.id !== view.selfId && silentMs(m) >= config.deadAfterMs)
    .map((m) => m.id)
    .sort();
  return { deadVoters, action: nextAction(view, selfAddresses, voters, deadVoters, silentMs, config) };
}

function nextAction(
  view: MembershipView,
  selfAddresses: { readonly raft: string; readonly api: string },
  voters: readonly MemberStatus[],
  deadVoters: readonly string[],
  silentMs: (m: MemberStatus) => number,
  config: AutopilotConfig,
): AutopilotAction | null {
  for (const m of view.members) {
    if (m.suffrage === "none") continue;
    if (m.id === view.selfId) {
      const a = m.addresses;
      if (!m.recorded || a === null || a.raft !== selfAddresses.raft || a.api !== selfAddresses.api)
        return { kind: "record", id: m.id, raftAddress: selfAddresses.raft, apiAddress: selfAddresses.api };
    } else if (!m.recorded && m.addresses !== null) {
      // A founding member the table never named: what this replica's flags say is all anyone knows.
      return { kind: "record", id: m.id, raftAddress: m.addresses.raft, apiAddress: m.addresses.api };
    }
  }
  const learner = view.members.find(
    (m) =>
      m.suffrage === "learner" &&
      m.match + view.catchUpEntriesMax >= view.commit &&
      m.match > 0 &&
      silentMs(m) <= config.promoteHeardWithinMs,
  );
  if (learner !== undefined)
    return { kind: "promote", id: learner.id, reason: `caught up (match ${learner.match} of ${view.commit})` };
  if (config.removeDead && deadVoters.length > 0 && voters.length - 1 >= config.minVoters) {
    const id = deadVoters[0];
    return { kind: "remove", id, reason: `unreachable for ${config.deadAfterMs} ms or more` };
  }
  return null;
}
