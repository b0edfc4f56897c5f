/** orchctl's endpoint choice: the shared leader-following target list. */
export { LeaderTargets as ClientTargets, type KnownLeader } from "../lib/leader-targets.js";
