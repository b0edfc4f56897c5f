/**
 * RolloutAction: an operator's promote, pause, resume or undo, proposed as the FSM's rollout
 * command. The FSM decides and words every refusal (no rollout in progress is
 * FAILED_PRECONDITION, an undo to a version the history does not hold is NOT_FOUND); this
 * handler only checks the request's shape and passes the FSM's message on unchanged.
 */
import { assertNever } from "../lib/assert.js";
import { OrchestratorError } from "../lib/errors.js";
import { deploymentToProto, validateDeploymentName, type ClusterFsm, type CommandBody } from "../fsm/index.js";
import { RolloutPauser } from "../gen/orchestrator/v1/fsm.js";
import type { RolloutActionRequest, RolloutActionResponse } from "../gen/orchestrator/v1/orchestrator.js";
import type { Caller } from "./access-control.js";
import type { CommandProposer } from "./command-proposer.js";

export type RolloutActionName = "promote" | "pause" | "resume" | "undo";

const actions: readonly RolloutActionName[] = ["promote", "pause", "resume", "undo"];

export interface RolloutHandlerDeps {
  readonly fsm: ClusterFsm;
  readonly proposer: CommandProposer;
}

function isAction(value: string): value is RolloutActionName {
  return (actions as readonly string[]).includes(value);
}

/** The FSM command of an action; who asked travels in the command's envelope (the proposer stamps it). */
function commandOf(request: RolloutActionRequest, action: RolloutActionName): CommandBody {
  const deployment = request.name;
  const actor = "";
  const by = RolloutPauser.ROLLOUT_PAUSER_OPERATOR;
  switch (action) {
    case "promote":
      return { kind: "rollout-promote", rolloutPromote: { deployment, actor } };
    case "pause":
      return { kind: "rollout-pause", rolloutPause: { deployment, by, reason: "", actor, toVersion: 0 } };
    case "resume":
      return { kind: "rollout-resume", rolloutResume: { deployment, by, reason: "", actor, toVersion: 0 } };
    case "undo":
      return { kind: "rollout-undo", rolloutUndo: { deployment, toVersion: request.toVersion, actor } };
    default:
      return assertNever(action, "rollout action");
  }
}

export function createRolloutHandlers(deps: RolloutHandlerDeps): {
  rolloutAction(request: RolloutActionRequest, caller: Caller): Promise<RolloutActionResponse>;
} {
  const { fsm, proposer } = deps;
  return {
    async rolloutAction(request, caller) {
      const invalid = validateDeploymentName(request.name);
      if (invalid !== null) throw new OrchestratorError(invalid.code, invalid.message);
      const action = request.action;
      if (!isAction(action))
        throw new OrchestratorError(
          "INVALID_ARGUMENT",
          `rollout action ${JSON.stringify(action)} is not one of ${actions.join(", ")}`,
        );
      if (action !== "undo" && request.toVersion !== 0)
        throw new OrchestratorError("INVALID_ARGUMENT", `to_version applies to undo only, not to ${action}`);
      const body = commandOf(request, action);
      const origin = { header: request.header, caller };
      let changed: boolean;
      let version: number | undefined;
      if (action === "undo") {
        const value = await proposer.propose(origin, body, "rollout-undo");
        changed = value.changed;
        version = value.version;
      } else {
        changed = (await proposer.propose(origin, body, "rollout-control")).changed;
      }
      const view = fsm.getDeployment(request.name);
      return {
        deployment: view === undefined ? undefined : deploymentToProto(view),
        revision: fsm.revision,
        changed,
        version: version ?? view?.deployment.version ?? 0,
      };
    },
  };
}
