import { InvalidArgumentError, type Command } from "commander";
import { InjectFaultRequest, type InjectFaultResponse } from "../../gen/orchestrator/v1/orchestrator.js";
import { RpcFailure } from "../client.js";
import { CliError, UsageError } from "../errors.js";
import type { SessionFor } from "../session.js";

/**
 * Fault injection into the simulated nodes and containers. The replica that answers looks the
 * target up in its state and asks the agent running it (its HTTP fault hooks) to misbehave;
 * the control plane then has to notice and heal, as it would a real failure.
 */

type FaultTarget = "container" | "node" | "image";

/** What each fault does; the server checks the same names (src/api/fault-handlers.ts). */
export const FAULT_ACTIONS: Readonly<Record<FaultTarget, Readonly<Record<string, string>>>> = {
  container: {
    crash: "the container exits; its agent reports it failed and the leader restarts it with exponential backoff",
    hang: "its health endpoint stops answering, so probes time out and it turns unhealthy (until `healthy`)",
    unhealthy: "its health endpoint answers HTTP 500, so probes fail and it is restarted (until `healthy`)",
    healthy: "clears `hang` and `unhealthy`: the health endpoint answers 200 again",
  },
  node: {
    kill: "the node goes silent (no heartbeats, no reports, its containers' endpoints reset connections); the leader declares it down after its heartbeat TTL and reschedules its containers elsewhere",
    revive:
      "the node comes back: it heartbeats again, becomes ready, and its agent stops what is no longer assigned to it",
  },
  image: {
    crash:
      "every instance of the image exits, on every agent, now and each time one starts (a broken build), until `healthy`",
    unhealthy: "every instance's health endpoint answers HTTP 500, now and later, until `healthy`",
    "slow-start": "new instances take --seconds S to start (running instances are not touched), until `healthy`",
    healthy: "clears the image's fault; instances started from now on behave normally",
  },
};

function actionsHelp(target: FaultTarget): string {
  const actions = Object.entries(FAULT_ACTIONS[target]);
  const width = Math.max(...actions.map(([name]) => name.length));
  return actions.map(([name, what]) => `  ${name.padEnd(width)}   ${what}`).join("\n");
}

function actionArg(target: FaultTarget): (text: string) => string {
  return (text: string) => {
    const allowed = Object.keys(FAULT_ACTIONS[target]);
    if (!allowed.includes(text))
      throw new InvalidArgumentError(
        `"${text}" is not ${target === "image" ? "an" : "a"} ${target} fault; use one of: ${allowed.join(", ")}`,
      );
    return text;
  };
}

function idArg(target: FaultTarget): (text: string) => string {
  return (text: string) => {
    if (text.trim() === "") throw new InvalidArgumentError(`give a ${target} id`);
    return text;
  };
}

export function faultView(target: FaultTarget, id: string, action: string, response: InjectFaultResponse) {
  return { target, id, action, node: response.node, agentAddress: response.agentAddress, message: response.message };
}

async function inject(
  target: FaultTarget,
  id: string,
  action: string,
  command: Command,
  sessionFor: SessionFor,
  seconds = 0,
): Promise<void> {
  const session = sessionFor(command);
  let response: InjectFaultResponse;
  try {
    response = await session.client.call(
      "injectFault",
      InjectFaultRequest.fromPartial({ target, id, action, seconds }),
    );
  } catch (error) {
    throw clarify(error, target);
  }
  if (session.out.isJson) session.out.json(faultView(target, id, action, response));
  else session.out.text(response.message === "" ? `${action} injected into ${target} ${id}` : response.message);
}

/** The replica answered, but about the target or its agent: say what to look at. */
function clarify(error: unknown, target: FaultTarget): unknown {
  if (!(error instanceof RpcFailure)) return error;
  if (error.agentAddress !== undefined) {
    return new CliError(
      error.statusName,
      error.details,
      `check that the node-agent with HTTP address ${error.agentAddress} is running (\`orchctl nodes --output json\` shows each node's agentAddress)`,
      { agentAddress: error.agentAddress },
    );
  }
  if (error.statusName === "NOT_FOUND") {
    return new CliError(
      error.statusName,
      error.details,
      target === "node" ? "run `orchctl nodes` to see node ids" : "run `orchctl containers` to see container ids",
    );
  }
  return error;
}

const EXAMPLES = `
Examples:
  orchctl fault container web-0 crash
  orchctl fault container web-1 hang
  orchctl fault container web-1 healthy
  orchctl fault node eu-west-1-n2 kill
  orchctl fault node eu-west-1-n2 revive
  orchctl fault image web:2 unhealthy
  orchctl fault image web:2 slow-start --seconds 30
  orchctl fault image web:2 healthy

Any replica serves a fault: it finds the container's node (or the node) in its state and POSTs
the fault to that node's agent. Nothing is written to the cluster state; watch the healing with
\`orchctl watch\`, \`orchctl get <deployment>\` and \`orchctl slo\`.
`;

export function registerFault(parent: Command, sessionFor: SessionFor): void {
  const fault = parent
    .command("fault")
    .description("inject faults into simulated nodes and containers (through their node-agent)")
    .addHelpText("after", EXAMPLES);
  fault
    .command("container")
    .description("make a container crash, hang or turn unhealthy (or heal it)")
    .argument("<id>", "container id, e.g. web-0 (see `orchctl containers`)", idArg("container"))
    .argument("<action>", `one of: ${Object.keys(FAULT_ACTIONS.container).join(", ")}`, actionArg("container"))
    .addHelpText(
      "after",
      `\nActions:\n${actionsHelp("container")}\n\nExamples:\n  orchctl fault container web-0 crash\n  orchctl fault container web-0 healthy\n`,
    )
    .action((id: string, action: string, _flags: unknown, command: Command) =>
      inject("container", id, action, command, sessionFor),
    );
  fault
    .command("node")
    .description("kill a simulated node (it goes silent) or revive it")
    .argument("<id>", "node id, e.g. eu-west-1-n2 (see `orchctl nodes`)", idArg("node"))
    .argument("<action>", `one of: ${Object.keys(FAULT_ACTIONS.node).join(", ")}`, actionArg("node"))
    .addHelpText(
      "after",
      `\nActions:\n${actionsHelp("node")}\n\nExamples:\n  orchctl fault node eu-west-1-n2 kill\n  orchctl fault node eu-west-1-n2 revive\n`,
    )
    .action((id: string, action: string, _flags: unknown, command: Command) =>
      inject("node", id, action, command, sessionFor),
    );
  fault
    .command("image")
    .description("make every instance of an image crash, turn unhealthy or start slowly, on every agent (or heal it)")
    .argument("<image>", "image reference, e.g. web:2 (as in the deployment's --image)", idArg("image"))
    .argument("<action>", `one of: ${Object.keys(FAULT_ACTIONS.image).join(", ")}`, actionArg("image"))
    .option("--seconds <s>", "slow-start only: how long each new instance takes to start", secondsArg)
    .addHelpText(
      "after",
      `\nActions:\n${actionsHelp("image")}\n\nThe fault holds for instances started later too, so a rollout of a version\nwith a bad image can be tried: its new replicas fail, and the rollout reverts.\n\nExamples:\n  orchctl fault image web:2 crash\n  orchctl fault image web:2 slow-start --seconds 30\n  orchctl fault image web:2 healthy\n`,
    )
    .action((image: string, action: string, flags: { seconds?: number }, command: Command) => {
      if (action === "slow-start" && flags.seconds === undefined)
        throw new UsageError("slow-start needs --seconds S (how long each new instance takes to start)");
      if (action !== "slow-start" && flags.seconds !== undefined)
        throw new UsageError(`--seconds applies to slow-start only, not ${action}`);
      return inject("image", image, action, command, sessionFor, flags.seconds ?? 0);
    });
}

/** The agents refuse a longer slow start (src/agent/limits.ts slowStartMsMax). */
const slowStartSecondsMax = 3_600;

function secondsArg(text: string): number {
  const seconds = Number(text);
  if (!/^\d+$/.test(text) || seconds < 1 || seconds > slowStartSecondsMax)
    throw new InvalidArgumentError(`--seconds must be a whole number from 1 to ${slowStartSecondsMax}, got "${text}"`);
  return seconds;
}
