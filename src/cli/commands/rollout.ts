import type { Command } from "commander";
import type { SessionFor } from "../session.js";
import { registerRolloutActions } from "./rollout-action.js";
import { registerRolloutHistory } from "./rollout-history.js";
import { registerRolloutStatus } from "./rollout-status.js";

export function registerRollout(parent: Command, sessionFor: SessionFor): void {
  const rollout = parent.command("rollout").description("follow, steer and undo rollouts of new versions");
  registerRolloutStatus(rollout, sessionFor);
  registerRolloutHistory(rollout, sessionFor);
  registerRolloutActions(rollout, sessionFor);
}
