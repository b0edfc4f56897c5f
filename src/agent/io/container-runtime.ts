/**
 * What the agent asks of a container runtime: the simulated one (sim-runtime.ts, no work, a real
 * health endpoint on the agent) or the Docker driver (docker-runtime.ts, real containers). Both
 * keep the same local lifecycle (core/container-lifecycle.ts) and report the same changes, so
 * reconciliation, reporting and the leader's restarts do not know which one runs.
 */
import type { ContainerAddress, Workload } from "../../fsm/index.js";
import type { LocalState, ReportedState } from "../core/container-lifecycle.js";
import type { LocalInstance } from "../core/reconcile.js";

export type RuntimeDriver = "sim" | "docker";

/** How the health endpoint of a running simulated instance misbehaves. */
export type HealthFault = "none" | "unhealthy" | "hang";

/**
 * A fault set for an image rather than one instance (simulator only): it holds for every
 * instance of the image, those running now and those started later, until cleared.
 *   crash        running instances exit now; new ones exit as soon as they would run
 *   unhealthy    the health endpoint answers 500
 *   slow-start   new instances take `startDelayMs` to start instead of the runtime's delay
 */
export type ImageFault =
  | { readonly kind: "crash" }
  | { readonly kind: "unhealthy" }
  | { readonly kind: "slow-start"; readonly startDelayMs: number };

export interface InstanceSpec {
  readonly containerId: string;
  readonly nodeId: string;
  readonly deployment: string;
  /** The deployment version the container was created from (0 when the control plane did not say). */
  readonly version?: number;
  readonly generation: number;
  readonly healthCheckPath: string;
  /** The image it runs ('' when the control plane did not say): image faults match on it. */
  readonly image: string;
  /** Its request, a real runtime's limits (unset: no limit). */
  readonly cpuMillicores?: number;
  readonly memoryMib?: number;
  /** What a real runtime runs; unset: the image's defaults and no ports. */
  readonly workload?: Workload;
}

export interface Instance extends LocalInstance {
  readonly deployment: string;
  readonly healthCheckPath: string;
  readonly image: string;
  /** Its own fault, or its image's `unhealthy` when it has none of its own (always none with Docker). */
  readonly fault: HealthFault;
  /** When start() was called (wall-clock Unix ms). */
  readonly startedAtMs: number;
  /** The not-before time it was started for (0: none); it waited, unreported, if that was still ahead. */
  readonly notBeforeMs: number;
  /** Unique per instance ever started by this runtime: a restart or a replacement shows as a new one. */
  readonly incarnation: number;
  /** Where its named ports are reached (host:port); empty in the simulator. */
  readonly addresses: readonly ContainerAddress[];
}

export interface InstanceChange {
  readonly containerId: string;
  readonly nodeId: string;
  readonly generation: number;
  readonly state: ReportedState;
  readonly message: string;
  readonly addresses: readonly ContainerAddress[];
}

export interface LogRequest {
  readonly follow: boolean;
  /** Lines from the end to start with (0: all that is kept). */
  readonly tailLines: number;
}

/** Where a log request writes: lines of text, then end (or the request's signal aborts). */
export interface LogSink {
  write(chunk: string | Uint8Array): void;
}

export interface ContainerRuntime {
  readonly driver: RuntimeDriver;
  /**
   * False until the runtime knows what already runs (the Docker driver adopts containers left by
   * an earlier agent): reconciling before that would start duplicates.
   */
  ready(): boolean;
  /** Why containers cannot be run now (the engine is down or slow), or null. */
  unavailableReason(): string | null;
  get(containerId: string): Instance | undefined;
  list(): Instance[];
  countsByState(): Map<LocalState, number>;
  /** Starts a fresh instance (replacing one of that id, unreported), not before `notBeforeMs`. */
  start(spec: InstanceSpec, notBeforeMs?: number): void;
  /** Stops a live or waiting instance and reports it stopped. False when there is none to stop. */
  stop(containerId: string, reason: string): boolean;
  /** Stops a live or waiting instance without reporting it. */
  halt(containerId: string): boolean;
  /** Fault injection: the process exits. False when no process runs. */
  crash(containerId: string, reason?: string): boolean;
  setFault(containerId: string, fault: HealthFault): boolean;
  setImageFault(image: string, fault: ImageFault | null): number;
  /** Drops an instance without a report. */
  forget(containerId: string): void;
  /** Writes the container's output to `sink`; a string says why there is none. */
  logs(containerId: string, request: LogRequest, sink: LogSink, signal: AbortSignal): Promise<true | string>;
  /** The agent is shutting down. */
  close(): void;
}
