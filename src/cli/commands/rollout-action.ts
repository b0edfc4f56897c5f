import type { Command } from "commander";
import { RolloutActionRequest } from "../../gen/orchestrator/v1/orchestrator.js";
import { deploymentNameArg, revisionArg } from "../args.js";
import type { Session, SessionFor } from "../session.js";

type Action = "promote" | "pause" | "resume" | "undo";

const DESCRIPTIONS: Readonly<Record<Action, string>> = {
  promote: "end the canary phase: the rollout replaces the remaining old replicas",
  pause: "pause a rollout in progress (only an operator's resume lifts it)",
  resume: "resume a paused rollout",
  undo: "roll back to the previous version (or --to-version N) as a new version, without a canary phase",
};

const DONE: Readonly<Record<Action, string>> = {
  promote: "promoted",
  pause: "paused",
  resume: "resumed",
  undo: "rolled back",
};

async function act(session: Session, name: string, action: Action, toVersion: number): Promise<void> {
  const client = session.client;
  const response = await client.call(
    "rolloutAction",
    RolloutActionRequest.fromPartial({ header: client.nextHeader(), name, action, toVersion }),
  );
  if (session.out.isJson) {
    session.out.json({
      deployment: name,
      action,
      changed: response.changed,
      version: response.version,
      revision: response.revision,
      rollout: response.deployment?.rollout ?? null,
    });
    return;
  }
  const state = response.deployment?.rollout?.state ?? "";
  if (action === "undo")
    session.out.text(
      response.changed
        ? `deployment ${name} rolled back: now version ${response.version}, rolling out (revision ${response.revision})`
        : `deployment ${name} already runs that spec (version ${response.version}); nothing to undo`,
    );
  else
    session.out.text(
      `rollout of ${name} ${response.changed ? DONE[action] : `unchanged (already ${state})`} (revision ${response.revision})`,
    );
}

export function registerRolloutActions(rollout: Command, sessionFor: SessionFor): void {
  for (const action of ["promote", "pause", "resume"] as const) {
    rollout
      .command(action)
      .description(DESCRIPTIONS[action])
      .argument("<name>", "deployment name", deploymentNameArg)
      .action(async (name: string, _flags: unknown, command: Command) => act(sessionFor(command), name, action, 0));
  }
  rollout
    .command("undo")
    .description(DESCRIPTIONS.undo)
    .argument("<name>", "deployment name", deploymentNameArg)
    .option("--to-version <n>", "the version of the history to go back to (default: the previous one)", revisionArg)
    .addHelpText("after", "\nExamples:\n  orchctl rollout undo web\n  orchctl rollout undo web --to-version 3\n")
    .action(async (name: string, flags: { toVersion?: number }, command: Command) =>
      act(sessionFor(command), name, "undo", flags.toVersion ?? 0),
    );
}
