/**
 * rollout status and deploy --wait: follow the rollout to one version until it ends, with a
 * progress bar on a terminal (plain lines otherwise). Resolves on success; throws a CliError
 * (exit 1) with the reason on failure or revert, and at the command's deadline.
 */
import { GetDeploymentRequest } from "../../gen/orchestrator/v1/orchestrator.js";
import type { Deployment } from "../../gen/orchestrator/v1/types.js";
import { CliError } from "../errors.js";
import { pollUntil } from "../poll.js";
import { progressOf } from "../progress.js";
import type { Session } from "../session.js";
import { rolloutVerdict, type RolloutVerdict } from "./rollout-verdict.js";

export interface RolloutEnd {
  readonly deployment: Deployment;
  readonly version: number;
  readonly state: string;
  readonly message: string;
}

/** Follows the rollout to `version` (the deployment's current or last rollout when undefined). */
export async function followRollout(session: Session, name: string, version?: number): Promise<RolloutEnd> {
  const get = async () => session.client.call("getDeployment", GetDeploymentRequest.fromPartial({ name }));
  let first: Awaited<ReturnType<typeof get>> | null = await get();
  const target = version ?? first.deployment?.rollout?.toVersion;
  if (target === undefined)
    throw new CliError(
      "FAILED_PRECONDITION",
      `deployment ${name} has no rollout: it has never rolled out a new version`,
      `deploy a changed spec to start one (\`orchctl deploy ${name} --image ...\`)`,
    );
  const progress = progressOf(session, {
    bar: `${name} v${target} |{bar}| {value}/{total} healthy  {detail}`,
    line: (healthy, desired, state) => `rollout of ${name} to v${target}: ${state}, ${healthy}/${desired} healthy`,
  });
  let awaitingShown = false;
  try {
    return await pollUntil<RolloutEnd, Extract<RolloutVerdict, { kind: "going" }>>(
      session,
      async () => {
        const response = first ?? (await get());
        first = null;
        const deployment = response.deployment;
        if (deployment === undefined)
          throw new CliError("NOT_FOUND", `deployment ${name} disappeared while following its rollout`);
        const verdict = rolloutVerdict(deployment, response.containers, target);
        if (verdict.kind === "ended") {
          const end = { deployment, version: target, state: verdict.state, message: verdict.message };
          if (verdict.succeeded) return { done: end };
          throw new CliError("ABORTED", verdict.message, `\`orchctl rollout history ${name}\` shows every version`, {
            deployment: name,
            version: target,
            state: verdict.state,
          });
        }
        progress.update(verdict.healthy, verdict.desired, verdict.state);
        if (verdict.state === "awaiting-promotion" && !awaitingShown) {
          awaitingShown = true;
          session.io.stderr.write(
            `canaries of ${name} v${target} are up: \`orchctl rollout promote ${name}\` continues\n`,
          );
        }
        return { look: verdict };
      },
      (verdict) =>
        new CliError(
          "DEADLINE_EXCEEDED",
          `timed out after ${session.options.timeoutSeconds}s following the rollout of ${name} to v${target}: ${verdict.state}, ${verdict.healthy}/${verdict.desired} healthy`,
          `--timeout waits longer; \`orchctl get ${name}\` shows its containers and events`,
          { deployment: name, version: target, state: verdict.state },
        ),
    );
  } finally {
    progress.stop();
  }
}
