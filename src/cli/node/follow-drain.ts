/**
 * node drain --monitor: follow a node's drain until it completes, that is until every container
 * on the node has stopped as its agent reported (the FSM completes a drain only then), printing
 * progress to stderr. Resolves with the node on completion; throws a CliError (exit 1) when the
 * node or its drain goes away, and at the command's deadline.
 */
import { ListNodesRequest } from "../../gen/orchestrator/v1/orchestrator.js";
import type { Node } from "../../gen/orchestrator/v1/types.js";
import { CliError } from "../errors.js";
import { pollUntil } from "../poll.js";
import type { Session } from "../session.js";

export async function followDrain(session: Session, nodeId: string): Promise<Node> {
  let last = "";
  return pollUntil<Node, Node>(
    session,
    async () => {
      const response = await session.client.call("listNodes", ListNodesRequest.fromPartial({}));
      const node = response.nodes.find((n) => n.id === nodeId);
      if (node === undefined)
        throw new CliError("NOT_FOUND", `node ${nodeId} is not registered`, "`orchctl nodes` lists the nodes");
      const drain = node.drain;
      if (drain === undefined)
        throw new CliError(
          "FAILED_PRECONDITION",
          `node ${nodeId} is not draining`,
          `\`orchctl node drain ${nodeId}\` starts a drain`,
        );
      const line = `drain of ${nodeId}: ${drain.state}, ${node.containers} containers on the node, ${drain.migrated} migrated${drain.stoppedAtDeadline > 0 ? `, ${drain.stoppedAtDeadline} stopped at the deadline` : ""}`;
      if (line !== last) session.io.stderr.write(`${line}\n`);
      last = line;
      return drain.state === "complete" ? { done: node } : { look: node };
    },
    (node) =>
      new CliError(
        "DEADLINE_EXCEEDED",
        `timed out after ${session.options.timeoutSeconds}s following the drain of ${nodeId}: ${node.containers} containers still on the node`,
        "--timeout waits longer; the drain goes on without orchctl",
        { node: nodeId, containers: node.containers },
      ),
  );
}
