import type { Command } from "commander";
import { NodeEligibilityRequest } from "../../gen/orchestrator/v1/orchestrator.js";
import { UsageError } from "../errors.js";
import type { SessionFor } from "../session.js";
import { nodeView } from "../views.js";

const EXAMPLES = `
Examples:
  orchctl node eligibility eu-west-1-node-2 --disable
  orchctl node eligibility eu-west-1-node-2 --enable

An ineligible (cordoned) node gets no new containers; those it runs stay. A drained node stays
ineligible until enabled again.
`;

export function registerNodeEligibility(node: Command, sessionFor: SessionFor): void {
  node
    .command("eligibility")
    .description("make a node eligible for new containers, or not (cordon)")
    .argument("<node>", "node id (orchctl nodes lists them)")
    .option("--enable", "the scheduler may place containers on the node")
    .option("--disable", "the scheduler places nothing new on the node; its containers stay")
    .addHelpText("after", EXAMPLES)
    .action(async (nodeId: string, flags: { enable?: boolean; disable?: boolean }, command: Command) => {
      if ((flags.enable === true) === (flags.disable === true))
        throw new UsageError("node eligibility needs exactly one of --enable and --disable");
      const eligible = flags.enable === true;
      const session = sessionFor(command);
      const client = session.client;
      const response = await client.call(
        "nodeEligibility",
        NodeEligibilityRequest.fromPartial({ header: client.nextHeader(), nodeId, eligible }),
      );
      if (session.out.isJson) {
        session.out.json({
          node: response.node === undefined ? null : nodeView(response.node),
          changed: response.changed,
          revision: response.revision,
        });
        return;
      }
      const now = eligible ? "eligible" : "ineligible";
      session.out.text(
        `node ${nodeId} ${response.changed ? `is now ${now}` : `was already ${now}`} (revision ${response.revision})`,
      );
    });
}
