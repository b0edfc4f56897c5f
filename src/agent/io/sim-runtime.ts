/**
 * The simulated container runtime: each instance "starts" for the configured delay, then runs
 * until it is stopped or crashes. An instance started for a restart with a not-before time in
 * the future first waits (state waiting, unreported) until that time by this machine's clock.
 * Instances do no work; what makes them real to the rest of the system is their health endpoint
 * (agent-http-server.ts), which answers according to the instance's state and the faults
 * injected into it. A crashed (failed) instance stays listed, down, until it is replaced or
 * forgotten: the agent never restarts it on its own (reconcile.ts).
 */
import { assert } from "../../lib/assert.js";
import { OrchestratorError } from "../../lib/errors.js";
import {
  isLocalLive,
  isLocalTerminal,
  localStates,
  transitionLocal,
  type LocalState,
} from "../core/container-lifecycle.js";
import { agentLimits } from "../limits.js";
import type {
  ContainerRuntime,
  HealthFault,
  ImageFault,
  Instance,
  InstanceChange,
  InstanceSpec,
  LogRequest,
  LogSink,
} from "./container-runtime.js";

export type { HealthFault, ImageFault, Instance, InstanceChange, InstanceSpec } from "./container-runtime.js";

/** Log lines kept per simulated instance: it writes a few of its own so `orchctl logs` works in the demo. */
const simLogLinesMax = 100;

interface MutableInstance extends InstanceSpec {
  state: LocalState;
  fault: HealthFault;
  startedAtMs: number;
  notBeforeMs: number;
  incarnation: number;
  /** The pending step: the end of the wait (waiting) or of the start delay (starting). */
  startTimer: NodeJS.Timeout | null;
  /** What it "printed", newest last; `follow` readers hear each new line. */
  logLines: string[];
  followers: Set<(line: string) => void>;
}

export interface SimRuntimeOptions {
  readonly startDelayMs: number;
  /** Every reported state change of an instance, for the status reporter (halt and replacements skip it). */
  readonly onChange: (change: InstanceChange) => void;
  /** Wall-clock Unix ms (tests may inject a clock). */
  readonly nowMs?: () => number;
}

export class SimRuntime implements ContainerRuntime {
  readonly driver = "sim";
  private readonly instances = new Map<string, MutableInstance>();
  private readonly imageFaults = new Map<string, ImageFault>();
  private closed = false;
  private incarnationLast = 0;
  private readonly nowMs: () => number;

  constructor(private readonly options: SimRuntimeOptions) {
    assert(options.startDelayMs >= 0, "start delay is not negative");
    this.nowMs = options.nowMs ?? Date.now;
  }

  ready(): boolean {
    return true;
  }

  unavailableReason(): string | null {
    return null;
  }

  get(containerId: string): Instance | undefined {
    const instance = this.instances.get(containerId);
    return instance === undefined ? undefined : this.view(instance);
  }

  list(): Instance[] {
    return [...this.instances.values()].map((instance) => this.view(instance));
  }

  countsByState(): Map<LocalState, number> {
    const counts = new Map<LocalState, number>(localStates.map((s) => [s, 0]));
    for (const instance of this.instances.values()) counts.set(instance.state, (counts.get(instance.state) ?? 0) + 1);
    return counts;
  }

  /**
   * Starts a fresh instance; one with the same id is dropped silently first (a restart or a
   * move). With `notBeforeMs` in the future (a restart's back-off) the instance waits until then,
   * unreported, and only then starts: reported starting, then running after the start delay.
   * The wait is capped at agentLimits.restartWaitMsMax (clocks that disagree wildly).
   */
  start(spec: InstanceSpec, notBeforeMs = 0): void {
    assert(!this.closed, "starting a container on a closed runtime");
    assert(Number.isFinite(notBeforeMs), "a not-before time is a number");
    const previous = this.instances.get(spec.containerId);
    if (previous !== undefined) this.remove(previous);
    if (this.instances.size >= agentLimits.containersMax) {
      throw new OrchestratorError(
        "RESOURCE_EXHAUSTED",
        `this agent already runs ${this.instances.size} containers, the most it tracks`,
      );
    }
    this.incarnationLast += 1;
    const nowMs = this.nowMs();
    const waitUntilMs = Math.min(notBeforeMs, nowMs + agentLimits.restartWaitMsMax);
    const waits = waitUntilMs > nowMs;
    const instance: MutableInstance = {
      ...spec,
      state: waits ? "waiting" : "starting",
      fault: "none",
      startedAtMs: nowMs,
      notBeforeMs: waitUntilMs,
      incarnation: this.incarnationLast,
      startTimer: null,
      logLines: [],
      followers: new Set(),
    };
    this.instances.set(spec.containerId, instance);
    if (waits) this.waitUntil(instance, waitUntilMs);
    else this.begin(instance);
  }

  /** Stops a live or waiting instance and reports it stopped. False when there is none to stop. */
  stop(containerId: string, reason: string): boolean {
    const instance = this.instances.get(containerId);
    if (instance === undefined || isLocalTerminal(instance.state)) return false;
    this.clearTimer(instance);
    this.move(instance, "stopped", reason);
    return true;
  }

  /**
   * Stops a live or waiting instance without reporting it (the cluster already records the
   * container ended). It stays listed as stopped. False when there is none to stop.
   */
  halt(containerId: string): boolean {
    const instance = this.instances.get(containerId);
    if (instance === undefined || isLocalTerminal(instance.state)) return false;
    this.clearTimer(instance);
    instance.state = transitionLocal(instance.state, "stopped", instance.containerId);
    return true;
  }

  /** Fault injection: the process exits on its own. False when no process runs (waiting or ended). */
  crash(containerId: string, reason = "crashed (exit code 137, fault injected)"): boolean {
    const instance = this.instances.get(containerId);
    if (instance === undefined || !isLocalLive(instance.state)) return false;
    this.clearTimer(instance);
    this.move(instance, "failed", reason);
    return true;
  }

  /** Fault injection into the health endpoint. False for an unknown container. */
  setFault(containerId: string, fault: HealthFault): boolean {
    const instance = this.instances.get(containerId);
    if (instance === undefined) return false;
    instance.fault = fault;
    return true;
  }

  /**
   * Sets (or with null clears) the fault of every instance of `image`, now and later. Returns how
   * many current instances it touched: crashed for `crash`, all of the image's otherwise.
   */
  setImageFault(image: string, fault: ImageFault | null): number {
    assert(image !== "", "an image fault names an image");
    if (fault === null) this.imageFaults.delete(image);
    else {
      if (!this.imageFaults.has(image) && this.imageFaults.size >= agentLimits.imageFaultsMax) {
        const oldest = this.imageFaults.keys().next().value;
        if (oldest !== undefined) this.imageFaults.delete(oldest);
      }
      this.imageFaults.set(image, fault);
    }
    let touched = 0;
    for (const instance of this.instances.values()) {
      if (instance.image !== image) continue;
      if (fault?.kind === "crash") {
        if (this.crash(instance.containerId, "crashed (exit code 1, image fault injected)")) touched++;
      } else touched++;
    }
    return touched;
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

  /** Waits, unreported, until `atMs` by this machine's clock, then begins starting. */
  private waitUntil(instance: MutableInstance, atMs: number): void {
    // Timers may fire a little early by the wall clock: check, and wait out the rest.
    instance.startTimer = setTimeout(
      () => {
        instance.startTimer = null;
        if (this.instances.get(instance.containerId) !== instance || instance.state !== "waiting") return;
        if (this.nowMs() < atMs) this.waitUntil(instance, atMs);
        else this.begin(instance);
      },
      Math.max(1, atMs - this.nowMs()),
    );
  }

  /** The process starts: reported starting now, running after the start delay. */
  private begin(instance: MutableInstance): void {
    if (instance.state === "waiting") this.move(instance, "starting", "restarting after its back-off");
    else this.emit(instance, "starting");
    const imageFault = this.imageFaults.get(instance.image);
    const startDelayMs = imageFault?.kind === "slow-start" ? imageFault.startDelayMs : this.options.startDelayMs;
    instance.startTimer = setTimeout(() => {
      instance.startTimer = null;
      if (this.instances.get(instance.containerId) !== instance || instance.state !== "starting") return;
      // A crashing image gets as far as its first instruction, then exits.
      if (this.imageFaults.get(instance.image)?.kind === "crash")
        this.move(instance, "failed", "crashed on start (exit code 1, image fault injected)");
      else this.move(instance, "running", "started");
    }, startDelayMs);
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
    assert(state !== "waiting", "a waiting instance is not reported");
    this.log(
      instance,
      message === "" || message === state ? `${state} (image ${instance.image})` : `${state}: ${message}`,
    );
    this.options.onChange({ containerId, nodeId, generation, state, message, addresses: [] });
  }

  private log(instance: MutableInstance, text: string): void {
    const line = `${new Date(this.nowMs()).toISOString()} [sim ${instance.containerId} restart ${instance.generation}] ${text}\n`;
    instance.logLines.push(line);
    if (instance.logLines.length > simLogLinesMax) instance.logLines.shift();
    for (const follower of instance.followers) follower(line);
  }

  /** The simulated instance's own lines; with `follow`, new ones until the instance goes or the reader leaves. */
  async logs(containerId: string, request: LogRequest, sink: LogSink, signal: AbortSignal): Promise<true | string> {
    const instance = this.instances.get(containerId);
    if (instance === undefined) return `no container ${containerId} on this agent`;
    const lines = request.tailLines > 0 ? instance.logLines.slice(-request.tailLines) : instance.logLines;
    for (const line of lines) sink.write(line);
    if (!request.follow) return true;
    await new Promise<void>((resolve) => {
      const follower = (line: string): void => sink.write(line);
      instance.followers.add(follower);
      const done = (): void => {
        instance.followers.delete(follower);
        clearInterval(gone);
        resolve();
      };
      // The instance may be replaced or forgotten: a follower of a dropped instance ends.
      const gone = setInterval(() => {
        if (this.instances.get(containerId) !== instance) done();
      }, 500);
      signal.addEventListener("abort", done, { once: true });
    });
    return true;
  }

  /** A copy without the timer: callers may keep it, serialise it, and never change the instance. */
  private view(instance: MutableInstance): Instance {
    const { startTimer: _timer, logLines: _lines, followers: _followers, ...fields } = instance;
    const imageUnhealthy = this.imageFaults.get(instance.image)?.kind === "unhealthy";
    return {
      ...fields,
      fault: fields.fault === "none" && imageUnhealthy ? "unhealthy" : fields.fault,
      addresses: [],
    };
  }
}
