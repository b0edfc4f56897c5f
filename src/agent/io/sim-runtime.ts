/**
 * The simulated container runtime: each instance "starts" for the configured delay, then runs
 * until it is stopped or crashes. Instances do no work; what makes them real to the rest of the
 * system is their health endpoint (agent-http-server.ts), which answers according to the
 * instance's state and the faults injected into it.
 */
import { assert } from "../../lib/assert.js";
import { OrchestratorError } from "../../lib/errors.js";
import { isLocalTerminal, localStates, transitionLocal, type LocalState } from "../core/container-lifecycle.js";
import type { LocalInstance } from "../core/reconcile.js";
import { agentLimits } from "../limits.js";

/** How the health endpoint of a running instance misbehaves. */
export type HealthFault = "none" | "unhealthy" | "hang";

export interface InstanceSpec {
  readonly containerId: string;
  readonly nodeId: string;
  readonly deployment: string;
  readonly generation: number;
  readonly healthCheckPath: string;
}

export interface Instance extends LocalInstance {
  readonly deployment: string;
  readonly healthCheckPath: string;
  readonly fault: HealthFault;
  readonly startedAtMs: number;
  /** Unique per instance ever started by this runtime: a restart or a replacement shows as a new one. */
  readonly incarnation: number;
}

export interface InstanceChange {
  readonly containerId: string;
  readonly nodeId: string;
  readonly generation: number;
  readonly state: LocalState;
  readonly message: string;
}

interface MutableInstance {
  containerId: string;
  nodeId: string;
  deployment: string;
  generation: number;
  healthCheckPath: string;
  state: LocalState;
  fault: HealthFault;
  startedAtMs: number;
  incarnation: number;
  startTimer: NodeJS.Timeout | null;
}

export interface SimRuntimeOptions {
  readonly startDelayMs: number;
  /** Every state change of an instance, for the status reporter ("stop silently" skips it). */
  readonly onChange: (change: InstanceChange) => void;
}

export class SimRuntime {
  private readonly instances = new Map<string, MutableInstance>();
  private closed = false;
  private incarnationLast = 0;

  constructor(private readonly options: SimRuntimeOptions) {
    assert(options.startDelayMs >= 0, "start delay is not negative");
  }

  get(containerId: string): Instance | undefined {
    const instance = this.instances.get(containerId);
    return instance === undefined ? undefined : view(instance);
  }

  list(): Instance[] {
    return [...this.instances.values()].map(view);
  }

  countsByState(): Map<LocalState, number> {
    const counts = new Map<LocalState, number>(localStates.map((s) => [s, 0]));
    for (const instance of this.instances.values()) counts.set(instance.state, (counts.get(instance.state) ?? 0) + 1);
    return counts;
  }

  /** Starts a fresh instance; one with the same id is stopped silently first (a restart or a move). */
  start(spec: InstanceSpec): void {
    assert(!this.closed, "starting a container on a closed runtime");
    const previous = this.instances.get(spec.containerId);
    if (previous !== undefined) this.remove(previous);
    if (this.instances.size >= agentLimits.containersMax) {
      throw new OrchestratorError("RESOURCE_EXHAUSTED", `this agent already runs ${this.instances.size} containers, the most it tracks`);
    }
    this.incarnationLast += 1;
    const instance: MutableInstance = { ...spec, state: "starting", fault: "none", startedAtMs: Date.now(), incarnation: this.incarnationLast, startTimer: null };
    this.instances.set(spec.containerId, instance);
    this.emit(instance, "starting");
    instance.startTimer = setTimeout(() => {
      instance.startTimer = null;
      if (this.instances.get(instance.containerId) === instance && instance.state === "starting") this.move(instance, "running", "started");
    }, this.options.startDelayMs);
  }

  /** Stops a live instance and reports it stopped. False when there is none to stop. */
  stop(containerId: string, reason: string): boolean {
    const instance = this.instances.get(containerId);
    if (instance === undefined || isLocalTerminal(instance.state)) return false;
    this.clearTimer(instance);
    this.move(instance, "stopped", reason);
    return true;
  }

  /** Fault injection: the process exits on its own. False when nothing was running. */
  crash(containerId: string): boolean {
    const instance = this.instances.get(containerId);
    if (instance === undefined || isLocalTerminal(instance.state)) return false;
    this.clearTimer(instance);
    this.move(instance, "failed", "crashed (exit code 137, fault injected)");
    return true;
  }

  /** Fault injection into the health endpoint. False for an unknown container. */
  setFault(containerId: string, fault: HealthFault): boolean {
    const instance = this.instances.get(containerId);
    if (instance === undefined) return false;
    instance.fault = fault;
    return true;
  }

  /** Drops an instance without a report (it already ended, or it is being replaced). */
  forget(containerId: string): void {
    const instance = this.instances.get(containerId);
    if (instance !== undefined) this.remove(instance);
  }

  /** The agent is shutting down: the instances die with it, unreported (the leader's probes notice). */
  close(): void {
    this.closed = true;
    for (const instance of this.instances.values()) this.clearTimer(instance);
    this.instances.clear();
  }

  private remove(instance: MutableInstance): void {
    this.clearTimer(instance);
    this.instances.delete(instance.containerId);
  }

  private clearTimer(instance: MutableInstance): void {
    if (instance.startTimer === null) return;
    clearTimeout(instance.startTimer);
    instance.startTimer = null;
  }

  private move(instance: MutableInstance, to: LocalState, message: string): void {
    instance.state = transitionLocal(instance.state, to, instance.containerId);
    this.emit(instance, message);
  }

  private emit(instance: MutableInstance, message: string): void {
    const { containerId, nodeId, generation, state } = instance;
    this.options.onChange({ containerId, nodeId, generation, state, message });
  }
}

/** A copy without the timer: callers may keep it, serialise it, and never change the instance. */
function view(instance: MutableInstance): Instance {
  const { startTimer: _timer, ...fields } = instance;
  return fields;
}
