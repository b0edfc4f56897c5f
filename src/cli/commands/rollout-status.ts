import type { Command } from "commander";
import { GetDeploymentRequest } from "../../gen/orchestrator/v1/orchestrator.js";
import { deploymentNameArg } from "../args.js";
import { CliError } from "../errors.js";
import { renderFields } from "../output.js";
import { followRollout } from "../rollout/follow-rollout.js";
import type { Session, SessionFor } from "../session.js";

const EXAMPLES = `
Examples:
  orchctl rollout status web              # follow until it ends: exit 0 succeeded, 1 failed or reverted
  orchctl rollout status web --no-follow  # print where it stands now and exit 0
  orchctl rollout status web -o json      # the final state as JSON
`;

async function statusOnce(session: Session, name: string): Promise<void> {
  const response = await session.client.call("getDeployment", GetDeploymentRequest.fromPartial({ name }));
  const rollout = response.deployment?.rollout;
  if (rollout === undefined)
    throw new CliError(
      "FAILED_PRECONDITION",
      `deployment ${name} has no rollout: it has never rolled out a new version`,
    );
  if (session.out.isJson) {
    session.out.json({ deployment: name, rollout });
    return;
  }
  session.out.text(
    renderFields([
      ["Deployment", name],
      ["Rollout", `v${rollout.fromVersion} -> v${rollout.toVersion}${rollout.isRevert ? " (revert)" : ""}`],
      ["State", rollout.state + (rollout.pausedBy === "" ? "" : ` (by ${rollout.pausedBy})`)],
      ["Promoted", rollout.promoted ? "yes" : "no"],
      ["Steps", String(rollout.stepSeq)],
      ["Reason", rollout.reason === "" ? "-" : rollout.reason],
    ]).trimEnd(),
  );
}

export function registerRolloutStatus(rollout: Command, sessionFor: SessionFor): void {
  rollout
    .command("status")
    .description("follow a deployment's rollout until it ends (exit 0 succeeded, 1 failed or reverted)")
    .argument("<name>", "deployment name", deploymentNameArg)
    .option("--no-follow", "print the rollout's state once instead of following it")
    .addHelpText("after", EXAMPLES)
    .action(async (name: string, flags: { follow: boolean }, command: Command) => {
      const session = sessionFor(command);
      if (!flags.follow) return statusOnce(session, name);
      const end = await followRollout(session, name);
      if (session.out.isJson)
        session.out.json({ deployment: name, version: end.version, state: end.state, message: end.message });
      else session.out.text(end.message);
    });
}
