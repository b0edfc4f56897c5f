import type { ChannelCredentials } from "@grpc/grpc-js";
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import * as grpc from "@grpc/grpc-js";
import { OrchestratorServiceService, type RequestHeader } from "../gen/orchestrator/v1/orchestrator.js";
import { LeaderFollowingClient, unaryCall, type MethodDefinition } from "../lib/leader-following-client.js";
import type { KnownLeader } from "../lib/leader-targets.js";
import type { RetryPolicy } from "../lib/retry-policy.js";
import { RpcFailure, toRpcFailure } from "../lib/rpc-failure.js";
import { cliLimits } from "./limits.js";

export { RpcFailure } from "../lib/rpc-failure.js";

/**
 * orchctl's client of the orchestrator API: the shared leader-following client (src/lib) with
 * orchctl's retry table. Retryable: UNAVAILABLE (a follower without a leader, an election, an
 * unreachable replica), DEADLINE_EXCEEDED and ABORTED; anything else (INVALID_ARGUMENT,
 * NOT_FOUND, ALREADY_EXISTS, FAILED_PRECONDITION, RESOURCE_EXHAUSTED, ...) fails at once.
 * Between rounds it backs off 100 ms doubling to 1 s (jittered), for at most `retriesMax`
 * rounds and never past the command's deadline.
 *
 * A mutating request carries a RequestHeader made once by `nextHeader()` before the first
 * attempt; every retry sends the same request object, so the same client id and sequence
 * number, and the server's dedup table applies it at most once.
 */
export const orchctlRetryPolicy: RetryPolicy = {
  retryableCodes: new Set([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED, grpc.status.ABORTED]),
  roundsMax: cliLimits.retriesMax,
  backoff: {
    initialMs: cliLimits.retryDelayMsMin,
    factor: cliLimits.retryDelayFactor,
    maxMs: cliLimits.retryDelayMsMax,
    jitter: "upward",
  },
  // The command's own deadline (--timeout) bounds every call; see OrchClientOptions.deadlineMs.
  deadlineMs: Infinity,
  attemptTimeoutMsMax: cliLimits.attemptTimeoutMsMax,
  leaderRedirectsPerAttemptMax: cliLimits.leaderRedirectsPerAttemptMax,
  answererIsLeader: false,
};

type Service = typeof OrchestratorServiceService;
type MethodName = keyof Service;
export type UnaryMethod = { [K in MethodName]: Service[K]["responseStream"] extends true ? never : K }[MethodName];
export type StreamMethod = { [K in MethodName]: Service[K]["responseStream"] extends true ? K : never }[MethodName];
export type RequestOf<K extends MethodName> = Parameters<Service[K]["requestSerialize"]>[0];
export type ResponseOf<K extends MethodName> = ReturnType<Service[K]["responseDeserialize"]>;

function definitionOf<K extends MethodName>(method: K): MethodDefinition<RequestOf<K>, ResponseOf<K>> {
  return OrchestratorServiceService[method] as unknown as MethodDefinition<RequestOf<K>, ResponseOf<K>>;
}

export function isRetryableCode(code: number): boolean {
  return orchctlRetryPolicy.retryableCodes.has(code);
}

/** Reconnect quickly after a replica restarts; grpc-js's defaults back off up to 2 minutes. */
const channelOptions: grpc.ChannelOptions = {
  "grpc.initial_reconnect_backoff_ms": 100,
  "grpc.max_reconnect_backoff_ms": 1_000,
};

/** Every retry failed, or the deadline passed first. */
export class ClusterUnreachableError extends Error {
  constructor(
    readonly last: RpcFailure,
    readonly tried: readonly string[],
    readonly elapsedMs: number,
  ) {
    super(
      `no replica could serve the request in ${(elapsedMs / 1000).toFixed(1)}s; last error from ${last.address}: ${last.statusName}: ${last.shortDetails}`,
    );
    this.name = "ClusterUnreachableError";
  }
}

export interface OrchClientOptions {
  readonly endpoints: readonly string[];
  /** Overall deadline of the command, as a performance.now() time. */
  readonly deadlineMs: number;
  /** Progress lines for people (stderr). */
  readonly log: (line: string) => void;
  /** Aborted on Ctrl-C. */
  readonly signal?: AbortSignal;
  /** Mutual TLS (--tls-ca/--tls-cert/--tls-key or ORCH_CA/ORCH_CERT/ORCH_KEY); plaintext when absent. */
  readonly credentials?: ChannelCredentials;
  /** An access token (--token or ORCH_TOKEN), sent with every call as `authorization: Bearer <secret>`. */
  readonly token?: string;
}

/** How a stream attempt ended without throwing. */
type StreamOutcome = { kind: "ended" } | { kind: "aborted" } | { kind: "broken"; failure: RpcFailure };

export class OrchClient {
  /** Random per orchctl invocation: the server's dedup key together with `seq`. */
  readonly clientId = randomUUID();
  private seqLast = 0;
  private readonly client: LeaderFollowingClient;

  constructor(private readonly options: OrchClientOptions) {
    this.client = new LeaderFollowingClient({
      endpoints: options.endpoints,
      policy: orchctlRetryPolicy,
      channelOptions,
      ...(options.credentials !== undefined ? { credentials: options.credentials } : {}),
      ...(options.token !== undefined ? { token: options.token } : {}),
    });
  }

  /** A fresh header for one mutating request; retries of that request reuse it. */
  nextHeader(): RequestHeader {
    this.seqLast += 1;
    return { clientId: this.clientId, seq: this.seqLast };
  }

  knownLeader(): KnownLeader | undefined {
    return this.client.knownLeader();
  }

  /** A unary call under the retry rules above, within the command's deadline. */
  async call<K extends UnaryMethod>(method: K, request: RequestOf<K>): Promise<ResponseOf<K>> {
    const definition = definitionOf(method);
    return this.retrying(this.options.deadlineMs, (channel, address, attemptTimeoutMs) =>
      unaryCall(channel, address, definition, request, attemptTimeoutMs, this.options.signal),
    );
  }

  /**
   * Follows a server stream until Ctrl-C, reconnecting (to the leader, or the next endpoint)
   * whenever it breaks or the server ends it. `makeRequest` is called for every (re)connection,
   * so the caller can resume after the last revision it saw. Each reconnection may take up to
   * `reconnectBudgetMs`; a non-retryable status ends the stream with that error.
   */
  async follow<K extends StreamMethod>(
    method: K,
    makeRequest: () => RequestOf<K>,
    onMessage: (message: ResponseOf<K>) => void,
    reconnectBudgetMs: number,
  ): Promise<void> {
    const definition = definitionOf(method);
    const signal = this.options.signal;
    const aborted = (): boolean => signal?.aborted === true;
    while (!aborted()) {
      let outcome: StreamOutcome;
      try {
        outcome = await this.retrying(performance.now() + reconnectBudgetMs, (channel, address) =>
          this.streamOnce(channel, address, definition, makeRequest(), onMessage),
        );
      } catch (error) {
        if (aborted()) return;
        throw error;
      }
      if (outcome.kind === "aborted") return;
      if (outcome.kind === "broken") {
        const { failure } = outcome;
        if (!isRetryableCode(failure.code)) throw failure;
        this.client.streamFailed(failure);
        this.options.log(
          `stream from ${failure.address} broke (${failure.shortDetails}), reconnecting to ${this.client.current()}…`,
        );
      } else {
        await sleep(cliLimits.watchReopenDelayMs, undefined, { signal }).catch(() => undefined);
      }
    }
  }

  /**
   * Reads a server stream once, to its end (a download): until its first message arrives it is
   * retried and follows the leader like a unary call; a stream that breaks after that fails,
   * because what was received so far is incomplete. Resolves false when Ctrl-C ended it.
   */
  async readStream<K extends StreamMethod>(
    method: K,
    request: RequestOf<K>,
    onMessage: (message: ResponseOf<K>) => void,
  ): Promise<boolean> {
    const definition = definitionOf(method);
    const outcome = await this.retrying(this.options.deadlineMs, (channel, address) =>
      this.streamOnce(channel, address, definition, request, onMessage),
    );
    if (outcome.kind === "broken") throw outcome.failure;
    return outcome.kind === "ended";
  }

  close(): void {
    this.client.close();
  }

  private async retrying<T>(
    deadlineAtMs: number,
    attempt: (channel: grpc.Client, address: string, attemptTimeoutMs: number) => Promise<T>,
  ): Promise<T> {
    const startedMs = performance.now();
    const tried = new Set<string>();
    try {
      return await this.client.call(attempt, {
        deadlineAtMs,
        signal: this.options.signal,
        onAttempt: (address) => tried.add(address),
        onRetry: (failure) => {
          if (performance.now() - startedMs > cliLimits.retryQuietMs) this.options.log(this.progressLine(failure));
        },
      });
    } catch (error) {
      if (error instanceof RpcFailure && this.client.isRetryable(error) && this.options.signal?.aborted !== true) {
        throw new ClusterUnreachableError(error, [...tried], performance.now() - startedMs);
      }
      throw error;
    }
  }

  private progressLine(failure: RpcFailure): string {
    const who = failure.leaderAtAddress === undefined ? failure.address : `leader ${failure.leaderAtAddress.id}`;
    const what =
      failure.code === grpc.status.DEADLINE_EXCEEDED
        ? "did not answer in time"
        : `${failure.isConnectionFailure ? "unreachable" : "unavailable"} (${failure.shortDetails})`;
    return `${who} ${what}, retrying on ${this.client.current()}…`;
  }

  /**
   * One stream: resolves when it ends, breaks after delivering something (the caller reconnects
   * with a fresh budget), or Ctrl-C; rejects when it fails before delivering anything.
   */
  private streamOnce<Req, Res>(
    channel: grpc.Client,
    address: string,
    definition: MethodDefinition<Req, Res>,
    request: Req,
    onMessage: (message: Res) => void,
  ): Promise<StreamOutcome> {
    const signal = this.options.signal;
    return new Promise<StreamOutcome>((resolve, reject) => {
      let delivered = false;
      let settled = false;
      const settle = (finish: () => void): void => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener("abort", cancel);
        finish();
      };
      const call = channel.makeServerStreamRequest(
        definition.path,
        definition.requestSerialize,
        definition.responseDeserialize,
        request,
        new grpc.Metadata(),
        {},
      );
      const cancel = (): void => call.cancel();
      signal?.addEventListener("abort", cancel, { once: true });
      call.on("data", (message: Res) => {
        delivered = true;
        this.client.succeededAt(address);
        onMessage(message);
      });
      call.on("end", () => settle(() => resolve({ kind: "ended" })));
      call.on("error", (error: unknown) => {
        if (signal?.aborted === true) return settle(() => resolve({ kind: "aborted" }));
        const failure = toRpcFailure(error, address);
        if (delivered) settle(() => resolve({ kind: "broken", failure }));
        else settle(() => reject(failure));
      });
    });
  }
}
