import type { Command } from "commander";
import type { SessionFor } from "../session.js";
import { registerNodeDrain } from "./node-drain.js";
import { registerNodeEligibility } from "./node-eligibility.js";

export function registerNode(parent: Command, sessionFor: SessionFor): void {
  const node = parent.command("node").description("cordon and drain nodes for maintenance");
  registerNodeEligibility(node, sessionFor);
  registerNodeDrain(node, sessionFor);
}
