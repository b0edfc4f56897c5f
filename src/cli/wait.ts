import { GetDeploymentRequest } from "../gen/orchestrator/v1/orchestrator.js";
import type { Deployment } from "../gen/orchestrator/v1/types.js";
import { CliError } from "./errors.js";
import { pollUntil } from "./poll.js";
import { progressOf } from "./progress.js";
import type { Session } from "./session.js";
import { specOf, statusOf } from "./views.js";

/**
 * deploy --wait: poll GetDeployment until every desired replica runs, showing running/desired.
 * Kept deliberately simple until the scheduler exists: it watches the counts and, when the
 * command's deadline comes first, fails with the server's pending reason.
 */

function desiredOf(deployment: Deployment): number {
  const status = statusOf(deployment);
  return status.desired > 0 ? status.desired : specOf(deployment).replicas;
}

/** Resolves with the deployment once all desired replicas run; throws a CliError at the deadline. */
export async function waitUntilRunning(session: Session, name: string): Promise<Deployment> {
  const progress = progressOf(session, {
    bar: `${name} |{bar}| {value}/{total} running{detail}`,
    barDetail: (reason) => (reason === "" ? "" : `  pending: ${reason}`),
    line: (running, desired, reason) =>
      `waiting for ${name}: ${running}/${desired} running${reason === "" ? "" : ` (pending: ${reason})`}`,
  });
  try {
    return await pollUntil<Deployment, Deployment>(
      session,
      async () => {
        const response = await session.client.call("getDeployment", GetDeploymentRequest.fromPartial({ name }));
        const deployment = response.deployment;
        if (deployment === undefined)
          throw new CliError("NOT_FOUND", `deployment ${name} disappeared while waiting`, "run `orchctl list`");
        const status = statusOf(deployment);
        const desired = desiredOf(deployment);
        progress.update(Math.min(status.running, desired), desired, status.pendingReason);
        return status.running >= desired ? { done: deployment } : { look: deployment };
      },
      (deployment) => timedOut(session, name, deployment),
    );
  } finally {
    progress.stop();
  }
}

function timedOut(session: Session, name: string, deployment: Deployment): CliError {
  const status = statusOf(deployment);
  const desired = desiredOf(deployment);
  const reason = status.pendingReason === "" ? "no pending reason reported" : status.pendingReason;
  return new CliError(
    "DEADLINE_EXCEEDED",
    `timed out after ${session.options.timeoutSeconds}s waiting for ${name}: ${status.running}/${desired} running, ${status.pending} pending: ${reason}`,
    `\`orchctl get ${name}\` shows its containers and events; --timeout waits longer`,
    {
      deployment: name,
      running: status.running,
      desired,
      pending: status.pending,
      pendingReason: status.pendingReason,
    },
  );
}
