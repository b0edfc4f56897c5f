/**
 * The Docker driver: each instance is a real container of the engine at --docker-host, created
 * with host networking, the deployment's memory and CPU as limits, no restart policy (the
 * control plane decides restarts, with its backoff) and labels that tie it to its container id,
 * deployment, version, node and restart count. Docker's events report a container that dies or
 * is OOM-killed at once, with its exit code. An image that is not present is pulled (progress in
 * the log); one that cannot be had fails the instance with "image not found", and the leader's
 * backoff decides when to try again. The agent's restart adopts running containers by their
 * labels (and removes duplicates); reconciliation then removes what is no longer assigned.
 *
 * Engine calls are asynchronous; the agent's calls are not. Each container id has one chain of
 * engine work, so a replacement never races the removal of what it replaces, and every step
 * checks that its instance is still the current one before it acts on the result.
 */
import { PassThrough } from "node:stream";
import Docker from "dockerode";
import { portEnvName, type ContainerAddress } from "../../fsm/index.js";
import { assert } from "../../lib/assert.js";
import type { Logger } from "../../lib/logger.js";
import {
  isLocalLive,
  isLocalTerminal,
  localStates,
  transitionLocal,
  type LocalState,
} from "../core/container-lifecycle.js";
import { agentLimits, dockerLimits } from "../limits.js";
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
import { HostPorts } from "./host-ports.js";

export const dockerLabels = {
  managed: "io.micro-orchestrator.managed",
  containerId: "io.micro-orchestrator.container-id",
  deployment: "io.micro-orchestrator.deployment",
  version: "io.micro-orchestrator.version",
  node: "io.micro-orchestrator.node",
  generation: "io.micro-orchestrator.restart-count",
  healthPath: "io.micro-orchestrator.health-path",
  /** JSON [[name, hostPort], ...]: what the agent passed, so an adopted container keeps its addresses. */
  ports: "io.micro-orchestrator.ports",
} as const;

export interface DockerRuntimeOptions {
  /** unix:///path/docker.sock or tcp://host:port */
  readonly dockerHost: string;
  readonly nodeIds: readonly string[];
  /** The host containers' ports are reached at (the agent's advertised host). */
  readonly advertiseHost: string;
  readonly hostPortFirst?: number;
  readonly hostPortLast?: number;
  readonly logger: Logger;
  readonly onChange: (change: InstanceChange) => void;
  /** The engine went down or came back: the agent reports its nodes accordingly. */
  readonly onAvailability: (reason: string | null) => void;
}

interface DockerInstance extends InstanceSpec {
  state: LocalState;
  startedAtMs: number;
  notBeforeMs: number;
  incarnation: number;
  dockerId: string | null;
  hostPorts: [string, number][];
  timer: NodeJS.Timeout | null;
}

export function dockerClient(host: string, timeoutMs?: number): Docker {
  const timeout = timeoutMs === undefined ? {} : { timeout: timeoutMs };
  if (host.startsWith("unix://")) return new Docker({ socketPath: host.slice("unix://".length), ...timeout });
  const url = new URL(host.replace(/^tcp:/, "http:"));
  return new Docker({ host: url.hostname, port: Number(url.port || 2375), protocol: "http", ...timeout });
}

/** An error that says the engine is unreachable or slow, not that the request was wrong. */
function engineUnreachable(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  return (
    ["ECONNREFUSED", "ENOENT", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EAI_AGAIN"].includes(String(code)) ||
    /timeout|socket hang up/i.test(message)
  );
}

function statusCode(error: unknown): number | undefined {
  const code = (error as { statusCode?: unknown }).statusCode;
  return typeof code === "number" ? code : undefined;
}

function errorText(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.replace(/^\(HTTP code \d+\) [a-z ]+ - /, "").trim();
}

export class DockerRuntime implements ContainerRuntime {
  readonly driver = "docker";
  private readonly docker: Docker;
  /** No timeout: event and log streams and pulls are long. */
  private readonly streams: Docker;
  private readonly instances = new Map<string, DockerInstance>();
  private readonly chains = new Map<string, Promise<void>>();
  private readonly ports: HostPorts;
  private readonly nodeIds: ReadonlySet<string>;
  private incarnationLast = 0;
  private adopted = false;
  private unavailable: string | null = "the Docker engine has not answered yet";
  private closed = false;
  private pinger: NodeJS.Timeout | null = null;
  private events: NodeJS.ReadableStream | null = null;
  private readonly pulls = new Map<string, Promise<true | string>>();

  constructor(private readonly options: DockerRuntimeOptions) {
    this.docker = dockerClient(options.dockerHost, dockerLimits.callTimeoutMs);
    this.streams = dockerClient(options.dockerHost);
    this.ports = new HostPorts(
      options.hostPortFirst ?? dockerLimits.hostPortFirst,
      options.hostPortLast ?? dockerLimits.hostPortLast,
    );
    this.nodeIds = new Set(options.nodeIds);
    this.advertiseHost = options.advertiseHost;
  }

  private advertiseHost: string;

  /** Where containers' ports are reached: the agent's advertised host, known once its server listens. */
  setAdvertiseHost(host: string): void {
    this.advertiseHost = host;
  }

  /** Starts watching the engine; adoption happens as soon as it answers. */
  open(): void {
    void this.checkEngine();
    this.pinger = setInterval(() => void this.checkEngine(), dockerLimits.pingIntervalMs);
  }

  ready(): boolean {
    return this.adopted;
  }

  unavailableReason(): string | null {
    return this.unavailable;
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

  start(spec: InstanceSpec, notBeforeMs = 0): void {
    assert(!this.closed, "starting a container on a closed runtime");
    const previous = this.instances.get(spec.containerId);
    if (previous !== undefined) this.drop(previous);
    assert(this.instances.size < agentLimits.containersMax, "containers within the agent's bound");
    this.incarnationLast += 1;
    const nowMs = Date.now();
    const waitUntilMs = Math.min(notBeforeMs, nowMs + agentLimits.restartWaitMsMax);
    const waits = waitUntilMs > nowMs;
    const instance: DockerInstance = {
      ...spec,
      state: waits ? "waiting" : "starting",
      startedAtMs: nowMs,
      notBeforeMs: waitUntilMs,
      incarnation: this.incarnationLast,
      dockerId: null,
      hostPorts: [],
      timer: null,
    };
    this.instances.set(spec.containerId, instance);
    if (waits) {
      instance.timer = setTimeout(
        () => {
          instance.timer = null;
          if (this.current(instance) && instance.state === "waiting") this.begin(instance);
        },
        Math.max(1, waitUntilMs - nowMs),
      );
    } else this.begin(instance);
  }

  stop(containerId: string, reason: string): boolean {
    const instance = this.instances.get(containerId);
    if (instance === undefined || isLocalTerminal(instance.state)) return false;
    this.clearTimer(instance);
    this.move(instance, "stopped", reason);
    this.enqueue(containerId, () => this.stopContainer(instance));
    return true;
  }

  halt(containerId: string): boolean {
    const instance = this.instances.get(containerId);
    if (instance === undefined || isLocalTerminal(instance.state)) return false;
    this.clearTimer(instance);
    instance.state = transitionLocal(instance.state, "stopped", containerId);
    this.enqueue(containerId, () => this.stopContainer(instance));
    return true;
  }

  /** Fault injection: the engine kills the container; its death arrives as an event like any other. */
  crash(containerId: string): boolean {
    const instance = this.instances.get(containerId);
    if (instance === undefined || !isLocalLive(instance.state) || instance.dockerId === null) return false;
    const dockerId = instance.dockerId;
    this.enqueue(containerId, async () => {
      await this.docker
        .getContainer(dockerId)
        .kill()
        .catch(() => {});
    });
    return true;
  }

  /** Health faults are the simulator's; a real container's health is its own. */
  setFault(_containerId: string, _fault: HealthFault): boolean {
    return false;
  }

  setImageFault(_image: string, _fault: ImageFault | null): number {
    return 0;
  }

  forget(containerId: string): void {
    const instance = this.instances.get(containerId);
    if (instance !== undefined) this.drop(instance);
  }

  /** The agent stops; its containers keep running, to be adopted by the next agent. */
  close(): void {
    this.closed = true;
    if (this.pinger !== null) clearInterval(this.pinger);
    for (const instance of this.instances.values()) this.clearTimer(instance);
    this.events?.removeAllListeners();
    (this.events as { destroy?: () => void } | null)?.destroy?.();
  }

  async logs(containerId: string, request: LogRequest, sink: LogSink, signal: AbortSignal): Promise<true | string> {
    const dockerId = this.instances.get(containerId)?.dockerId ?? (await this.findDockerId(containerId));
    if (dockerId === null) return `no Docker container for ${containerId} on this agent`;
    const container = this.streams.getContainer(dockerId);
    // Docker's "all" is the default: a tail is only sent when one was asked for.
    const tail = request.tailLines > 0 ? { tail: request.tailLines } : {};
    try {
      if (!request.follow) {
        const buffer = await container.logs({ stdout: true, stderr: true, follow: false, ...tail });
        sink.write(demux(buffer));
        return true;
      }
      const stream = await container.logs({ stdout: true, stderr: true, follow: true, ...tail });
      const out = new PassThrough();
      out.on("data", (chunk: Buffer) => sink.write(chunk));
      this.streams.modem.demuxStream(stream, out, out);
      await new Promise<void>((resolve) => {
        const done = (): void => {
          (stream as { destroy?: () => void }).destroy?.();
          resolve();
        };
        stream.once("end", done);
        stream.once("error", done);
        signal.addEventListener("abort", done, { once: true });
      });
      return true;
    } catch (error) {
      return `logs of ${containerId}: ${errorText(error)}`;
    }
  }

  // ---- the engine ----

  private async checkEngine(): Promise<void> {
    if (this.closed) return;
    let reason: string | null = null;
    try {
      await withTimeout(this.docker.ping(), dockerLimits.pingTimeoutMs, "the Docker engine did not answer a ping");
    } catch (error) {
      reason = `Docker engine at ${this.options.dockerHost} unavailable: ${errorText(error)}`;
    }
    if (this.closed) return;
    const was = this.unavailable;
    this.unavailable = reason;
    if (reason !== null) {
      if (was !== reason) this.options.logger.warn({ reason }, "the Docker engine is unavailable");
      if (was === null) this.options.onAvailability(reason);
      return;
    }
    if (was === null) return;
    this.options.logger.info({ docker: this.options.dockerHost }, "the Docker engine answers");
    this.watchEvents();
    // What died while the engine (or the agent) was away: adopt on first contact, resync after.
    if (!this.adopted) await this.adopt();
    else {
      await this.resync();
      await this.sweep();
    }
    this.options.onAvailability(null);
  }

  private watchEvents(): void {
    if (this.events !== null) return;
    const filters = {
      type: ["container" as const],
      event: ["die", "oom"],
      label: [`${dockerLabels.managed}=true`],
    };
    this.streams.getEvents({ filters }).then(
      (stream) => {
        if (this.closed) return;
        this.events = stream;
        let buffered = "";
        stream.on("data", (chunk: Buffer) => {
          buffered += chunk.toString();
          let newline = buffered.indexOf("\n");
          while (newline >= 0) {
            const line = buffered.slice(0, newline);
            buffered = buffered.slice(newline + 1);
            if (line.trim() !== "") this.onEvent(line);
            newline = buffered.indexOf("\n");
          }
        });
        const lost = (): void => {
          if (this.events !== stream) return;
          this.events = null;
          if (this.closed) return;
          this.options.logger.warn({}, "the Docker event stream ended; watching again once the engine answers");
          this.unavailable = "the Docker event stream ended";
          this.options.onAvailability(this.unavailable);
        };
        stream.once("end", lost);
        stream.once("error", lost);
      },
      (error: unknown) => this.options.logger.warn({ err: errorText(error) }, "cannot watch Docker events"),
    );
  }

  private onEvent(line: string): void {
    let event: { status?: string; Action?: string; id?: string; Actor?: { Attributes?: Record<string, string> } };
    try {
      event = JSON.parse(line) as typeof event;
    } catch {
      return;
    }
    const action = event.Action ?? event.status;
    const attributes = event.Actor?.Attributes ?? {};
    const instance = this.instances.get(attributes[dockerLabels.containerId] ?? "");
    if (instance === undefined || instance.dockerId !== event.id) return;
    if (action === "oom") {
      this.options.logger.warn({ container: instance.containerId }, "container ran out of memory (OOM-killed)");
      return;
    }
    if (action !== "die" || !isLocalLive(instance.state)) return;
    const exitCode = attributes["exitCode"] ?? "?";
    const dockerId = instance.dockerId;
    // The die event does not say whether the kernel's OOM killer did it; inspect does.
    void this.docker
      .getContainer(dockerId)
      .inspect()
      .then(
        (info) => info.State.OOMKilled,
        () => false,
      )
      .then((oom) => {
        if (!this.current(instance) || !isLocalLive(instance.state) || instance.dockerId !== dockerId) return;
        this.move(instance, "failed", `exited with code ${exitCode}${oom ? " (OOM-killed)" : ""}`);
      });
  }

  /**
   * The agent (re)started: containers of its nodes left by an earlier agent are taken over, one
   * per container id (the newest restart count wins, a running one over an exited one); the
   * rest are removed. Reconciliation runs only after this, so nothing is started twice.
   */
  private async adopt(): Promise<void> {
    let found: Docker.ContainerInfo[];
    try {
      found = await this.docker.listContainers({
        all: true,
        filters: { label: [`${dockerLabels.managed}=true`] },
      });
    } catch (error) {
      this.options.logger.warn({ err: errorText(error) }, "cannot list containers to adopt; trying again");
      this.unavailable = `cannot list Docker containers: ${errorText(error)}`;
      return;
    }
    const byId = new Map<string, Docker.ContainerInfo[]>();
    for (const info of found) {
      const node = info.Labels[dockerLabels.node] ?? "";
      const id = info.Labels[dockerLabels.containerId] ?? "";
      if (!this.nodeIds.has(node) || id === "") continue;
      byId.set(id, [...(byId.get(id) ?? []), info]);
    }
    for (const [containerId, infos] of byId) {
      infos.sort((a, b) => rank(b) - rank(a));
      const [keep, ...extra] = infos;
      for (const info of extra) await this.remove(info.Id);
      if (this.instances.has(containerId)) {
        await this.remove(keep.Id);
        continue;
      }
      this.adoptOne(containerId, keep);
    }
    this.adopted = true;
    this.options.logger.info({ adopted: this.instances.size }, "Docker containers adopted");
  }

  private adoptOne(containerId: string, info: Docker.ContainerInfo): void {
    const labels = info.Labels;
    const hostPorts = parsePorts(labels[dockerLabels.ports]);
    this.ports.hold(hostPorts.map(([, port]) => port));
    this.incarnationLast += 1;
    const running = info.State === "running";
    const instance: DockerInstance = {
      containerId,
      nodeId: labels[dockerLabels.node],
      deployment: labels[dockerLabels.deployment] ?? "",
      version: Number(labels[dockerLabels.version] ?? 0),
      generation: Number(labels[dockerLabels.generation] ?? 0),
      healthCheckPath: labels[dockerLabels.healthPath] ?? "",
      image: info.Image,
      state: running ? "running" : "failed",
      startedAtMs: info.Created * 1000,
      notBeforeMs: 0,
      incarnation: this.incarnationLast,
      dockerId: info.Id,
      hostPorts,
      timer: null,
    };
    this.instances.set(containerId, instance);
    this.options.logger.info(
      { container: containerId, docker: info.Id.slice(0, 12), state: info.State, node: instance.nodeId },
      "adopted a Docker container",
    );
  }

  /** After the engine was away: live instances whose container is gone or exited have failed. */
  private async resync(): Promise<void> {
    for (const instance of [...this.instances.values()]) {
      if (instance.state !== "running" || instance.dockerId === null) continue;
      const info = await this.docker
        .getContainer(instance.dockerId)
        .inspect()
        .catch(() => null);
      if (!this.current(instance) || instance.state !== "running") continue;
      if (info === null) this.move(instance, "failed", "its Docker container is gone");
      else if (!info.State.Running)
        this.move(
          instance,
          "failed",
          `exited with code ${info.State.ExitCode}${info.State.OOMKilled ? " (OOM-killed)" : ""}`,
        );
    }
  }

  /**
   * Removes containers of this agent's nodes that no instance owns: ones whose removal failed
   * while the engine was away, or that an earlier instance left behind. Containers with engine
   * work in flight are left to that work.
   */
  private async sweep(): Promise<void> {
    const found = await this.docker
      .listContainers({ all: true, filters: { label: [`${dockerLabels.managed}=true`] } })
      .catch(() => null);
    if (found === null) return;
    const owned = new Set([...this.instances.values()].map((i) => i.dockerId));
    for (const info of found) {
      const containerId = info.Labels[dockerLabels.containerId] ?? "";
      if (!this.nodeIds.has(info.Labels[dockerLabels.node] ?? "") || owned.has(info.Id)) continue;
      if (this.chains.has(containerId)) continue;
      this.options.logger.info(
        { container: containerId, docker: info.Id.slice(0, 12) },
        "removing a leftover container",
      );
      await this.remove(info.Id);
    }
  }

  // ---- one instance ----

  private begin(instance: DockerInstance): void {
    if (instance.state === "waiting") this.move(instance, "starting", "restarting after its back-off");
    else this.emit(instance, "starting");
    this.enqueue(instance.containerId, () => this.run(instance));
  }

  /** Pull if needed, take host ports, create, start: reported running with its addresses, or failed. */
  private async run(instance: DockerInstance): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      if (!this.current(instance) || instance.state !== "starting") return;
      try {
        // A create that timed out may still have happened: its container would hold the name.
        if (attempt > 0) await this.remove(containerName(instance));
        await this.runOnce(instance);
        return;
      } catch (error) {
        if (!this.current(instance) || instance.state !== "starting") return;
        if (!engineUnreachable(error)) {
          this.move(instance, "failed", `cannot start: ${errorText(error)}`);
          return;
        }
        // The engine is away: the container is not at fault. Try again once it answers.
        this.options.logger.warn(
          { container: instance.containerId, err: errorText(error) },
          "the Docker engine is unavailable; starting the container once it answers",
        );
        await this.engineBack();
      }
    }
  }

  private async runOnce(instance: DockerInstance): Promise<void> {
    const pulled = await this.ensureImage(instance.image);
    if (!this.current(instance) || instance.state !== "starting") return;
    if (pulled !== true) {
      this.move(instance, "failed", pulled);
      return;
    }
    if (instance.hostPorts.length === 0 && (instance.workload?.ports.length ?? 0) > 0) {
      const names = instance.workload?.ports.map((p) => p.name) ?? [];
      const taken = await this.ports.take(names.length);
      if (taken === null) {
        this.move(instance, "failed", "no free host port left in the agent's range");
        return;
      }
      instance.hostPorts = names.map((name, i) => [name, taken[i]]);
    }
    const created = await this.docker.createContainer(this.createOptions(instance));
    instance.dockerId = created.id;
    if (!this.current(instance) || instance.state !== "starting") {
      await this.remove(created.id);
      return;
    }
    await created.start();
    if (!this.current(instance) || instance.state !== "starting") return;
    this.move(instance, "running", `started Docker container ${created.id.slice(0, 12)}`);
  }

  private createOptions(instance: DockerInstance): Docker.ContainerCreateOptions {
    const workload = instance.workload;
    const env = (workload?.env ?? []).map((e) => `${e.name}=${e.value}`);
    for (const [name, port] of instance.hostPorts) env.push(`${portEnvName(name)}=${port}`);
    if (instance.hostPorts.length > 0) env.push(`PORT=${instance.hostPorts[0][1]}`);
    const command = workload?.command ?? "";
    return {
      name: containerName(instance),
      Image: instance.image,
      ...(command !== "" ? { Entrypoint: [command], Cmd: workload?.args ?? [] } : {}),
      ...(command === "" && (workload?.args.length ?? 0) > 0 ? { Cmd: workload?.args } : {}),
      Env: env,
      Labels: {
        [dockerLabels.managed]: "true",
        [dockerLabels.containerId]: instance.containerId,
        [dockerLabels.deployment]: instance.deployment,
        [dockerLabels.version]: String(instance.version ?? 0),
        [dockerLabels.node]: instance.nodeId,
        [dockerLabels.generation]: String(instance.generation),
        [dockerLabels.healthPath]: instance.healthCheckPath,
        [dockerLabels.ports]: JSON.stringify(instance.hostPorts),
      },
      HostConfig: {
        NetworkMode: "host",
        RestartPolicy: { Name: "no" },
        ...(instance.memoryMib ? { Memory: instance.memoryMib * 1024 * 1024 } : {}),
        ...(instance.cpuMillicores ? { NanoCpus: instance.cpuMillicores * 1_000_000 } : {}),
      },
    };
  }

  /** true when the image is present (pulled if need be), or why it cannot be had. Pulls of one image are shared. */
  private ensureImage(image: string): Promise<true | string> {
    const pending = this.pulls.get(image);
    if (pending !== undefined) return pending;
    const pull = this.present(image).then((present) => (present ? true : this.pull(image)));
    this.pulls.set(image, pull);
    const clear = (): void => {
      this.pulls.delete(image);
    };
    pull.then(clear, clear);
    return pull;
  }

  private async present(image: string): Promise<boolean> {
    try {
      await this.docker.getImage(image).inspect();
      return true;
    } catch (error) {
      if (statusCode(error) === 404) return false;
      throw error;
    }
  }

  private async pull(image: string): Promise<true | string> {
    const logger = this.options.logger;
    logger.info({ image }, "pulling image");
    try {
      const stream = await this.streams.pull(image);
      let loggedAtMs = 0;
      await new Promise<void>((resolve, reject) => {
        this.streams.modem.followProgress(
          stream,
          (error: Error | null) => (error === null ? resolve() : reject(error)),
          (event: { status?: string; progress?: string; id?: string }) => {
            const nowMs = Date.now();
            if (nowMs - loggedAtMs < dockerLimits.pullProgressLogMs) return;
            loggedAtMs = nowMs;
            logger.info({ image, layer: event.id, status: event.status, progress: event.progress }, "pull progress");
          },
        );
      });
      logger.info({ image }, "image pulled");
      return true;
    } catch (error) {
      if (engineUnreachable(error) && !/registry|manifest|pull/i.test(errorText(error))) throw error;
      logger.warn({ image, err: errorText(error) }, "image not found");
      return `image not found: ${image} (${errorText(error)})`;
    }
  }

  private async stopContainer(instance: DockerInstance): Promise<void> {
    const dockerId = instance.dockerId;
    if (dockerId === null) return;
    await this.docker
      .getContainer(dockerId)
      .stop({ t: dockerLimits.stopGraceSeconds })
      .catch(() => {});
  }

  /** Drops an instance now (unreported) and removes its container in the background. */
  private drop(instance: DockerInstance): void {
    this.clearTimer(instance);
    this.instances.delete(instance.containerId);
    const ports = instance.hostPorts.map(([, port]) => port);
    this.enqueue(instance.containerId, async () => {
      if (instance.dockerId !== null) await this.remove(instance.dockerId);
      this.ports.release(ports);
    });
  }

  private async remove(dockerId: string): Promise<void> {
    try {
      await this.docker.getContainer(dockerId).remove({ force: true });
    } catch (error) {
      if (statusCode(error) === 404) return;
      this.options.logger.warn({ docker: dockerId.slice(0, 12), err: errorText(error) }, "cannot remove container");
    }
  }

  private async findDockerId(containerId: string): Promise<string | null> {
    const found = await this.docker
      .listContainers({ all: true, filters: { label: [`${dockerLabels.containerId}=${containerId}`] } })
      .catch(() => []);
    const mine = found.filter((info) => this.nodeIds.has(info.Labels[dockerLabels.node] ?? ""));
    mine.sort((a, b) => b.Created - a.Created);
    return mine[0]?.Id ?? null;
  }

  private engineBack(): Promise<void> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (this.closed || this.unavailable === null) resolve();
        else setTimeout(check, dockerLimits.pingIntervalMs);
      };
      setTimeout(check, dockerLimits.pingIntervalMs);
    });
  }

  private enqueue(containerId: string, work: () => Promise<void>): void {
    const previous = this.chains.get(containerId) ?? Promise.resolve();
    const next = previous.then(work).catch((error: unknown) => {
      this.options.logger.error({ container: containerId, err: errorText(error) }, "Docker work failed");
    });
    this.chains.set(containerId, next);
    void next.then(() => {
      if (this.chains.get(containerId) === next) this.chains.delete(containerId);
    });
  }

  private current(instance: DockerInstance): boolean {
    return !this.closed && this.instances.get(instance.containerId) === instance;
  }

  private clearTimer(instance: DockerInstance): void {
    if (instance.timer === null) return;
    clearTimeout(instance.timer);
    instance.timer = null;
  }

  private move(instance: DockerInstance, to: LocalState, message: string): void {
    instance.state = transitionLocal(instance.state, to, instance.containerId);
    this.emit(instance, message);
  }

  private emit(instance: DockerInstance, message: string): void {
    const { containerId, nodeId, generation, state } = instance;
    assert(state !== "waiting", "a waiting instance is not reported");
    this.options.onChange({ containerId, nodeId, generation, state, message, addresses: this.addresses(instance) });
  }

  private addresses(instance: DockerInstance): ContainerAddress[] {
    if (!isLocalLive(instance.state)) return [];
    return instance.hostPorts.map(([name, port]) => ({ name, address: `${this.advertiseHost}:${port}` }));
  }

  private view(instance: DockerInstance): Instance {
    return {
      containerId: instance.containerId,
      nodeId: instance.nodeId,
      generation: instance.generation,
      state: instance.state,
      deployment: instance.deployment,
      healthCheckPath: instance.healthCheckPath,
      image: instance.image,
      fault: "none",
      startedAtMs: instance.startedAtMs,
      notBeforeMs: instance.notBeforeMs,
      incarnation: instance.incarnation,
      addresses: this.addresses(instance),
    };
  }
}

/** Unique per instance this agent process starts; Docker refuses a second container of the name. */
function containerName(instance: DockerInstance): string {
  return `orch-${instance.nodeId}-${instance.containerId}-r${instance.generation}-i${instance.incarnation}`;
}

/** Adoption order: a higher restart count first, then a running container over an exited one, then the newest. */
function rank(info: Docker.ContainerInfo): number {
  const generation = Number(info.Labels[dockerLabels.generation] ?? 0);
  return generation * 4e10 + (info.State === "running" ? 2e10 : 0) + info.Created;
}

function parsePorts(text: string | undefined): [string, number][] {
  if (text === undefined) return [];
  try {
    const parsed: unknown = JSON.parse(text);
    if (!Array.isArray(parsed)) return [];
    return parsed.filter(
      (p): p is [string, number] => Array.isArray(p) && typeof p[0] === "string" && Number.isInteger(p[1]),
    );
  } catch {
    return [];
  }
}

/** Docker's multiplexed log frames (8-byte header: stream, 0, 0, 0, size) to plain bytes. */
function demux(buffer: Buffer): Buffer {
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset + 8 <= buffer.length) {
    const size = buffer.readUInt32BE(offset + 4);
    parts.push(buffer.subarray(offset + 8, offset + 8 + size));
    offset += 8 + size;
  }
  return offset === 0 && buffer.length > 0 ? buffer : Buffer.concat(parts);
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
