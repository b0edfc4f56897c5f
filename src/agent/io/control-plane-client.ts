import type { ChannelCredentials } from "@grpc/grpc-js";
/**
 * The agent's client of AgentService: the shared leader-following client (src/lib) with the
 * agent's retry table. Retryable: UNAVAILABLE (a follower naming no leader, an election, an
 * unreachable replica), DEADLINE_EXCEEDED, ABORTED, RESOURCE_EXHAUSTED and CANCELLED; the agent
 * keeps retrying those for as long as it runs, backing off (capped) between rounds. Anything
 * else is a mistake in the request: the caller decides (usually: log and give up).
 */
import * as grpc from "@grpc/grpc-js";
import {
  AgentServiceService,
  type WatchAssignmentsRequest,
  type WatchAssignmentsResponse,
} from "../../gen/agent/v1/agent.js";
import type { Backoff } from "../../lib/backoff.js";
import { LeaderFollowingClient, unaryCall, type MethodDefinition } from "../../lib/leader-following-client.js";
import type { KnownLeader } from "../../lib/leader-targets.js";
import type { RetryPolicy } from "../../lib/retry-policy.js";
import { RpcFailure, toRpcFailure } from "../../lib/rpc-failure.js";
import { agentLimits } from "../limits.js";

export { RpcFailure } from "../../lib/rpc-failure.js";
export { pause as sleep } from "../../lib/leader-following-client.js";

type Service = typeof AgentServiceService;
type MethodName = keyof Service;
export type UnaryMethod = { [K in MethodName]: Service[K]["responseStream"] extends true ? never : K }[MethodName];
export type RequestOf<K extends MethodName> = Parameters<Service[K]["requestSerialize"]>[0];
export type ResponseOf<K extends MethodName> = ReturnType<Service[K]["responseDeserialize"]>;

export const agentRetryPolicy: RetryPolicy = {
  // CANCELLED too: the agent never cancels a unary call itself, but a replica shutting down cancels its calls.
  retryableCodes: new Set([
    grpc.status.UNAVAILABLE,
    grpc.status.DEADLINE_EXCEEDED,
    grpc.status.ABORTED,
    grpc.status.RESOURCE_EXHAUSTED,
    grpc.status.CANCELLED,
  ]),
  // The agent has nothing better to do than reach the control plane: it retries until it stops.
  roundsMax: Infinity,
  backoff: {
    initialMs: agentLimits.retryDelayMsInitial,
    factor: agentLimits.retryDelayFactor,
    maxMs: agentLimits.retryDelayMsMax,
  },
  deadlineMs: Infinity,
  // Each call states its own timeout (agentLimits.callTimeoutMs, heartbeatTimeoutMs).
  attemptTimeoutMsMax: Infinity,
  leaderRedirectsPerAttemptMax: agentLimits.leaderRedirectsPerAttemptMax,
  // Followers always redirect AgentService calls, so whoever answers is the leader.
  answererIsLeader: true,
};

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

function definitionOf<K extends UnaryMethod>(method: K): MethodDefinition<RequestOf<K>, ResponseOf<K>> {
  return AgentServiceService[method] as unknown as MethodDefinition<RequestOf<K>, ResponseOf<K>>;
}

export class ControlPlaneClient {
  private readonly client: LeaderFollowingClient;

  constructor(endpoints: readonly string[], credentials?: ChannelCredentials, token?: string) {
    this.client = new LeaderFollowingClient({
      endpoints,
      policy: agentRetryPolicy,
      channelOptions,
      ...(credentials !== undefined ? { credentials } : {}),
      ...(token !== undefined ? { token } : {}),
    });
  }

  current(): string {
    return this.client.current();
  }

  knownLeader(): KnownLeader | undefined {
    return this.client.knownLeader();
  }

  /** Worth another attempt (the agent's table above). */
  isRetryable(failure: RpcFailure): boolean {
    return this.client.isRetryable(failure);
  }

  /** A fresh back-off with the agent's policy. */
  backoff(): Backoff {
    return this.client.newBackoff();
  }

  /** One attempt: the current target, plus the redirects it hands out. Throws RpcFailure. */
  call<K extends UnaryMethod>(method: K, request: RequestOf<K>, timeoutMs: number): Promise<ResponseOf<K>> {
    const definition = definitionOf(method);
    return this.client.attemptOnce(
      (channel, address, attemptTimeoutMs) => unaryCall(channel, address, definition, request, attemptTimeoutMs),
      { attemptTimeoutMs: timeoutMs },
    );
  }

  /**
   * Retries `call` on retryable failures until it succeeds, fails otherwise, or `signal` aborts
   * (then it rejects with the abort reason). `onRetry` hears of each retryable failure.
   */
  callRetrying<K extends UnaryMethod>(
    method: K,
    request: RequestOf<K>,
    options: {
      readonly timeoutMs: number;
      readonly signal: AbortSignal;
      readonly onRetry?: (failure: RpcFailure) => void;
    },
  ): Promise<ResponseOf<K>> {
    const definition = definitionOf(method);
    return this.client.call(
      (channel, address, attemptTimeoutMs) => unaryCall(channel, address, definition, request, attemptTimeoutMs),
      { attemptTimeoutMs: options.timeoutMs, signal: options.signal, onRetry: options.onRetry },
    );
  }

  /** Sleeps a back-off delay when every endpoint failed since the last success. */
  pauseIfRoundEnded(backoff: Backoff, signal: AbortSignal): Promise<void> {
    return this.client.pauseIfRoundEnded(backoff, signal);
  }

  /** Opens WatchAssignments on the current target. */
  watch(request: WatchAssignmentsRequest, handlers: AssignmentStreamHandlers): AssignmentStreamHandle {
    const address = this.client.current();
    const definition = AgentServiceService.watchAssignments;
    let settled = false;
    let cancelled = false;
    const stream = this.client
      .channelFor(address)
      .makeServerStreamRequest(
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
      // A follower naming the leader sends the next attempt straight there; any other failure,
      // whatever the reason, means this replica is not serving us now.
      this.client.streamFailed(failure);
      handlers.onEnd(failure);
    };
    stream.on("data", (message: WatchAssignmentsResponse) => {
      if (cancelled) return;
      this.client.succeededAt(address);
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
    this.client.failed(address);
  }

  close(): void {
    this.client.close();
  }
}
