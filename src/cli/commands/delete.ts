import type { Command } from "commander";
import { DeleteRequest } from "../../gen/orchestrator/v1/orchestrator.js";
import type { SessionFor } from "../session.js";

const EXAMPLES = `
Examples:
  orchctl delete web
`;

export function registerDelete(parent: Command, sessionFor: SessionFor): void {
  parent
    .command("delete")
    .description("delete a deployment and stop its containers")
    .argument("<name>", "deployment name")
    .addHelpText("after", EXAMPLES)
    .action(async (name: string, _flags: unknown, command: Command) => {
      const session = sessionFor(command);
      const client = session.client;
      const response = await client.call("delete", DeleteRequest.fromPartial({ header: client.nextHeader(), name }));
      if (session.out.isJson) session.out.json({ deleted: name, revision: response.revision });
      else session.out.text(`deployment ${name} deleted (revision ${response.revision})`);
    });
}
