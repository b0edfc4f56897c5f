import type { Command } from "commander";
import { ScaleRequest } from "../../gen/orchestrator/v1/orchestrator.js";
import { replicasArg } from "../args.js";
import type { SessionFor } from "../session.js";
import { deploymentView } from "../views.js";

const EXAMPLES = `
Examples:
  orchctl scale web 5
  orchctl scale web 0      # stop every replica, keep the deployment
`;

export function registerScale(parent: Command, sessionFor: SessionFor): void {
  parent
    .command("scale")
    .description("change the number of replicas of a deployment")
    .argument("<name>", "deployment name")
    .argument("<replicas>", "desired number of replicas", replicasArg)
    .addHelpText("after", EXAMPLES)
    .action(async (name: string, replicas: number, _flags: unknown, command: Command) => {
      const session = sessionFor(command);
      const client = session.client;
      const response = await client.call(
        "scale",
        ScaleRequest.fromPartial({ header: client.nextHeader(), name, replicas }),
      );
      if (session.out.isJson) {
        session.out.json({
          revision: response.revision,
          deployment: response.deployment === undefined ? null : deploymentView(response.deployment),
        });
      } else {
        session.out.text(
          `deployment ${name} scaled to ${replicas} replica${replicas === 1 ? "" : "s"} (revision ${response.revision})`,
        );
      }
    });
}
