/**
 * InjectFault: fault injection into the simulated nodes and containers (orchctl fault).
 *
 * Faults are the agents' business, not the cluster state's: no Raft write. Any replica serves
 * the call: it looks the target up in its own FSM (a container's node, or the node itself),
 * takes that node's agent address and POSTs the agent's fault hook (src/agent/io/agent-http-server.ts):
 *
 *   POST http://<agent>/faults/containers/<id>/crash|unhealthy|healthy|hang
 *   POST http://<agent>/faults/nodes/<id>/kill|revive
 *   POST http://<agent>/faults/images/<image>/crash|unhealthy|healthy|slow-start?seconds=S   (every agent)
 *
 * Errors: a bad target or action is INVALID_ARGUMENT (naming the allowed ones); a container or
 * node this replica does not know is NOT_FOUND; one not placed yet, or whose agent refuses the
 * fault (409), is FAILED_PRECONDITION; an agent that cannot be reached in time is UNAVAILABLE
 * with the agent's address in the message and in the `agentAddress` detail (sent as the
 * `x-agent-address` trailer, which tells orchctl that another replica would fare no better).
 */
import { request } from "undici";
import { fsmLimits, validateNodeId, type ClusterFsm } from "../fsm/index.js";
import type { InjectFaultRequest, InjectFaultResponse } from "../gen/orchestrator/v1/orchestrator.js";
import { assert } from "../lib/assert.js";
import { OrchestratorError } from "../lib/errors.js";

export type FaultTarget = "container" | "node" | "image";

/** The agents' fault hooks by target (orchctl's `fault --help` tells what each does). */
export const faultActions: Readonly<Record<FaultTarget, readonly string[]>> = Object.freeze({
  container: Object.freeze(["crash", "hang", "unhealthy", "healthy"]),
  node: Object.freeze(["kill", "revive"]),
  image: Object.freeze(["crash", "unhealthy", "slow-start", "healthy"]),
});

export const faultLimits = {
  /**
   * One POST to an agent, connection included. Below orchctl's per-attempt timeout (4 s), so a
   * hung agent is reported as UNAVAILABLE before the client gives up on the replica.
   */
  agentTimeoutMs: 3_000,
  /** Characters of an agent's answer quoted back in a message. */
  agentReplyQuotedMax: 300,
  /** Longest start a slow-start image fault may ask for (the agents' own bound). */
  slowStartSecondsMax: 3_600,
} as const;

assert(faultLimits.agentTimeoutMs > 0, "agent timeout must be positive");

export interface FaultHandlerDeps {
  readonly fsm: ClusterFsm;
  /** Per POST to an agent; faultLimits.agentTimeoutMs when absent. */
  readonly agentTimeoutMs?: number;
}

export function isFaultTarget(text: string): text is FaultTarget {
  return text === "container" || text === "node" || text === "image";
}

export function allowedFaultActions(target: FaultTarget): readonly string[] {
  return faultActions[target];
}

interface ResolvedTarget {
  readonly node: string;
  readonly agentAddress: string;
}

export function createFaultHandlers(deps: FaultHandlerDeps): {
  injectFault(request: InjectFaultRequest): Promise<InjectFaultResponse>;
} {
  const timeoutMs = deps.agentTimeoutMs ?? faultLimits.agentTimeoutMs;
  return {
    async injectFault(req) {
      const { target, id, action } = req;
      if (!isFaultTarget(target)) {
        throw new OrchestratorError(
          "INVALID_ARGUMENT",
          `fault target must be "container", "node" or "image", got ${JSON.stringify(target)}`,
        );
      }
      const allowed = allowedFaultActions(target);
      if (!allowed.includes(action)) {
        throw new OrchestratorError(
          "INVALID_ARGUMENT",
          `${JSON.stringify(action)} is not ${target === "image" ? "an" : "a"} ${target} fault; allowed: ${allowed.join(", ")}`,
        );
      }
      if (target === "image") return injectImageFault(deps.fsm, id, action, req.seconds, timeoutMs);
      const resolved = target === "container" ? resolveContainer(deps.fsm, id) : resolveNode(deps.fsm, id);
      const path = `/faults/${target}s/${encodeURIComponent(id)}/${action}`;
      const reply = await postToAgent(resolved.agentAddress, path, timeoutMs, `${target} ${id}`);
      const what = target === "container" ? `container ${id} on node ${resolved.node}` : `node ${id}`;
      if (reply.status >= 200 && reply.status < 300) {
        return {
          agentAddress: resolved.agentAddress,
          node: resolved.node,
          message: `${action} injected into ${what} (agent ${resolved.agentAddress})`,
        };
      }
      const said = agentError(reply.body);
      if (reply.status === 404) {
        throw new OrchestratorError(
          "NOT_FOUND",
          `the agent at ${resolved.agentAddress} does not run ${what} (yet?): ${said}`,
        );
      }
      if (reply.status === 409) {
        throw new OrchestratorError(
          "FAILED_PRECONDITION",
          `the agent at ${resolved.agentAddress} refused ${action} for ${what}: ${said}`,
        );
      }
      throw new OrchestratorError(
        "INTERNAL",
        `the agent at ${resolved.agentAddress} answered HTTP ${reply.status} to POST ${path}: ${said}`,
      );
    },
  };
}

/**
 * An image fault goes to every agent of the cluster (each runs some of the image's instances, or
 * may later): it is reported done when at least one agent took it, with the ones that did not
 * named, and UNAVAILABLE when none could be reached.
 */
async function injectImageFault(
  fsm: ClusterFsm,
  image: string,
  action: string,
  seconds: number,
  timeoutMs: number,
): Promise<InjectFaultResponse> {
  if (image.trim() === "" || /\s/.test(image)) {
    throw new OrchestratorError("INVALID_ARGUMENT", `give an image reference like web:2, got ${JSON.stringify(image)}`);
  }
  if (image.length > fsmLimits.imageLengthMax) {
    throw new OrchestratorError(
      "INVALID_ARGUMENT",
      `image is ${image.length} characters long; at most ${fsmLimits.imageLengthMax} are allowed`,
    );
  }
  let query = "";
  if (action === "slow-start") {
    if (!Number.isInteger(seconds) || seconds < 1 || seconds > faultLimits.slowStartSecondsMax) {
      throw new OrchestratorError(
        "INVALID_ARGUMENT",
        `slow-start needs --seconds, a whole number from 1 to ${faultLimits.slowStartSecondsMax}; got ${seconds}`,
      );
    }
    query = `?seconds=${seconds}`;
  } else if (seconds !== 0) {
    throw new OrchestratorError("INVALID_ARGUMENT", `--seconds applies to slow-start only, not ${action}`);
  }
  const agents = [...new Set(fsm.listNodes().map((n) => n.agentAddress))].filter((a) => a !== "").sort();
  if (agents.length === 0) throw new OrchestratorError("FAILED_PRECONDITION", "no agent is registered to inject into");
  const path = `/faults/images/${encodeURIComponent(image)}/${action}${query}`;
  const replies = await Promise.allSettled(
    agents.map((agent) => postToAgent(agent, path, timeoutMs, `image ${image}`)),
  );
  const took: string[] = [];
  const failed: string[] = [];
  replies.forEach((reply, i) => {
    if (reply.status === "fulfilled" && reply.value.status >= 200 && reply.value.status < 300) took.push(agents[i]);
    else
      failed.push(
        `${agents[i]} (${reply.status === "fulfilled" ? `HTTP ${reply.value.status}: ${agentError(reply.value.body)}` : reply.reason instanceof Error ? reply.reason.message : String(reply.reason)})`,
      );
  });
  if (took.length === 0) {
    throw new OrchestratorError(
      "UNAVAILABLE",
      `no agent took the ${action} fault for image ${image}: ${failed.join("; ")}`,
    );
  }
  const what =
    action === "slow-start" ? `slow-start (${seconds} s)` : action === "healthy" ? "healthy (fault cleared)" : action;
  const missed = failed.length === 0 ? "" : `; not on ${failed.join("; ")}`;
  return {
    agentAddress: took.join(","),
    node: "",
    message: `${what} set for image ${image} on ${took.length} of ${agents.length} agents${missed}`,
  };
}

function resolveContainer(fsm: ClusterFsm, id: string): ResolvedTarget {
  if (id === "") throw new OrchestratorError("INVALID_ARGUMENT", "container id is empty");
  if (id.length > fsmLimits.containerIdLengthMax) {
    throw new OrchestratorError(
      "INVALID_ARGUMENT",
      `container id is ${id.length} characters long; at most ${fsmLimits.containerIdLengthMax} are allowed`,
    );
  }
  const container = fsm.getContainer(id);
  if (container === undefined) {
    throw new OrchestratorError(
      "NOT_FOUND",
      `container ${id} not found; run \`orchctl containers\` to see what exists`,
    );
  }
  if (container.node === "") {
    throw new OrchestratorError(
      "FAILED_PRECONDITION",
      `container ${id} is not placed on a node yet (state ${container.state}); nothing runs it to inject a fault into`,
    );
  }
  const node = fsm.getNode(container.node);
  if (node === undefined) {
    throw new OrchestratorError(
      "FAILED_PRECONDITION",
      `container ${id} was placed on node ${container.node}, which is no longer registered`,
    );
  }
  return { node: node.id, agentAddress: agentAddressOf(node.id, node.agentAddress) };
}

function resolveNode(fsm: ClusterFsm, id: string): ResolvedTarget {
  const invalid = validateNodeId(id);
  if (invalid !== null) throw new OrchestratorError(invalid.code, invalid.message);
  const node = fsm.getNode(id);
  if (node === undefined)
    throw new OrchestratorError("NOT_FOUND", `node ${id} not found; run \`orchctl nodes\` to see what exists`);
  return { node: node.id, agentAddress: agentAddressOf(node.id, node.agentAddress) };
}

function agentAddressOf(nodeId: string, agentAddress: string): string {
  if (agentAddress === "") {
    throw new OrchestratorError(
      "FAILED_PRECONDITION",
      `node ${nodeId} registered without an agent HTTP address, so faults cannot be injected into it`,
    );
  }
  return agentAddress;
}

async function postToAgent(
  agentAddress: string,
  path: string,
  timeoutMs: number,
  what: string,
): Promise<{ status: number; body: string }> {
  const url = `http://${agentAddress}${path}`;
  try {
    const response = await request(url, {
      method: "POST",
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = await response.body.text();
    return { status: response.statusCode, body };
  } catch (error) {
    const reason = error instanceof Error ? describeNetworkError(error) : String(error);
    throw new OrchestratorError(
      "UNAVAILABLE",
      `the agent of ${what} at ${agentAddress} could not be reached: ${reason}`,
      { agentAddress },
    );
  }
}

function describeNetworkError(error: Error): string {
  if (error.name === "TimeoutError" || error.name === "AbortError" || /timeout/i.test(error.name))
    return "no answer in time";
  const code = (error as { code?: unknown }).code;
  const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
  const causeCode = typeof cause?.code === "string" ? cause.code : undefined;
  const label =
    typeof code === "string" && code.startsWith("E") && !code.startsWith("UND_") ? code : (causeCode ?? error.message);
  return label === "" ? error.name : label;
}

function agentError(body: string): string {
  let text = body.trim();
  try {
    const parsed = JSON.parse(text) as { error?: unknown };
    if (typeof parsed.error === "string") text = parsed.error;
  } catch {
    // Not JSON: quote the text as it is.
  }
  if (text === "") return "(empty answer)";
  return text.length > faultLimits.agentReplyQuotedMax ? `${text.slice(0, faultLimits.agentReplyQuotedMax)}…` : text;
}
