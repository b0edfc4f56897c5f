import type { Command } from "commander";
import { AclBootstrapRequest } from "../../gen/orchestrator/v1/orchestrator.js";
import type { SessionFor } from "../session.js";
import { printSecret } from "./token-output.js";

const EXAMPLES = `
Examples:
  export ORCH_TOKEN=$(orchctl acl bootstrap)
  orchctl acl bootstrap -o json          # {"secret": "...", "name": "bootstrap", "role": "admin", ...}

Works once per cluster: a second bootstrap is refused (FAILED_PRECONDITION). The secret is
shown once; the cluster keeps only its hash. Replicas check tokens only when run with --acl.
`;

export function registerAcl(parent: Command, sessionFor: SessionFor): void {
  const acl = parent.command("acl").description("access control of a cluster run with --acl");
  acl
    .command("bootstrap")
    .description("create the cluster's first admin token and print its secret (once per cluster)")
    .addHelpText("after", EXAMPLES)
    .action(async (_flags: unknown, command: Command) => {
      const session = sessionFor(command);
      const client = session.client;
      const response = await client.call(
        "aclBootstrap",
        AclBootstrapRequest.fromPartial({ header: client.nextHeader() }),
      );
      printSecret(session, response.token, response.secret, response.revision);
    });
}
