import { assert } from "../../lib/assert.js";

/**
 * A simulated container instance's own lifecycle on its node: waiting (a restart's back-off:
 * not before the cluster's not-before time) -> starting (the start delay) -> running -> stopped
 * (asked to) | failed (it crashed). The cluster's lifecycle is richer (scheduled, unhealthy,
 * restarting, lost are the leader's verdicts); the agent only reports starting, running,
 * stopped and failed. waiting is never reported: the cluster already records the container
 * restarting, and the instance's first report is starting.
 */
export type LocalState = "waiting" | "starting" | "running" | "stopped" | "failed";

/** The local states the agent reports to the cluster. */
export type ReportedState = Exclude<LocalState, "waiting">;

export const localStates: readonly LocalState[] = ["waiting", "starting", "running", "stopped", "failed"];

const nextLocalStates: Readonly<Record<LocalState, readonly LocalState[]>> = {
  waiting: ["starting", "stopped"],
  starting: ["running", "stopped", "failed"],
  running: ["stopped", "failed"],
  stopped: [],
  failed: [],
};

export function isLocalTerminal(state: LocalState): boolean {
  return state === "stopped" || state === "failed";
}

/** A process of the instance exists (it can crash, its endpoint can answer): starting or running. */
export function isLocalLive(state: LocalState): boolean {
  return state === "starting" || state === "running";
}

export function localTransitionAllowed(from: LocalState, to: LocalState): boolean {
  return nextLocalStates[from].includes(to);
}

/** Asserts the move is legal and returns the new state (a helper for the one place that moves it). */
export function transitionLocal(from: LocalState, to: LocalState, containerId: string): LocalState {
  assert(localTransitionAllowed(from, to), `container ${containerId} cannot go from ${from} to ${to} locally`);
  return to;
}

/**
 * The state the cluster recorded for a container, as its assignment carries it ("unknown"
 * stands for a value this agent does not know, from a newer control plane).
 */
export type RecordedState =
  | "pending"
  | "scheduled"
  | "starting"
  | "running"
  | "unhealthy"
  | "restarting"
  | "stopped"
  | "failed"
  | "lost"
  | "unknown";

/**
 * Which local states the agent reports over a recorded one: only moves forward in the cluster's
 * lifecycle that are the agent's to observe. Running over unhealthy, say, is the health
 * controller's call, not the agent's, so it is never reported; nothing is reported over failed
 * (only the leader takes a container out of failed, by restarting it).
 */
const reportableOver: Readonly<Record<RecordedState, readonly ReportedState[]>> = {
  pending: [],
  scheduled: ["starting", "running", "stopped", "failed"],
  starting: ["running", "stopped", "failed"],
  running: ["stopped", "failed"],
  unhealthy: ["stopped", "failed"],
  restarting: ["starting", "running", "stopped", "failed"],
  stopped: [],
  failed: [],
  lost: [],
  unknown: [],
};

export function isReportedState(state: LocalState): state is ReportedState {
  return state !== "waiting";
}

export function worthReporting(recorded: RecordedState, local: LocalState): local is ReportedState {
  return isReportedState(local) && reportableOver[recorded].includes(local);
}
