/**
 * The agent's leader-following gRPC client of AgentService (the same rules as orchctl's):
 * 1. UNAVAILABLE with an x-leader-address trailer: a follower names the leader; go there at
 *    once (up to leaderRedirectsPerAttemptMax hops) and remember it.
 * 2. UNAVAILABLE without a leader (an election, or an unreachable replica), DEADLINE_EXCEEDED,
 *    ABORTED, RESOURCE_EXHAUSTED, CANCELLED: forget that replica as the leader and try the next endpoint; at
 *    once within a round over the endpoints, after a back-off between rounds.
 * 3. Anything else is a mistake in the request: the caller decides (usually: log and give up).
 */
import * as grpc from "@grpc/grpc-js";
import {
  AgentServiceService,
  type WatchAssignmentsRequest,
  type WatchAssignmentsResponse,
} from "../../gen/agent/v1/agent.js";
import { Backoff } from "../core/backoff.js";
import { LeaderTargets, type KnownLeader } from "../core/leader-targets.js";
import { agentLimits } from "../limits.js";

type Service = typeof AgentServiceService;
type MethodName = keyof Service;
export type UnaryMethod = { [K in MethodName]: Service[K]["responseStream"] extends true ? never : K }[MethodName];
export type RequestOf<K extends MethodName> = Parameters<Service[K]["requestSerialize"]>[0];
export type ResponseOf<K extends MethodName> = ReturnType<Service[K]["responseDeserialize"]>;

interface MethodDefinition<Req, Res> {
  readonly path: string;
  readonly requestSerialize: (value: Req) => Buffer;
  readonly responseDeserialize: (bytes: Buffer) => Res;
}

/** CANCELLED too: the agent never cancels a unary call itself, but a replica shutting down cancels its calls. */
const retryableCodes: ReadonlySet<number> = new Set([
  grpc.status.UNAVAILABLE,
  grpc.status.DEADLINE_EXCEEDED,
  grpc.status.ABORTED,
  grpc.status.RESOURCE_EXHAUSTED,
  grpc.status.CANCELLED,
]);

/**
 * Reconnect fast after a replica restarts (grpc-js backs off up to two minutes by default), and
 * notice a silently dead connection within seconds rather than minutes.
 */
const channelOptions: grpc.ChannelOptions = {
  "grpc.initial_reconnect_backoff_ms": 100,
  "grpc.max_reconnect_backoff_ms": 1_000,
  "grpc.keepalive_time_ms": 10_000,
  "grpc.keepalive_timeout_ms": 5_000,
};

export class RpcFailure extends Error {
  constructor(
    readonly code: number,
    readonly details: string,
    readonly address: string,
    /** The leader named in the trailers, when there was one. */
    readonly redirect: KnownLeader | undefined,
  ) {
    super(`${grpc.status[code] ?? code} from ${address}: ${details}`);
    this.name = "RpcFailure";
  }

  get retryable(): boolean {
    return retryableCodes.has(this.code);
  }
}

function firstString(metadata: grpc.Metadata | undefined, key: string): string | undefined {
  const value = metadata?.get(key)[0];
  if (value === undefined) return undefined;
  const text = typeof value === "string" ? value : value.toString("utf8");
  return text === "" ? undefined : text;
}

export function toRpcFailure(error: unknown, address: string): RpcFailure {
  if (error instanceof RpcFailure) return error;
  const service = error as Partial<grpc.ServiceError>;
  if (typeof service.code !== "number")
    return new RpcFailure(
      grpc.status.UNKNOWN,
      error instanceof Error ? error.message : String(error),
      address,
      undefined,
    );
  const leaderAddress = firstString(service.metadata, "x-leader-address");
  const leaderId = firstString(service.metadata, "x-leader-id") ?? leaderAddress ?? "";
  const redirect = leaderAddress === undefined ? undefined : { id: leaderId, address: leaderAddress };
  return new RpcFailure(service.code, service.details ?? "", address, redirect);
}

/** A running WatchAssignments stream. */
export interface AssignmentStreamHandle {
  readonly address: string;
  cancel(): void;
}

export interface AssignmentStreamHandlers {
  onMessage(message: WatchAssignmentsResponse): void;
  /** Exactly once: the stream ended (null) or failed. Not called after cancel(). */
  onEnd(failure: RpcFailure | null): void;
}

export class ControlPlaneClient {
  private readonly targets: LeaderTargets;
  private readonly clients = new Map<string, grpc.Client>();
  private closed = false;

  constructor(endpoints: readonly string[]) {
    this.targets = new LeaderTargets(endpoints);
  }

  current(): string {
    return this.targets.current();
  }

  knownLeader(): KnownLeader | undefined {
    return this.targets.knownLeader();
  }

  /** A fresh back-off with the agent's policy. */
  static backoff(): Backoff {
    return new Backoff(
      {
        initialMs: agentLimits.retryDelayMsInitial,
        factor: agentLimits.retryDelayFactor,
        maxMs: agentLimits.retryDelayMsMax,
      },
      Math.random,
    );
  }

  /** One attempt: the current target, plus the redirects it hands out. Throws RpcFailure. */
  async call<K extends UnaryMethod>(method: K, request: RequestOf<K>, timeoutMs: number): Promise<ResponseOf<K>> {
    const definition = AgentServiceService[method] as unknown as MethodDefinition<RequestOf<K>, ResponseOf<K>>;
    let address = this.targets.current();
    for (let hop = 0; ; hop += 1) {
      try {
        const response = await this.unaryOnce(address, definition, request, timeoutMs);
        this.succeededAt(address);
        return response;
      } catch (error) {
        const failure = toRpcFailure(error, address);
        if (this.followRedirect(failure, hop)) {
          address = failure.redirect!.address;
          continue;
        }
        if (failure.retryable) this.targets.failed(address);
        throw failure;
      }
    }
  }

  /**
   * Retries `call` on retryable failures until it succeeds, fails otherwise, or `signal` aborts
   * (then it rejects with the abort reason). `onRetry` hears of each retryable failure.
   */
  async callRetrying<K extends UnaryMethod>(
    method: K,
    request: RequestOf<K>,
    options: {
      readonly timeoutMs: number;
      readonly signal: AbortSignal;
      readonly onRetry?: (failure: RpcFailure) => void;
    },
  ): Promise<ResponseOf<K>> {
    const backoff = ControlPlaneClient.backoff();
    for (;;) {
      options.signal.throwIfAborted();
      try {
        return await this.call(method, request, options.timeoutMs);
      } catch (error) {
        if (!(error instanceof RpcFailure) || !error.retryable) throw error;
        options.onRetry?.(error);
        await this.pauseIfRoundEnded(backoff, options.signal);
      }
    }
  }

  /** Sleeps a back-off delay when every endpoint failed since the last success. */
  async pauseIfRoundEnded(backoff: Backoff, signal: AbortSignal): Promise<void> {
    if (!this.targets.takeRoundEnd()) return;
    await sleep(backoff.nextDelayMs(), signal);
  }

  /** Opens WatchAssignments on the current target. */
  watch(request: WatchAssignmentsRequest, handlers: AssignmentStreamHandlers): AssignmentStreamHandle {
    const address = this.targets.current();
    const definition = AgentServiceService.watchAssignments;
    let settled = false;
    let cancelled = false;
    const stream = this.clientFor(address).makeServerStreamRequest(
      definition.path,
      definition.requestSerialize,
      definition.responseDeserialize,
      request,
      new grpc.Metadata(),
      {},
    );
    const settle = (failure: RpcFailure | null): void => {
      if (settled) return;
      settled = true;
      if (cancelled) return;
      if (failure === null) {
        handlers.onEnd(null);
        return;
      }
      // A follower naming the leader sends the next attempt straight there.
      // Any other failure: whatever the reason, this replica is not serving us now.
      if (
        failure.code === grpc.status.UNAVAILABLE &&
        failure.redirect !== undefined &&
        failure.redirect.address !== address
      )
        this.targets.leaderIs(failure.redirect);
      else this.targets.failed(address);
      handlers.onEnd(failure);
    };
    stream.on("data", (message: WatchAssignmentsResponse) => {
      if (cancelled) return;
      this.succeededAt(address);
      handlers.onMessage(message);
    });
    stream.on("end", () => settle(null));
    stream.on("error", (error: unknown) => settle(toRpcFailure(error, address)));
    return {
      address,
      cancel: () => {
        cancelled = true;
        stream.cancel();
      },
    };
  }

  /** A stream at `address` went silent: treat it like a failed attempt there. */
  failed(address: string): void {
    this.targets.failed(address);
  }

  close(): void {
    this.closed = true;
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }

  private succeededAt(address: string): void {
    this.targets.succeeded();
    // Whoever answers an AgentService call is the leader (followers always redirect).
    if (this.targets.knownLeader()?.address !== address)
      this.targets.leaderIs({ id: this.targets.knownLeader()?.id ?? "", address });
  }

  private followRedirect(failure: RpcFailure, hop: number): boolean {
    const redirect = failure.redirect;
    if (failure.code !== grpc.status.UNAVAILABLE || redirect === undefined || redirect.address === failure.address)
      return false;
    if (hop >= agentLimits.leaderRedirectsPerAttemptMax) return false;
    this.targets.leaderIs(redirect);
    return true;
  }

  private clientFor(address: string): grpc.Client {
    let client = this.clients.get(address);
    if (client === undefined) {
      if (this.closed) throw new RpcFailure(grpc.status.CANCELLED, "the agent is shutting down", address, undefined);
      client = new grpc.Client(address, grpc.credentials.createInsecure(), channelOptions);
      this.clients.set(address, client);
    }
    return client;
  }

  private unaryOnce<Req, Res>(
    address: string,
    definition: MethodDefinition<Req, Res>,
    request: Req,
    timeoutMs: number,
  ): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      this.clientFor(address).makeUnaryRequest(
        definition.path,
        definition.requestSerialize,
        definition.responseDeserialize,
        request,
        new grpc.Metadata(),
        { deadline: Date.now() + timeoutMs },
        (error, response) => {
          if (error !== null) reject(toRpcFailure(error, address));
          else if (response === undefined)
            reject(new RpcFailure(grpc.status.INTERNAL, "empty response", address, undefined));
          else resolve(response);
        },
      );
    });
  }
}

/** Resolves after `ms`, or rejects with the abort reason. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
