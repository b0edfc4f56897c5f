import type { Command } from "commander";
import { ListDeploymentsRequest } from "../../gen/orchestrator/v1/orchestrator.js";
import type { Deployment } from "../../gen/orchestrator/v1/types.js";
import type { SessionFor } from "../session.js";
import { deploymentView, specOf, statusOf, strategyName } from "../views.js";

const EXAMPLES = `
Examples:
  orchctl list
  orchctl list --stale          # this replica's local view, no round trip to the leader
  orchctl list --output json

READY is running/desired replicas, HEALTHY those passing their health check. REVISION is the
cluster revision of the deployment's last change (see \`orchctl watch --from\`).
`;

export const DEPLOYMENT_HEADERS = ["NAME", "IMAGE", "READY", "HEALTHY", "STRATEGY", "VERSION", "REVISION"] as const;

export function deploymentRow(deployment: Deployment): string[] {
  const spec = specOf(deployment);
  const status = statusOf(deployment);
  const desired = status.desired > 0 ? status.desired : spec.replicas;
  return [
    spec.name,
    spec.image,
    `${status.running}/${desired}`,
    `${status.healthy}/${desired}`,
    strategyName(spec.strategy),
    String(deployment.version),
    String(deployment.updatedRevision),
  ];
}

export function registerList(parent: Command, sessionFor: SessionFor): void {
  parent
    .command("list")
    .alias("ls")
    .description("list deployments")
    .option("--stale", "answer from the contacted replica's local state (faster, may lag)")
    .addHelpText("after", EXAMPLES)
    .action(async (flags: { stale?: boolean }, command: Command) => {
      const session = sessionFor(command);
      const response = await session.client.call(
        "listDeployments",
        ListDeploymentsRequest.fromPartial({ stale: flags.stale === true }),
      );
      const deployments = [...response.deployments].sort((a, b) => specOf(a).name.localeCompare(specOf(b).name));
      if (session.out.isJson) {
        session.out.json({ revision: response.revision, deployments: deployments.map(deploymentView) });
        return;
      }
      session.out.table(
        DEPLOYMENT_HEADERS,
        deployments.map(deploymentRow),
        "No deployments. Create one with `orchctl deploy NAME --image IMAGE`.",
      );
    });
}
