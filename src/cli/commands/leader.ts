import type { Command } from "commander";
import { TransferLeadershipRequest } from "../../gen/orchestrator/v1/orchestrator.js";
import type { SessionFor } from "../session.js";

const EXAMPLES = `
Examples:
  orchctl leader transfer             # to the most up-to-date follower
  orchctl leader transfer --to r2
`;

export function registerLeader(parent: Command, sessionFor: SessionFor): void {
  const leader = parent.command("leader").description("leadership operations");
  leader
    .command("transfer")
    .description("hand leadership to another replica (for maintenance of the current leader)")
    .option("--to <id>", "target replica id (default: the most up-to-date follower)")
    .addHelpText("after", EXAMPLES)
    .action(async (flags: { to?: string }, command: Command) => {
      const session = sessionFor(command);
      const response = await session.client.call(
        "transferLeadership",
        TransferLeadershipRequest.fromPartial({ to: flags.to ?? "" }),
      );
      if (session.out.isJson) session.out.json(response);
      else session.out.text(`leadership transferred to ${response.leaderId} (term ${response.term})`);
    });
}
