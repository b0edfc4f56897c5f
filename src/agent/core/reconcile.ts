/**
 * The agent's reconciliation, level-triggered: given the latest full assignment snapshot and
 * what runs locally, what to start, restart, stop, forget and (re-)report. Pure: the io shell
 * carries the actions out. Running it twice on the same input yields no new work once the
 * first run's actions are done, which is what makes a reconnect after a failover safe.
 *
 * Restarts are the leader's (docs/architecture.md, "Health and self-healing"). For a container wanted
 * running:
 * - recorded failed (it crashed; it keeps its place on the node): it stays down. No instance is
 *   started, not even by an agent that (re)starts and finds it so; an instance that still runs
 *   (or waits to) is halted without a report. Only the leader's restart takes it out of failed.
 * - a restart count above the local instance's generation (the leader restarted it: recorded
 *   restarting): every instance of the earlier count is dropped unreported and a fresh one is
 *   started for the new count, not before the restart's not-before time (the runtime waits,
 *   then starts it and reports starting and running as usual).
 * - nothing local at all (first placement, or the agent restarted): started the same way.
 */
import { assert } from "../../lib/assert.js";
import {
  isLocalTerminal,
  worthReporting,
  type LocalState,
  type RecordedState,
  type ReportedState,
} from "./container-lifecycle.js";

export interface AssignedContainer {
  readonly containerId: string;
  readonly deployment: string;
  readonly desired: "running" | "stopped";
  readonly recorded: RecordedState;
  readonly restartCount: number;
  /**
   * While restarting: the leader's wall-clock time (Unix ms) before which the fresh instance must
   * not start; 0 for at once (and in every other state).
   */
  readonly nextRestartAtMs: number;
  readonly healthCheckPath: string;
  /** The image of the container's version ('' from a control plane that does not send it). */
  readonly image: string;
  /** What a real runtime needs (unset from older control planes, and in tests that do not care). */
  readonly version?: number;
  readonly cpuMillicores?: number;
  readonly memoryMib?: number;
  readonly workload?: AssignedWorkload;
}

/** The deployment's workload as the agent runs it (src/fsm/workload.ts's shape, kept pure here). */
export interface AssignedWorkload {
  readonly command: string;
  readonly args: string[];
  readonly env: { readonly name: string; readonly value: string }[];
  readonly ports: { readonly name: string; readonly containerPort: number }[];
}

export interface NodeInput {
  readonly nodeId: string;
  /** False for a node killed by fault injection: nothing of it is touched or reported. */
  readonly alive: boolean;
  /** Undefined when no snapshot has been seen yet: the node's containers are left alone. */
  readonly assignments: readonly AssignedContainer[] | undefined;
}

export interface LocalInstance {
  readonly containerId: string;
  readonly nodeId: string;
  /** The restart count the instance was started for. */
  readonly generation: number;
  readonly state: LocalState;
}

/** The last report the agent made about a container. */
export interface ReportMemo {
  readonly state: ReportedState;
  readonly generation: number;
  /** The revision the leader answered with, or null while the report is queued or in flight. */
  readonly ackedRevision: number | null;
}

export interface ReconcileInput {
  /** The snapshot's revision. */
  readonly revision: number;
  readonly nodes: readonly NodeInput[];
  readonly local: readonly LocalInstance[];
  readonly lastReport: (containerId: string) => ReportMemo | undefined;
}

export type ReconcileAction =
  /**
   * Start a fresh instance (replacing any local one of that id, silently), not before
   * `notBeforeMs` (wall-clock Unix ms; 0 or past: at once).
   */
  | {
      readonly kind: "start";
      readonly nodeId: string;
      readonly assignment: AssignedContainer;
      readonly generation: number;
      readonly notBeforeMs: number;
      readonly replacing: boolean;
    }
  /** Stop a live instance and report it stopped; `forget` drops it afterwards. */
  | { readonly kind: "stop"; readonly containerId: string; readonly forget: boolean; readonly reason: string }
  /**
   * Stop an instance that runs (or waits to start) without reporting it: the cluster records the
   * container failed, which only the leader's restart may change (a stopped report is refused).
   */
  | { readonly kind: "halt"; readonly containerId: string; readonly reason: string }
  /** Drop a finished instance the cluster no longer assigns. */
  | { readonly kind: "forget"; readonly containerId: string }
  /** The cluster's record lags what the agent observed (a report was lost): say it again. */
  | {
      readonly kind: "report";
      readonly containerId: string;
      readonly nodeId: string;
      readonly state: ReportedState;
      readonly generation: number;
    };

export function reconcile(input: ReconcileInput): ReconcileAction[] {
  const actions: ReconcileAction[] = [];
  const localById = new Map(input.local.map((instance) => [instance.containerId, instance]));
  assert(localById.size === input.local.length, "local instances have distinct ids");
  const assignedIds = new Set<string>();
  const settledNodes = new Set<string>();
  for (const node of input.nodes) {
    if (!node.alive || node.assignments === undefined) continue;
    settledNodes.add(node.nodeId);
    for (const assignment of node.assignments) {
      assignedIds.add(assignment.containerId);
      reconcileAssigned(node.nodeId, assignment, localById.get(assignment.containerId), input, actions);
    }
  }
  for (const instance of input.local) {
    // Only a live node that has seen a snapshot may drop what it was not given.
    if (!settledNodes.has(instance.nodeId) || assignedIds.has(instance.containerId)) continue;
    if (isLocalTerminal(instance.state)) actions.push({ kind: "forget", containerId: instance.containerId });
    else
      actions.push({
        kind: "stop",
        containerId: instance.containerId,
        forget: true,
        reason: "no longer assigned to this node",
      });
  }
  return actions;
}

function reconcileAssigned(
  nodeId: string,
  assignment: AssignedContainer,
  local: LocalInstance | undefined,
  input: ReconcileInput,
  actions: ReconcileAction[],
): void {
  const { containerId, restartCount } = assignment;
  if (assignment.desired === "running") {
    if (assignment.recorded === "failed") {
      // Crashed, and kept in place for the leader's restart decision: down until then.
      if (local !== undefined && !isLocalTerminal(local.state)) {
        actions.push({
          kind: "halt",
          containerId,
          reason: "the cluster records it failed; it stays down until the leader restarts it",
        });
      }
      return;
    }
    const moved = local !== undefined && local.nodeId !== nodeId;
    if (local === undefined || moved || local.generation < restartCount) {
      actions.push({
        kind: "start",
        nodeId,
        assignment,
        generation: restartCount,
        notBeforeMs: assignment.nextRestartAtMs,
        replacing: local !== undefined,
      });
      return;
    }
    maybeReport(nodeId, assignment, local.state, local.generation, input, actions);
    return;
  }
  if (local !== undefined && local.nodeId === nodeId && !isLocalTerminal(local.state)) {
    actions.push({ kind: "stop", containerId, forget: false, reason: "the cluster wants it stopped" });
    return;
  }
  // Nothing runs here (the agent restarted, or it already stopped): confirm so the cluster can
  // release what the container holds.
  const generation = local?.nodeId === nodeId ? local.generation : restartCount;
  const state: ReportedState = local?.nodeId === nodeId && local.state === "failed" ? "failed" : "stopped";
  maybeReport(nodeId, assignment, state, generation, input, actions);
}

function maybeReport(
  nodeId: string,
  assignment: AssignedContainer,
  state: LocalState,
  generation: number,
  input: ReconcileInput,
  actions: ReconcileAction[],
): void {
  // An older instance's state says nothing about the one the cluster restarted.
  if (generation < assignment.restartCount) return;
  if (!worthReporting(assignment.recorded, state)) return;
  const memo = input.lastReport(assignment.containerId);
  const covered =
    memo !== undefined &&
    memo.state === state &&
    memo.generation === generation &&
    (memo.ackedRevision === null || memo.ackedRevision > input.revision);
  if (covered) return;
  actions.push({ kind: "report", containerId: assignment.containerId, nodeId, state, generation });
}
