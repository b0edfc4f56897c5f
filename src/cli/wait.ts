import { setTimeout as sleep } from "node:timers/promises";
import cliProgress from "cli-progress";
import { GetDeploymentRequest } from "../gen/orchestrator/v1/orchestrator.js";
import type { Deployment } from "../gen/orchestrator/v1/types.js";
import { CliError } from "./errors.js";
import { cliLimits } from "./limits.js";
import type { Session } from "./session.js";
import { specOf, statusOf } from "./views.js";

/**
 * deploy --wait: poll GetDeployment until every desired replica runs, showing running/desired.
 * Kept deliberately simple until the scheduler exists: it watches the counts and, when the
 * command's deadline comes first, fails with the server's pending reason.
 */

interface Progress {
  update(running: number, desired: number, pendingReason: string): void;
  stop(): void;
}

/** A cli-progress bar on a terminal. */
function barProgress(terminal: NodeJS.WriteStream, name: string): Progress {
  const bar = new cliProgress.SingleBar(
    {
      stream: terminal,
      format: `${name} |{bar}| {value}/{total} running{reason}`,
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(running, desired, pendingReason) {
      const reason = pendingReason === "" ? "" : `  pending: ${pendingReason}`;
      if (!started) {
        bar.start(desired, running, { reason });
        started = true;
      } else {
        bar.setTotal(desired);
        bar.update(running, { reason });
      }
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

/** Plain lines on stderr, one per change, when there is no terminal (pipes, CI, tests). */
function lineProgress(session: Session, name: string): Progress {
  let last = "";
  return {
    update(running, desired, pendingReason) {
      const line = `waiting for ${name}: ${running}/${desired} running${pendingReason === "" ? "" : ` (pending: ${pendingReason})`}`;
      if (line !== last) session.io.stderr.write(`${line}\n`);
      last = line;
    },
    stop() {},
  };
}

function desiredOf(deployment: Deployment): number {
  const status = statusOf(deployment);
  return status.desired > 0 ? status.desired : specOf(deployment).replicas;
}

/** Resolves with the deployment once all desired replicas run; throws a CliError at the deadline. */
export async function waitUntilRunning(session: Session, name: string): Promise<Deployment> {
  const terminal = session.io.progressTerminal;
  const progress =
    terminal !== undefined && !session.out.isJson ? barProgress(terminal, name) : lineProgress(session, name);
  try {
    for (;;) {
      const response = await session.client.call("getDeployment", GetDeploymentRequest.fromPartial({ name }));
      const deployment = response.deployment;
      if (deployment === undefined)
        throw new CliError("NOT_FOUND", `deployment ${name} disappeared while waiting`, "run `orchctl list`");
      const status = statusOf(deployment);
      const desired = desiredOf(deployment);
      progress.update(Math.min(status.running, desired), desired, status.pendingReason);
      if (status.running >= desired) return deployment;
      if (session.remainingMs() < cliLimits.waitPollIntervalMs + cliLimits.waitPollReserveMs)
        throw timedOut(session, name, deployment);
      await sleep(cliLimits.waitPollIntervalMs, undefined, { signal: session.io.signal });
    }
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
