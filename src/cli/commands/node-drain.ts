import type { Command } from "commander";
import { ListNodesRequest, NodeDrainRequest } from "../../gen/orchestrator/v1/orchestrator.js";
import { durationMsArg } from "../args.js";
import { formatDuration } from "../../lib/duration.js";
import { followDrain } from "../node/follow-drain.js";
import type { SessionFor } from "../session.js";
import { nodeView } from "../views.js";

/** Nomad's default drain deadline. */
const DEADLINE_MS_DEFAULT = 3_600_000;

const EXAMPLES = `
Examples:
  orchctl node drain eu-west-1-node-2 --deadline 5m
  orchctl node drain eu-west-1-node-2 --deadline 5m --monitor --timeout 600
  orchctl node drain eu-west-1-node-2 --monitor --timeout 600   # follow a drain in progress

The node turns ineligible and draining; the leader then moves its containers: for each, a
replacement is placed elsewhere and healthy (for the deployment's min_healthy_time) before the old
one stops, at most the deployment's max_parallel at once, and never leaving a deployment with
fewer than replicas - max_unavailable healthy. At the deadline (default 1h) what is left is
stopped. --ignore-singletons leaves the replicas of single-replica deployments on the node.
drain returns once the drain is accepted; --monitor follows it until every container on the node
has stopped (as its agent reports), within --timeout: exit 0 when the drain completed, 1 if not.
The node stays ineligible afterwards: \`orchctl node eligibility NODE --enable\` brings it back.
`;

interface DrainFlags {
  readonly deadline?: number;
  readonly ignoreSingletons?: boolean;
  readonly monitor?: boolean;
}

export function registerNodeDrain(node: Command, sessionFor: SessionFor): void {
  node
    .command("drain")
    .description("move every container off a node, replacements first, then keep it ineligible")
    .argument("<node>", "node id (orchctl nodes lists them)")
    .option("--deadline <duration>", "stop what is left after this long (default 1h)", durationMsArg)
    .option("--ignore-singletons", "leave the replicas of single-replica deployments on the node")
    .option("--monitor", "follow the drain until every container on the node has stopped")
    .addHelpText("after", EXAMPLES)
    .action(async (nodeId: string, flags: DrainFlags, command: Command) => {
      const session = sessionFor(command);
      const client = session.client;
      // --monitor on a node already draining follows that drain unless asked to change it.
      const changing = flags.deadline !== undefined || flags.ignoreSingletons === true;
      let following = false;
      if (flags.monitor === true && !changing) {
        const nodes = await client.call("listNodes", ListNodesRequest.fromPartial({}));
        following = nodes.nodes.find((n) => n.id === nodeId)?.drain?.state === "draining";
      }
      if (!following) {
        const deadlineMs = flags.deadline ?? DEADLINE_MS_DEFAULT;
        const response = await client.call(
          "nodeDrain",
          NodeDrainRequest.fromPartial({
            header: client.nextHeader(),
            nodeId,
            deadlineMs,
            ignoreSingletons: flags.ignoreSingletons === true,
          }),
        );
        if (flags.monitor !== true) {
          if (session.out.isJson) {
            session.out.json({
              node: response.node === undefined ? null : nodeView(response.node),
              changed: response.changed,
              revision: response.revision,
            });
            return;
          }
          const left = response.node?.containers ?? 0;
          const state = response.node?.drain?.state ?? "draining";
          session.out.text(
            state === "complete"
              ? `node ${nodeId} drained: nothing to move (revision ${response.revision})`
              : `drain of node ${nodeId} started: ${left} containers to move, deadline ${formatDuration(deadlineMs)} (revision ${response.revision}); follow it with \`orchctl node drain ${nodeId} --monitor\``,
          );
          return;
        }
      }
      const end = await followDrain(session, nodeId);
      if (session.out.isJson) session.out.json({ node: nodeView(end) });
      else {
        const drain = end.drain;
        const forced =
          (drain?.stoppedAtDeadline ?? 0) > 0 ? `, ${drain?.stoppedAtDeadline} stopped at the deadline` : "";
        session.out.text(`node ${nodeId} drained: ${drain?.migrated ?? 0} containers migrated${forced}`);
      }
    });
}
