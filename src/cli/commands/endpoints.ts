/**
 * orchctl endpoints NAME: where a deployment's healthy replicas are reached, one host:port per
 * named port: the minimal service discovery a client needs (real containers; simulated ones
 * have no addresses).
 */
import type { Command } from "commander";
import { ListContainersRequest } from "../../gen/orchestrator/v1/orchestrator.js";
import { ContainerState } from "../../gen/orchestrator/v1/types.js";
import { deploymentNameArg } from "../args.js";
import type { SessionFor } from "../session.js";

const EXAMPLES = `
Examples:
  orchctl endpoints hello
  orchctl endpoints hello --port http --output json
`;

interface EndpointsFlags {
  readonly port?: string;
}

export function registerEndpoints(parent: Command, sessionFor: SessionFor): void {
  parent
    .command("endpoints")
    .description("list the addresses of a deployment's healthy replicas")
    .argument("<name>", "deployment name", deploymentNameArg)
    .option("--port <name>", "only this named port")
    .addHelpText("after", EXAMPLES)
    .action(async (name: string, flags: EndpointsFlags, command: Command) => {
      const session = sessionFor(command);
      const response = await session.client.call(
        "listContainers",
        ListContainersRequest.fromPartial({ deployment: name, limit: 0 }),
      );
      const endpoints = response.containers
        .filter((c) => c.state === ContainerState.CONTAINER_STATE_RUNNING && c.health === "healthy")
        .flatMap((c) =>
          (c.addresses?.addresses ?? [])
            .filter((a) => flags.port === undefined || a.name === flags.port)
            .map((a) => ({ container: c.id, node: c.node, port: a.name, address: a.address })),
        );
      if (session.out.isJson) {
        session.out.json({ deployment: name, revision: response.revision, endpoints });
        return;
      }
      session.out.table(
        ["CONTAINER", "NODE", "PORT", "ADDRESS"],
        endpoints.map((e) => [e.container, e.node, e.port, e.address]),
        `No healthy endpoints of ${name}.`,
      );
    });
}
