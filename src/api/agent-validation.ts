/**
 * Checks of AgentService requests that need no cluster state. Each failure is an
 * INVALID_ARGUMENT with a message that names the field, so a misconfigured agent says why.
 */
import { ContainerHealth, type ContainerReport } from "../gen/agent/v1/agent.js";
import { HealthState } from "../gen/orchestrator/v1/fsm.js";
import { ContainerState } from "../gen/orchestrator/v1/types.js";
import { fsmLimits, validateNodeId, validateText } from "../fsm/index.js";
import { OrchestratorError } from "../lib/errors.js";
import { agentServiceLimits } from "./agent-limits.js";

function invalid(message: string): OrchestratorError {
  return new OrchestratorError("INVALID_ARGUMENT", message);
}

export function checkAgentId(agentId: string): void {
  const problem = validateText("agent id", agentId, agentServiceLimits.agentIdLengthMax);
  if (problem !== null) throw invalid(problem.message);
}

/** A non-empty list of distinct, well-formed node ids, at most nodesPerAgentMax of them. */
export function checkNodeIds(nodeIds: readonly string[], what: string): void {
  if (nodeIds.length === 0) throw invalid(`${what} names no node; an agent runs at least one`);
  if (nodeIds.length > agentServiceLimits.nodesPerAgentMax) {
    throw invalid(
      `${what} names ${nodeIds.length} nodes; one agent may run at most ${agentServiceLimits.nodesPerAgentMax} (split them across agents)`,
    );
  }
  const seen = new Set<string>();
  for (const id of nodeIds) {
    const problem = validateNodeId(id);
    if (problem !== null) throw invalid(`${what}: ${problem.message}`);
    if (seen.has(id)) throw invalid(`${what} names node ${id} twice`);
    seen.add(id);
  }
}

/** States an agent can observe; the rest are the leader's to decide. */
const reportableStates: ReadonlySet<ContainerState> = new Set([
  ContainerState.CONTAINER_STATE_UNSPECIFIED,
  ContainerState.CONTAINER_STATE_STARTING,
  ContainerState.CONTAINER_STATE_RUNNING,
  ContainerState.CONTAINER_STATE_UNHEALTHY,
  ContainerState.CONTAINER_STATE_RESTARTING,
  ContainerState.CONTAINER_STATE_STOPPED,
  ContainerState.CONTAINER_STATE_FAILED,
]);

export function checkReportCount(count: number): void {
  if (count > agentServiceLimits.reportsPerRequestMax) {
    throw invalid(`${count} reports in one call; send at most ${agentServiceLimits.reportsPerRequestMax} per call`);
  }
}

/**
 * Why one report cannot be applied, or null when it may go to the log. A bad report is refused
 * on its own: the others of its batch still apply.
 */
export function reportProblem(report: ContainerReport): string | null {
  if (report.containerId === "") return "report without a container id";
  const problem =
    validateText("container id", report.containerId, fsmLimits.containerIdLengthMax) ??
    validateNodeId(report.nodeId) ??
    validateText("status message", report.message, fsmLimits.messageLengthMax);
  if (problem !== null) return problem.message;
  if (!reportableStates.has(report.state))
    return `agents report containers as starting, running, unhealthy, restarting, stopped or failed; got state ${report.state}`;
  if (healthStateOf(report.health) === null)
    return `container health ${report.health} is not one of healthy, unhealthy, unknown`;
  if (
    report.state === ContainerState.CONTAINER_STATE_UNSPECIFIED &&
    report.health === ContainerHealth.CONTAINER_HEALTH_UNSPECIFIED
  ) {
    return "report carries neither a state nor a health";
  }
  return null;
}

/** The FSM's health enum for the agent's (null: not a known value). */
export function healthStateOf(health: ContainerHealth): HealthState | null {
  switch (health) {
    case ContainerHealth.CONTAINER_HEALTH_UNSPECIFIED:
      return HealthState.HEALTH_STATE_UNSPECIFIED;
    case ContainerHealth.CONTAINER_HEALTH_HEALTHY:
      return HealthState.HEALTH_STATE_HEALTHY;
    case ContainerHealth.CONTAINER_HEALTH_UNHEALTHY:
      return HealthState.HEALTH_STATE_UNHEALTHY;
    case ContainerHealth.CONTAINER_HEALTH_UNKNOWN:
      return HealthState.HEALTH_STATE_UNKNOWN;
    default:
      return null;
  }
}
