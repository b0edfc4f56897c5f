import * as grpc from "@grpc/grpc-js";
import { bearerTokenInterceptor } from "./bearer-token.js";
import { Backoff } from "./backoff.js";
import { LeaderTargets, type KnownLeader } from "./leader-targets.js";
import { assertRetryPolicy, type RetryPolicy } from "./retry-policy.js";
import { RpcFailure, toRpcFailure } from "./rpc-failure.js";

/**
 * A client of a replicated gRPC service that follows the leader. Rules, in the order they apply
 * to a failed attempt:
 * 1. UNAVAILABLE with an `x-leader-address` trailer (a follower naming the leader): retry at once
 *    at that address, and remember the leader for every later call.
 * 2. A retryable status (the policy's table; grpc-js reports an unreachable replica as
 *    UNAVAILABLE too): forget that replica as the leader and try the next endpoint, at once
 *    within a round over the endpoints, after the policy's back-off between rounds, within the
 *    policy's rounds and deadline. Except a failure carrying an `x-agent-address` trailer: the
 *    replica answered, and what it could not reach is a node agent every replica would try too.
 * 3. Anything else comes back to the caller at once.
 */

/** One attempt at one replica: `client` is the channel to `address`; the attempt must end within `timeoutMs`. */
export type Attempt<T> = (client: grpc.Client, address: string, timeoutMs: number) => Promise<T>;

export interface CallOptions {
  /** A performance.now() time after which no attempt starts (in addition to the policy's deadline). */
  readonly deadlineAtMs?: number;
  /** Caps each attempt's timeout below the policy's attemptTimeoutMsMax. */
  readonly attemptTimeoutMs?: number;
  /** Stops retrying; the call rejects with the abort reason. */
  readonly signal?: AbortSignal;
  /** Hears each address an attempt goes to, redirects included. */
  readonly onAttempt?: (address: string) => void;
  /** Hears each retryable failure before the client retries. */
  readonly onRetry?: (failure: RpcFailure) => void;
}

export interface LeaderFollowingClientOptions {
  readonly endpoints: readonly string[];
  readonly policy: RetryPolicy;
  /** grpc-js channel options of every channel (reconnect back-off, keepalive). */
  readonly channelOptions?: grpc.ChannelOptions;
  /** Mutual TLS toward the replicas; plaintext when absent. */
  readonly credentials?: grpc.ChannelCredentials;
  /** An access token sent with every call (`authorization: Bearer <secret>`); none when absent. */
  readonly token?: string;
  /** For the back-off's jitter; a value in [0, 1). */
  readonly random?: () => number;
}

export class LeaderFollowingClient {
  private readonly targets: LeaderTargets;
  private readonly channels = new Map<string, grpc.Client>();
  private readonly random: () => number;
  private closed = false;

  constructor(private readonly options: LeaderFollowingClientOptions) {
    assertRetryPolicy(options.policy);
    this.targets = new LeaderTargets(options.endpoints);
    this.random = options.random ?? Math.random;
  }

  get policy(): RetryPolicy {
    return this.options.policy;
  }

  /** The address the next attempt goes to. */
  current(): string {
    return this.targets.current();
  }

  knownLeader(): KnownLeader | undefined {
    return this.targets.knownLeader();
  }

  /** Worth an attempt at another replica under this client's policy. */
  isRetryable(failure: RpcFailure): boolean {
    return this.options.policy.retryableCodes.has(failure.code) && failure.agentAddress === undefined;
  }

  /**
   * `attempt` under the rules above: at the current target, following leader redirects, retrying
   * retryable failures; resolves with the first success, rejects with the last failure.
   */
  async call<T>(attempt: Attempt<T>, options: CallOptions = {}): Promise<T> {
    const policy = this.options.policy;
    const deadlineAtMs = Math.min(options.deadlineAtMs ?? Infinity, performance.now() + policy.deadlineMs);
    const remainingMs = (): number => deadlineAtMs - performance.now();
    const backoff = this.newBackoff();
    let rounds = 0;
    for (;;) {
      options.signal?.throwIfAborted();
      try {
        return await this.attemptOnce(attempt, { ...options, deadlineAtMs });
      } catch (error) {
        if (!(error instanceof RpcFailure) || !this.isRetryable(error)) throw error;
        if (remainingMs() <= 0 || rounds >= policy.roundsMax) throw error;
        const roundEnded = this.targets.takeRoundEnd();
        options.onRetry?.(error);
        if (roundEnded) {
          rounds += 1;
          await pause(Math.min(backoff.nextDelayMs(), remainingMs()), options.signal);
        }
      }
    }
  }

  /**
   * One attempt: the current target, plus the leader redirects it hands out (rule 1). A
   * retryable failure moves the targets on; it is the caller's to retry.
   */
  async attemptOnce<T>(attempt: Attempt<T>, options: CallOptions = {}): Promise<T> {
    const policy = this.options.policy;
    const deadlineAtMs = options.deadlineAtMs ?? Infinity;
    const timeoutMaxMs = Math.min(policy.attemptTimeoutMsMax, options.attemptTimeoutMs ?? Infinity);
    let address = this.targets.current();
    for (let hop = 0; ; hop += 1) {
      options.onAttempt?.(address);
      const remainingMs = deadlineAtMs - performance.now();
      try {
        const result = await attempt(
          this.channelFor(address),
          address,
          Math.max(1, Math.min(remainingMs, timeoutMaxMs)),
        );
        this.succeededAt(address);
        return result;
      } catch (error) {
        if (!(error instanceof RpcFailure) && typeof (error as Partial<grpc.ServiceError>).code !== "number")
          throw error; // Not a gRPC failure: a bug in the attempt, not the cluster's doing.
        const failure = toRpcFailure(error, address);
        const redirect = failure.leaderRedirect;
        if (redirect !== undefined && hop < policy.leaderRedirectsPerAttemptMax && deadlineAtMs > performance.now()) {
          this.targets.leaderIs(redirect);
          address = redirect.address;
          continue;
        }
        if (this.isRetryable(failure)) failure.leaderAtAddress = this.targets.failed(address);
        throw failure;
      }
    }
  }

  /**
   * A stream at `failure.address` broke or could not open: go where its trailers point, or
   * past that replica.
   */
  streamFailed(failure: RpcFailure): void {
    const redirect = failure.leaderRedirect;
    if (redirect !== undefined) this.targets.leaderIs(redirect);
    else this.targets.failed(failure.address);
  }

  /** `address` failed outside an attempt (e.g. a stream went silent): move past it. */
  failed(address: string): void {
    this.targets.failed(address);
  }

  /** `address` answered: a fresh round of failures starts; under answererIsLeader it is the leader. */
  succeededAt(address: string): void {
    this.targets.succeeded();
    if (!this.options.policy.answererIsLeader) return;
    const leader = this.targets.knownLeader();
    if (leader?.address !== address) this.targets.leaderIs({ id: leader?.id ?? "", address });
  }

  /** A fresh back-off with this client's policy, for callers that run their own loop. */
  newBackoff(): Backoff {
    return new Backoff(this.options.policy.backoff, this.random);
  }

  /** Sleeps a back-off delay when every endpoint failed since the last success. */
  async pauseIfRoundEnded(backoff: Backoff, signal?: AbortSignal): Promise<void> {
    if (!this.targets.takeRoundEnd()) return;
    await pause(backoff.nextDelayMs(), signal);
  }

  /** The channel to `address`, made on first use. */
  channelFor(address: string): grpc.Client {
    let channel = this.channels.get(address);
    if (channel === undefined) {
      if (this.closed) throw new RpcFailure(grpc.status.CANCELLED, "the client is closed", address, undefined);
      const token = this.options.token;
      channel = new grpc.Client(address, this.options.credentials ?? grpc.credentials.createInsecure(), {
        ...this.options.channelOptions,
        ...(token !== undefined ? { interceptors: [bearerTokenInterceptor(token)] } : {}),
      });
      this.channels.set(address, channel);
    }
    return channel;
  }

  close(): void {
    this.closed = true;
    for (const channel of this.channels.values()) channel.close();
    this.channels.clear();
  }
}

/** The parts of a generated method definition a call needs. */
export interface MethodDefinition<Req, Res> {
  readonly path: string;
  readonly requestSerialize: (value: Req) => Buffer;
  readonly responseDeserialize: (bytes: Buffer) => Res;
}

/** One unary request on `client`; rejects with an RpcFailure. `signal` cancels it. */
export function unaryCall<Req, Res>(
  client: grpc.Client,
  address: string,
  definition: MethodDefinition<Req, Res>,
  request: Req,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<Res> {
  return new Promise<Res>((resolve, reject) => {
    const call = client.makeUnaryRequest(
      definition.path,
      definition.requestSerialize,
      definition.responseDeserialize,
      request,
      new grpc.Metadata(),
      { deadline: Date.now() + timeoutMs },
      (error, response) => {
        signal?.removeEventListener("abort", cancel);
        if (error !== null) reject(toRpcFailure(error, address));
        else if (response === undefined)
          reject(new RpcFailure(grpc.status.INTERNAL, "empty response", address, undefined));
        else resolve(response);
      },
    );
    const cancel = (): void => call.cancel();
    signal?.addEventListener("abort", cancel, { once: true });
  });
}

/** Resolves after `ms`, or rejects with the abort reason. */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(signal.reason as Error);
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
