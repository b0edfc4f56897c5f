import type { Command } from "commander";
import { ApplyRequest, DeployResult } from "../../gen/orchestrator/v1/orchestrator.js";
import { readSpecs } from "../apply/read-specs.js";
import { revisionArg } from "../args.js";
import type { SessionFor } from "../session.js";

const EXAMPLES = `
Examples:
  orchctl apply -f examples/deployments/web.yaml
  orchctl apply -f deployments/                      # every .yaml, .yml and .json file of the directory
  orchctl plan -f web.yaml                           # review first; it prints check-index: N
  orchctl apply -f web.yaml --check-index 42         # refused if a deployment of the file changed since

The whole file is applied at once, or not at all. A deployment whose spec is already in force is
unchanged; one whose replicas alone differ is scaled (printed as configured); any other change
makes a new version and starts its rollout. A deployment without an update block keeps its
current update policy.
`;

/** kubectl's words: a scale is a configuration change too. */
export function applyWord(result: DeployResult): string {
  switch (result) {
    case DeployResult.DEPLOY_RESULT_CREATED:
      return "created";
    case DeployResult.DEPLOY_RESULT_UNCHANGED:
      return "unchanged";
    default:
      return "configured";
  }
}

export function registerApply(parent: Command, sessionFor: SessionFor): void {
  parent
    .command("apply")
    .description("create or update every deployment of a file (YAML or JSON) or directory to match it")
    .requiredOption("-f, --filename <path>", "a deployment file, or a directory of them")
    .option("--check-index <n>", "refuse if a deployment of the file changed after this index (from plan)", revisionArg)
    .option("--force", "start new versions even when the cluster's error budget is spent")
    .addHelpText("after", EXAMPLES)
    .action(async (flags: { filename: string; checkIndex?: number; force?: boolean }, command: Command) => {
      const specs = readSpecs(flags.filename);
      const session = sessionFor(command);
      const client = session.client;
      const response = await client.call(
        "apply",
        ApplyRequest.fromPartial({
          header: client.nextHeader(),
          specs,
          ...(flags.checkIndex !== undefined ? { checkIndex: flags.checkIndex } : {}),
          force: flags.force === true,
        }),
      );
      if (session.out.isJson) {
        session.out.json({
          revision: response.revision,
          deployments: response.outcomes.map((o) => ({
            name: o.name,
            result: applyWord(o.result),
            version: o.version,
          })),
        });
        return;
      }
      session.out.text(response.outcomes.map((o) => `deployment ${o.name} ${applyWord(o.result)}`).join("\n"));
    });
}
