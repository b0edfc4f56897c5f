import type { Command } from "commander";
import { ListContainersRequest } from "../../gen/orchestrator/v1/orchestrator.js";
import type { Container } from "../../gen/orchestrator/v1/types.js";
import { limitArg } from "../args.js";
import { orDash } from "../output.js";
import type { SessionFor } from "../session.js";
import { containerStateName, containerView } from "../views.js";

const EXAMPLES = `
Examples:
  orchctl containers
  orchctl containers --deployment web
  orchctl containers --node us-east-1-n2 --output json
`;

export const CONTAINER_HEADERS = ["ID", "DEPLOYMENT", "NODE", "REGION", "STATE", "HEALTH", "RESTARTS"] as const;

export function containerRow(container: Container): string[] {
  return [
    container.id,
    container.deployment,
    orDash(container.node),
    orDash(container.region),
    containerStateName(container.state),
    container.health === "" ? "unknown" : container.health,
    String(container.restartCount),
  ];
}

export function addressesText(container: Container): string {
  const addresses = container.addresses?.addresses ?? [];
  return addresses.length === 0 ? "-" : addresses.map((a) => `${a.name}=${a.address}`).join(",");
}

interface ContainersFlags {
  readonly deployment?: string;
  readonly node?: string;
  readonly limit?: number;
  readonly stale?: boolean;
}

export function registerContainers(parent: Command, sessionFor: SessionFor): void {
  parent
    .command("containers")
    .alias("ps")
    .description("list containers, optionally of one deployment or one node")
    .option("--deployment <name>", "only this deployment's containers")
    .option("--node <id>", "only the containers on this node")
    .option("--limit <n>", "show at most n containers (default: the server's page size)", limitArg)
    .option("--stale", "answer from the contacted replica's local state (faster, may lag)")
    .addHelpText("after", EXAMPLES)
    .action(async (flags: ContainersFlags, command: Command) => {
      const session = sessionFor(command);
      const request = ListContainersRequest.fromPartial({
        deployment: flags.deployment ?? "",
        node: flags.node ?? "",
        limit: flags.limit ?? 0,
        stale: flags.stale === true,
      });
      const response = await session.client.call("listContainers", request);
      if (session.out.isJson) {
        session.out.json({
          revision: response.revision,
          total: response.total,
          containers: response.containers.map(containerView),
        });
        return;
      }
      // Real containers show where they are reached; simulated ones have no addresses to show.
      const withAddresses = response.containers.some((c) => (c.addresses?.addresses.length ?? 0) > 0);
      session.out.table(
        withAddresses ? [...CONTAINER_HEADERS, "ADDRESSES"] : CONTAINER_HEADERS,
        response.containers.map((c) => (withAddresses ? [...containerRow(c), addressesText(c)] : containerRow(c))),
        "No containers.",
      );
      if (response.total > response.containers.length) {
        session.out.note(
          `showing ${response.containers.length} of ${response.total} containers; use --limit to see more`,
        );
      }
    });
}
