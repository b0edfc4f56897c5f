import type { Command } from "commander";
import { GetDeploymentRequest } from "../../gen/orchestrator/v1/orchestrator.js";
import { deploymentNameArg } from "../args.js";
import { renderTable } from "../output.js";
import type { SessionFor } from "../session.js";

const EXAMPLES = `
Examples:
  orchctl rollout history web
  orchctl rollout history web -o json
`;

export function registerRolloutHistory(rollout: Command, sessionFor: SessionFor): void {
  rollout
    .command("history")
    .description("the versions of a deployment the cluster keeps: when, who, why, how each ended")
    .argument("<name>", "deployment name", deploymentNameArg)
    .addHelpText("after", EXAMPLES)
    .action(async (name: string, _flags: unknown, command: Command) => {
      const session = sessionFor(command);
      const response = await session.client.call("getDeployment", GetDeploymentRequest.fromPartial({ name }));
      const history = response.deployment?.history ?? [];
      if (session.out.isJson) {
        session.out.json({
          deployment: name,
          versions: history.map((v) => ({
            version: v.version,
            atMs: v.atMs,
            actor: v.actor,
            reason: v.reason,
            outcome: v.outcome,
            image: v.spec?.image ?? "",
            replicas: v.spec?.replicas ?? 0,
          })),
        });
        return;
      }
      const rows = history.map((v) => [
        String(v.version),
        v.atMs === 0 ? "-" : new Date(v.atMs).toISOString(),
        v.actor === "" ? "-" : v.actor,
        v.reason === "" ? "-" : v.reason,
        v.outcome,
        v.spec?.image ?? "-",
      ]);
      session.out.text(renderTable(["VERSION", "WHEN", "ACTOR", "REASON", "OUTCOME", "IMAGE"], rows).trimEnd());
    });
}
