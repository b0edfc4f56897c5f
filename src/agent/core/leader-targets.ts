/** The agent's endpoint choice: the same leader-following target list orchctl uses. */
export { LeaderTargets, type KnownLeader } from "../../lib/leader-targets.js";
