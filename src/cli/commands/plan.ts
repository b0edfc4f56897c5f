import type { Command } from "commander";
import { DeployResult, PlanRequest, type DeploymentPlan } from "../../gen/orchestrator/v1/orchestrator.js";
import { readSpecs } from "../apply/read-specs.js";
import type { SessionFor } from "../session.js";
import { applyWord } from "./apply.js";

const EXAMPLES = `
Examples:
  orchctl plan -f examples/deployments/web.yaml
  orchctl plan -f deployments/ -o json

Nothing changes. For each deployment: the fields that would change, what the rollout would do,
and where the scheduler would put the replicas that start first if it ran now (with the reason
for any that fit nowhere). Pass the printed check-index to apply --check-index so the apply is
refused if one of these deployments changed in between.
`;

/** Placements shown per deployment in text; -o json has them all. */
const placementsShownMax = 20;

function renderPlan(plan: DeploymentPlan): string {
  const lines = [`deployment ${plan.name}: ${applyWord(plan.result)}`];
  for (const change of plan.changes)
    lines.push(
      change.old === "" ? `  + ${change.field}: ${change.new}` : `  ~ ${change.field}: ${change.old} -> ${change.new}`,
    );
  const r = plan.rollout;
  if (r !== undefined && r.replacesContainers) {
    const canary = r.canary > 0 ? `${r.canary} canary, then await promotion; ` : "";
    lines.push(
      `  rollout: new version v${r.version}; ${canary}${r.steps} steps of at most ${r.maxParallel} (max surge ${r.maxSurge}), auto-revert ${r.autoRevert ? "on" : "off"}`,
    );
  } else if (r !== undefined && r.newVersion && plan.result !== DeployResult.DEPLOY_RESULT_CREATED)
    lines.push(`  rollout: new version v${r.version}; the running containers carry over (nothing replaced)`);
  if (plan.newReplicas > 0) {
    const placed = plan.placements.filter((p) => p.node !== "").length;
    lines.push(`  placements (${placed} of ${plan.newReplicas} new replicas fit now):`);
    for (const p of plan.placements.slice(0, placementsShownMax))
      lines.push(`    ${p.container} -> ${p.node === "" ? "pending" : p.node}`);
    if (plan.newReplicas > placementsShownMax) lines.push(`    ... and ${plan.newReplicas - placementsShownMax} more`);
    if (plan.pendingReason !== "") lines.push(`  pending: ${plan.pendingReason}`);
  }
  return lines.join("\n");
}

export function registerPlan(parent: Command, sessionFor: SessionFor): void {
  parent
    .command("plan")
    .description("show what apply would do with a file or directory, changing nothing")
    .requiredOption("-f, --filename <path>", "a deployment file, or a directory of them")
    .addHelpText("after", EXAMPLES)
    .action(async (flags: { filename: string }, command: Command) => {
      const specs = readSpecs(flags.filename);
      const session = sessionFor(command);
      const response = await session.client.call("plan", PlanRequest.fromPartial({ specs }));
      if (session.out.isJson) {
        session.out.json(response);
        return;
      }
      session.out.text([...response.deployments.map(renderPlan), `check-index: ${response.checkIndex}`].join("\n"));
    });
}
