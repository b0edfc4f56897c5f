/**
 * The command codec: FSM commands travel through the Raft log as `orchestrator.v1.Command`
 * protobuf messages (proto/orchestrator/v1/fsm.proto). The body is a oneof; here it becomes a
 * discriminated union so apply can switch over it exhaustively.
 */
import {
  Command,
  type AclBootstrapCommand,
  type ApplyFileCommand,
  type ApplyPlanCommand,
  type ContainerHealthCommand,
  type ContainerStatusCommand,
  type DeleteCommand,
  type DeployCommand,
  type MemberForgetCommand,
  type MemberSetCommand,
  type NodeDownCommand,
  type NodeDrainFinishCommand,
  type NodeDrainStartCommand,
  type NodeDrainStepCommand,
  type NodeEligibilityCommand,
  type OperationOutcomeCommand,
  type OperationOutcomesCommand,
  type RegisterNodeCommand,
  type RemoveContainerCommand,
  type ResetBackoffCommand,
  type RestartContainerCommand,
  type RolloutFinishCommand,
  type RolloutPauseCommand,
  type RolloutPromoteCommand,
  type RolloutResumeCommand,
  type RolloutRevertCommand,
  type RolloutStepCommand,
  type RolloutUndoCommand,
  type ScaleCommand,
  type SetNodeStatusCommand,
  type TokenCreateCommand,
  type TokenRevokeCommand,
  type NodeReadinessCommand,
} from "../gen/orchestrator/v1/fsm.js";
import { assert } from "../lib/assert.js";
import { commandFormatVersion } from "./limits.js";
import { failure, success, type FsmResult } from "./result.js";

export type CommandBody =
  | { readonly kind: "deploy"; readonly deploy: DeployCommand }
  | { readonly kind: "scale"; readonly scale: ScaleCommand }
  | { readonly kind: "delete"; readonly delete: DeleteCommand }
  | { readonly kind: "register-node"; readonly registerNode: RegisterNodeCommand }
  | { readonly kind: "set-node-status"; readonly setNodeStatus: SetNodeStatusCommand }
  | { readonly kind: "node-readiness"; readonly nodeReadiness: NodeReadinessCommand }
  | { readonly kind: "apply-plan"; readonly applyPlan: ApplyPlanCommand }
  | { readonly kind: "container-status"; readonly containerStatus: ContainerStatusCommand }
  | { readonly kind: "remove-container"; readonly removeContainer: RemoveContainerCommand }
  | { readonly kind: "container-health"; readonly containerHealth: ContainerHealthCommand }
  | { readonly kind: "restart-container"; readonly restartContainer: RestartContainerCommand }
  | { readonly kind: "reset-backoff"; readonly resetBackoff: ResetBackoffCommand }
  | { readonly kind: "node-down"; readonly nodeDown: NodeDownCommand }
  | { readonly kind: "operation-outcome"; readonly operationOutcome: OperationOutcomeCommand }
  | { readonly kind: "operation-outcomes"; readonly operationOutcomes: OperationOutcomesCommand }
  | { readonly kind: "rollout-step"; readonly rolloutStep: RolloutStepCommand }
  | { readonly kind: "rollout-finish"; readonly rolloutFinish: RolloutFinishCommand }
  | { readonly kind: "rollout-revert"; readonly rolloutRevert: RolloutRevertCommand }
  | { readonly kind: "rollout-promote"; readonly rolloutPromote: RolloutPromoteCommand }
  | { readonly kind: "rollout-pause"; readonly rolloutPause: RolloutPauseCommand }
  | { readonly kind: "rollout-resume"; readonly rolloutResume: RolloutResumeCommand }
  | { readonly kind: "rollout-undo"; readonly rolloutUndo: RolloutUndoCommand }
  | { readonly kind: "apply-file"; readonly applyFile: ApplyFileCommand }
  | { readonly kind: "acl-bootstrap"; readonly aclBootstrap: AclBootstrapCommand }
  | { readonly kind: "token-create"; readonly tokenCreate: TokenCreateCommand }
  | { readonly kind: "token-revoke"; readonly tokenRevoke: TokenRevokeCommand }
  | { readonly kind: "member-set"; readonly memberSet: MemberSetCommand }
  | { readonly kind: "member-forget"; readonly memberForget: MemberForgetCommand }
  | { readonly kind: "node-eligibility"; readonly nodeEligibility: NodeEligibilityCommand }
  | { readonly kind: "node-drain-start"; readonly nodeDrainStart: NodeDrainStartCommand }
  | { readonly kind: "node-drain-step"; readonly nodeDrainStep: NodeDrainStepCommand }
  | { readonly kind: "node-drain-finish"; readonly nodeDrainFinish: NodeDrainFinishCommand };

export type CommandKind = CommandBody["kind"];

/** The actor of the commands the leader issues on its own (plans, health verdicts, rollout steps). */
export const leaderCommandActor = "leader";

export interface FsmCommand {
  /** Empty for the leader's own commands, which skip deduplication. */
  readonly clientId: string;
  readonly seq: number;
  /** The leader's wall-clock time when proposing. */
  readonly atMs: number;
  /**
   * Who asked (audit): a token name, "cert:<name>", a client id, or leaderCommandActor; empty
   * when absent (entries older than format 6 carry none).
   */
  readonly actor?: string;
  readonly body: CommandBody;
}

/** The decoded envelope; formatVersion is checked by apply. */
export interface DecodedCommand extends FsmCommand {
  readonly formatVersion: number;
  readonly actor: string;
}

/** Encodes a command for raft.propose(), in the current format. */
export function encodeCommand(command: FsmCommand): Uint8Array {
  const message: Command = {
    formatVersion: commandFormatVersion,
    clientId: command.clientId,
    seq: command.seq,
    atMs: command.atMs,
    actor: command.actor ?? "",
    ...bodyFields(command.body),
  };
  return Command.encode(message).finish();
}

function bodyFields(body: CommandBody): Partial<Command> {
  const { kind: _kind, ...fields } = body;
  return fields;
}

/**
 * Decodes a log entry's data; malformed bytes or a missing (or doubled) body are refused, and a
 * format newer than this code is a stop (see the assertion).
 */
export function decodeCommand(data: Uint8Array): FsmResult<DecodedCommand> {
  let message: Command;
  try {
    message = Command.decode(data);
  } catch (error) {
    return failure(
      "INVALID_ARGUMENT",
      `log entry is not an FSM command (${error instanceof Error ? error.message : String(error)})`,
    );
  }
  // An entry from a newer format cannot be applied the way its newer peers apply it, and
  // refusing it would diverge from them too: stop, and let the operator upgrade this replica.
  assert(
    message.formatVersion <= commandFormatVersion,
    `log entry has command format ${message.formatVersion}, newer than this replica understands (${commandFormatVersion}): upgrade this replica`,
  );
  if (message.formatVersion === 0)
    return failure("INVALID_ARGUMENT", "FSM command without a format version; encode commands with encodeCommand()");
  const bodies: CommandBody[] = [];
  if (message.deploy !== undefined) bodies.push({ kind: "deploy", deploy: message.deploy });
  if (message.scale !== undefined) bodies.push({ kind: "scale", scale: message.scale });
  if (message.delete !== undefined) bodies.push({ kind: "delete", delete: message.delete });
  if (message.registerNode !== undefined) bodies.push({ kind: "register-node", registerNode: message.registerNode });
  if (message.setNodeStatus !== undefined)
    bodies.push({ kind: "set-node-status", setNodeStatus: message.setNodeStatus });
  if (message.nodeReadiness !== undefined)
    bodies.push({ kind: "node-readiness", nodeReadiness: message.nodeReadiness });
  if (message.applyPlan !== undefined) bodies.push({ kind: "apply-plan", applyPlan: message.applyPlan });
  if (message.containerStatus !== undefined)
    bodies.push({ kind: "container-status", containerStatus: message.containerStatus });
  if (message.removeContainer !== undefined)
    bodies.push({ kind: "remove-container", removeContainer: message.removeContainer });
  if (message.containerHealth !== undefined)
    bodies.push({ kind: "container-health", containerHealth: message.containerHealth });
  if (message.restartContainer !== undefined)
    bodies.push({ kind: "restart-container", restartContainer: message.restartContainer });
  if (message.resetBackoff !== undefined) bodies.push({ kind: "reset-backoff", resetBackoff: message.resetBackoff });
  if (message.nodeDown !== undefined) bodies.push({ kind: "node-down", nodeDown: message.nodeDown });
  if (message.operationOutcome !== undefined)
    bodies.push({ kind: "operation-outcome", operationOutcome: message.operationOutcome });
  if (message.operationOutcomes !== undefined)
    bodies.push({ kind: "operation-outcomes", operationOutcomes: message.operationOutcomes });
  if (message.rolloutStep !== undefined) bodies.push({ kind: "rollout-step", rolloutStep: message.rolloutStep });
  if (message.rolloutFinish !== undefined)
    bodies.push({ kind: "rollout-finish", rolloutFinish: message.rolloutFinish });
  if (message.rolloutRevert !== undefined)
    bodies.push({ kind: "rollout-revert", rolloutRevert: message.rolloutRevert });
  if (message.rolloutPromote !== undefined)
    bodies.push({ kind: "rollout-promote", rolloutPromote: message.rolloutPromote });
  if (message.rolloutPause !== undefined) bodies.push({ kind: "rollout-pause", rolloutPause: message.rolloutPause });
  if (message.rolloutResume !== undefined)
    bodies.push({ kind: "rollout-resume", rolloutResume: message.rolloutResume });
  if (message.rolloutUndo !== undefined) bodies.push({ kind: "rollout-undo", rolloutUndo: message.rolloutUndo });
  if (message.applyFile !== undefined) bodies.push({ kind: "apply-file", applyFile: message.applyFile });
  if (message.aclBootstrap !== undefined) bodies.push({ kind: "acl-bootstrap", aclBootstrap: message.aclBootstrap });
  if (message.tokenCreate !== undefined) bodies.push({ kind: "token-create", tokenCreate: message.tokenCreate });
  if (message.tokenRevoke !== undefined) bodies.push({ kind: "token-revoke", tokenRevoke: message.tokenRevoke });
  if (message.memberSet !== undefined) bodies.push({ kind: "member-set", memberSet: message.memberSet });
  if (message.memberForget !== undefined) bodies.push({ kind: "member-forget", memberForget: message.memberForget });
  if (message.nodeEligibility !== undefined)
    bodies.push({ kind: "node-eligibility", nodeEligibility: message.nodeEligibility });
  if (message.nodeDrainStart !== undefined)
    bodies.push({ kind: "node-drain-start", nodeDrainStart: message.nodeDrainStart });
  if (message.nodeDrainStep !== undefined)
    bodies.push({ kind: "node-drain-step", nodeDrainStep: message.nodeDrainStep });
  if (message.nodeDrainFinish !== undefined)
    bodies.push({ kind: "node-drain-finish", nodeDrainFinish: message.nodeDrainFinish });
  if (bodies.length !== 1) {
    return failure(
      "INVALID_ARGUMENT",
      `FSM command (format ${message.formatVersion}) carries ${bodies.length} bodies; exactly one is expected`,
    );
  }
  return success({
    formatVersion: message.formatVersion,
    clientId: message.clientId,
    seq: message.seq,
    atMs: message.atMs,
    actor: message.actor,
    body: bodies[0],
  });
}
