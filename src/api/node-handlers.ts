/**
 * NodeEligibility and NodeDrain: an operator's cordon and drain of a node, proposed as the FSM's
 * drain commands. The FSM decides and words every refusal (an unknown node is NOT_FOUND, enabling
 * a draining node FAILED_PRECONDITION); this handler checks the request's shape and answers with
 * the node as it is once the command applied.
 */
import { OrchestratorError } from "../lib/errors.js";
import { fsmLimits, nodeToProto, validateNodeId, type ClusterFsm } from "../fsm/index.js";
import type { Node } from "../gen/orchestrator/v1/types.js";
import type {
  NodeDrainRequest,
  NodeDrainResponse,
  NodeEligibilityRequest,
  NodeEligibilityResponse,
} from "../gen/orchestrator/v1/orchestrator.js";
import type { Caller } from "./access-control.js";
import type { CommandProposer } from "./command-proposer.js";

export interface NodeHandlerDeps {
  readonly fsm: ClusterFsm;
  readonly proposer: CommandProposer;
}

function checkNodeId(nodeId: string): void {
  const invalid = validateNodeId(nodeId);
  if (invalid !== null) throw new OrchestratorError(invalid.code, invalid.message);
}

export function createNodeHandlers(deps: NodeHandlerDeps): {
  nodeEligibility(request: NodeEligibilityRequest, caller: Caller): Promise<NodeEligibilityResponse>;
  nodeDrain(request: NodeDrainRequest, caller: Caller): Promise<NodeDrainResponse>;
} {
  const { fsm, proposer } = deps;
  const nodeOf = (id: string): Node | undefined => {
    const node = fsm.getNode(id);
    return node === undefined ? undefined : nodeToProto(node, fsm.nodeContainerCount(id));
  };
  return {
    async nodeEligibility(request, caller) {
      checkNodeId(request.nodeId);
      const actor = caller.actor;
      const value = await proposer.propose(
        { header: request.header, caller },
        { kind: "node-eligibility", nodeEligibility: { nodeId: request.nodeId, eligible: request.eligible, actor } },
        "node-eligibility",
      );
      return { node: nodeOf(value.nodeId), revision: fsm.revision, changed: value.changed };
    },
    async nodeDrain(request, caller) {
      checkNodeId(request.nodeId);
      const deadlineMs = request.deadlineMs;
      if (!(Number.isSafeInteger(deadlineMs) && deadlineMs > 0 && deadlineMs <= fsmLimits.drainDeadlineMsMax))
        throw new OrchestratorError(
          "INVALID_ARGUMENT",
          `drain deadline must be 1 ms..${fsmLimits.drainDeadlineMsMax / 86_400_000} days, got ${deadlineMs} ms`,
        );
      const actor = caller.actor;
      const value = await proposer.propose(
        { header: request.header, caller },
        {
          kind: "node-drain-start",
          nodeDrainStart: { nodeId: request.nodeId, deadlineMs, ignoreSingletons: request.ignoreSingletons, actor },
        },
        "node-drain-start",
      );
      return { node: nodeOf(value.nodeId), revision: fsm.revision, changed: value.changed };
    },
  };
}
