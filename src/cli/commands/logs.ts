/**
 * orchctl logs CONTAINER [-f] [--tail N]: a container's output, read from the agent that runs it.
 *
 * Logs are not cluster state: they never go through Raft, and they do not travel through a
 * replica either. orchctl asks the API where the container runs (its node, and that node's agent
 * address), then reads GET http://<agent>/containers/<id>/logs from the agent, which serves the
 * Docker engine's log (or, in the simulator, the lines the simulated container writes). Streaming
 * a follow through a replica would hold a control-plane stream per reader for as long as people
 * watch; the agent already serves HTTP to the leader's probes, and orchctl already needs to reach
 * the cluster's network. The cost: orchctl must be able to reach the agents' HTTP addresses.
 */
import { InvalidArgumentError, type Command } from "commander";
import { request } from "undici";
import { ListContainersRequest, ListNodesRequest } from "../../gen/orchestrator/v1/orchestrator.js";
import { CliError } from "../errors.js";
import type { SessionFor } from "../session.js";

const EXAMPLES = `
Examples:
  orchctl logs web-0
  orchctl logs web-0 -f --tail 20
`;

/** Lines --tail may ask for (the agent's own bound). */
const tailLinesMax = 100_000;

function tailArg(text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value > tailLinesMax)
    throw new InvalidArgumentError(`--tail must be a whole number from 0 to ${tailLinesMax}, got "${text}"`);
  return value;
}

interface LogsFlags {
  readonly follow?: boolean;
  readonly tail?: number;
}

export function registerLogs(parent: Command, sessionFor: SessionFor): void {
  parent
    .command("logs")
    .description("print a container's output (-f: keep following it)")
    .argument("<container>", "container id, e.g. web-0")
    .option("-f, --follow", "keep printing new output until interrupted or the container goes")
    .option("--tail <n>", "start with the last n lines (default: all that is kept)", tailArg)
    .addHelpText("after", EXAMPLES)
    .action(async (containerId: string, flags: LogsFlags, command: Command) => {
      const session = sessionFor(command);
      const dash = containerId.lastIndexOf("-");
      const deployment = dash > 0 ? containerId.slice(0, dash) : containerId;
      const { containers } = await session.client.call(
        "listContainers",
        ListContainersRequest.fromPartial({ deployment, limit: 0 }),
      );
      const container = containers.find((c) => c.id === containerId);
      if (container === undefined)
        throw new CliError("NOT_FOUND", `no container ${containerId}`, "run `orchctl containers` to see containers");
      if (container.node === "")
        throw new CliError("FAILED_PRECONDITION", `container ${containerId} is not placed on a node yet`);
      const { nodes } = await session.client.call("listNodes", ListNodesRequest.fromPartial({}));
      const agent = nodes.find((n) => n.id === container.node)?.agentAddress ?? "";
      if (agent === "") throw new CliError("UNAVAILABLE", `node ${container.node} has no agent address`);
      const query = new URLSearchParams({ tail: String(flags.tail ?? 0), follow: flags.follow === true ? "1" : "0" });
      const url = `http://${agent}/containers/${encodeURIComponent(containerId)}/logs?${query.toString()}`;
      let response: Awaited<ReturnType<typeof request>>;
      try {
        response = await request(url, {
          ...(session.io.signal !== undefined ? { signal: session.io.signal } : {}),
          headersTimeout: 10_000,
          bodyTimeout: 0,
        });
      } catch (error) {
        throw new CliError(
          "UNAVAILABLE",
          `cannot reach the agent of node ${container.node} at ${agent}: ${error instanceof Error ? error.message : String(error)}`,
          "orchctl logs reads from the agent directly: run it where the agents' HTTP addresses are reachable",
        );
      }
      if (response.statusCode !== 200) {
        const body = await response.body.text();
        throw new CliError(response.statusCode === 404 ? "NOT_FOUND" : "UNAVAILABLE", `agent ${agent}: ${body.trim()}`);
      }
      try {
        for await (const chunk of response.body) session.io.stdout.write(Buffer.from(chunk as Uint8Array).toString());
      } catch (error) {
        // Ctrl-C ends a follow; anything else is a broken stream.
        if (session.io.signal?.aborted !== true) throw error;
      }
    });
}
