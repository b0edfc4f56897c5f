/**
 * rollout status and deploy --wait: follow the rollout to one version until it ends, with a
 * progress bar on a terminal (plain lines otherwise). Resolves on success; throws a CliError
 * (exit 1) with the reason on failure or revert, and at the command's deadline.
 */
import { setTimeout as sleep } from "node:timers/promises";
import cliProgress from "cli-progress";
import { GetDeploymentRequest } from "../../gen/orchestrator/v1/orchestrator.js";
import type { Deployment } from "../../gen/orchestrator/v1/types.js";
import { CliError } from "../errors.js";
import { cliLimits } from "../limits.js";
import type { Session } from "../session.js";
import { rolloutVerdict } from "./rollout-verdict.js";

export interface RolloutEnd {
  readonly deployment: Deployment;
  readonly version: number;
  readonly state: string;
  readonly message: string;
}

interface Progress {
  update(healthy: number, desired: number, state: string): void;
  stop(): void;
}

function barProgress(terminal: NodeJS.WriteStream, name: string, version: number): Progress {
  const bar = new cliProgress.SingleBar(
    {
      stream: terminal,
      format: `${name} v${version} |{bar}| {value}/{total} healthy  {state}`,
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(healthy, desired, state) {
      if (!started) bar.start(desired, healthy, { state });
      else {
        bar.setTotal(desired);
        bar.update(healthy, { state });
      }
      started = true;
    },
    stop() {
      if (started) bar.stop();
      started = false;
    },
  };
}

function lineProgress(session: Session, name: string, version: number): Progress {
  let last = "";
  return {
    update(healthy, desired, state) {
      const line = `rollout of ${name} to v${version}: ${state}, ${healthy}/${desired} healthy`;
      if (line !== last) session.io.stderr.write(`${line}\n`);
      last = line;
    },
    stop() {},
  };
}

/** Follows the rollout to `version` (the deployment's current or last rollout when undefined). */
export async function followRollout(session: Session, name: string, version?: number): Promise<RolloutEnd> {
  const get = async () => session.client.call("getDeployment", GetDeploymentRequest.fromPartial({ name }));
  let response = await get();
  const target = version ?? response.deployment?.rollout?.toVersion;
  if (target === undefined)
    throw new CliError(
      "FAILED_PRECONDITION",
      `deployment ${name} has no rollout: it has never rolled out a new version`,
      `deploy a changed spec to start one (\`orchctl deploy ${name} --image ...\`)`,
    );
  const terminal = session.io.progressTerminal;
  const progress =
    terminal !== undefined && !session.out.isJson
      ? barProgress(terminal, name, target)
      : lineProgress(session, name, target);
  let awaitingShown = false;
  try {
    for (;;) {
      const deployment = response.deployment;
      if (deployment === undefined)
        throw new CliError("NOT_FOUND", `deployment ${name} disappeared while following its rollout`);
      const verdict = rolloutVerdict(deployment, response.containers, target);
      if (verdict.kind === "ended") {
        const end = { deployment, version: target, state: verdict.state, message: verdict.message };
        if (verdict.succeeded) return end;
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
      if (session.remainingMs() < cliLimits.waitPollIntervalMs + cliLimits.waitPollReserveMs)
        throw new CliError(
          "DEADLINE_EXCEEDED",
          `timed out after ${session.options.timeoutSeconds}s following the rollout of ${name} to v${target}: ${verdict.state}, ${verdict.healthy}/${verdict.desired} healthy`,
          `--timeout waits longer; \`orchctl get ${name}\` shows its containers and events`,
          { deployment: name, version: target, state: verdict.state },
        );
      await sleep(cliLimits.waitPollIntervalMs, undefined, { signal: session.io.signal });
      response = await get();
    }
  } finally {
    progress.stop();
  }
}
