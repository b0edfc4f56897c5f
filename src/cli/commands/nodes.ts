import type { Command } from "commander";
import { ListNodesRequest } from "../../gen/orchestrator/v1/orchestrator.js";
import type { Node } from "../../gen/orchestrator/v1/types.js";
import type { SessionFor } from "../session.js";
import { formatCores, formatMemory } from "../quantity.js";
import { nodeStatusName, nodeView } from "../views.js";

const EXAMPLES = `
Examples:
  orchctl nodes
  orchctl nodes --output json

CPU is allocated/capacity in cores, MEMORY in MiB/GiB, each with the allocated share.
`;

function percent(part: number, whole: number): string {
  return whole === 0 ? "-" : `${Math.round((100 * part) / whole)}%`;
}

/** "-" when never drained; "draining (3 migrated)" or "complete (10 migrated, 2 at deadline)". */
function drainText(node: Node): string {
  const drain = node.drain;
  if (drain === undefined) return "-";
  const forced = drain.stoppedAtDeadline > 0 ? `, ${drain.stoppedAtDeadline} at deadline` : "";
  return `${drain.state} (${drain.migrated} migrated${forced})`;
}

/** The status, and when the node's agent cannot run containers, why ("not ready: ..."). */
export function nodeStatusText(node: Node): string {
  const status = nodeStatusName(node.status);
  if (node.notReadyReason === "") return status;
  return status === "ready" ? `not ready: ${node.notReadyReason}` : `${status}, not ready: ${node.notReadyReason}`;
}

export function nodeRow(node: Node): string[] {
  const allocated = node.allocated ?? { cpuMillicores: 0, memoryMib: 0 };
  const capacity = node.capacity ?? { cpuMillicores: 0, memoryMib: 0 };
  return [
    node.id,
    node.region,
    nodeStatusText(node),
    `${formatCores(allocated.cpuMillicores)}/${formatCores(capacity.cpuMillicores)} (${percent(allocated.cpuMillicores, capacity.cpuMillicores)})`,
    `${formatMemory(allocated.memoryMib)}/${formatMemory(capacity.memoryMib)} (${percent(allocated.memoryMib, capacity.memoryMib)})`,
    String(node.containers),
    node.ineligible ? "ineligible" : "eligible",
    drainText(node),
  ];
}

export function registerNodes(parent: Command, sessionFor: SessionFor): void {
  parent
    .command("nodes")
    .description("list nodes with their status and allocated/total resources")
    .option("--stale", "answer from the contacted replica's local state (faster, may lag)")
    .addHelpText("after", EXAMPLES)
    .action(async (flags: { stale?: boolean }, command: Command) => {
      const session = sessionFor(command);
      const response = await session.client.call(
        "listNodes",
        ListNodesRequest.fromPartial({ stale: flags.stale === true }),
      );
      const nodes = [...response.nodes].sort((a, b) => a.region.localeCompare(b.region) || a.id.localeCompare(b.id));
      if (session.out.isJson) {
        session.out.json({ revision: response.revision, nodes: nodes.map(nodeView) });
        return;
      }
      session.out.table(
        ["ID", "REGION", "STATUS", "CPU", "MEMORY", "CONTAINERS", "ELIGIBILITY", "DRAIN"],
        nodes.map(nodeRow),
        "No nodes registered. Start a node-agent.",
      );
    });
}
