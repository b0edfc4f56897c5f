import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import * as grpc from "@grpc/grpc-js";
import pRetry from "p-retry";
import {
  OrchestratorServiceClient,
  OrchestratorServiceService,
  type RequestHeader,
} from "../gen/orchestrator/v1/orchestrator.js";
import { ClientTargets, type KnownLeader } from "./client-targets.js";
import { grpcStatusName } from "./errors.js";
import { cliLimits } from "./limits.js";

/**
 * The leader-following, retrying client of the orchestrator API.
 *
 * Rules, in the order they apply to a failed attempt:
 * 1. UNAVAILABLE with an `x-leader-address` trailer (a follower naming the leader): retry at
 *    once at that address, and remember the leader for every later call of this process.
 * 2. UNAVAILABLE without a leader (election under way, or the replica is unreachable: grpc-js
 *    reports connection failures as UNAVAILABLE too), DEADLINE_EXCEEDED or ABORTED: retry on the
 *    next endpoint. Within a round over the endpoints the retry is immediate; between rounds it
 *    backs off exponentially (100 ms doubling to 1 s, jittered), for at most `retriesMax` rounds
 *    and never past the command's deadline.
 *    Except an UNAVAILABLE carrying an `x-agent-address` trailer: the replica answered, and what
 *    it could not reach is a node's agent behind it, which every other replica would try too.
 * 3. Anything else (INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, FAILED_PRECONDITION,
 *    RESOURCE_EXHAUSTED, PERMISSION_DENIED, UNAUTHENTICATED, INTERNAL, ...): fail at once.
 *
 * A mutating request carries a RequestHeader made once by `nextHeader()` before the first
 * attempt; every retry sends the same request object, so the same client id and sequence
 * number, and the server's dedup table applies it at most once.
 */

type Service = typeof OrchestratorServiceService;
type MethodName = keyof Service;
export type UnaryMethod = { [K in MethodName]: Service[K]["responseStream"] extends true ? never : K }[MethodName];
export type StreamMethod = { [K in MethodName]: Service[K]["responseStream"] extends true ? K : never }[MethodName];
export type RequestOf<K extends MethodName> = Parameters<Service[K]["requestSerialize"]>[0];
export type ResponseOf<K extends MethodName> = ReturnType<Service[K]["responseDeserialize"]>;

interface MethodDefinition<Req, Res> {
  readonly path: string;
  readonly requestSerialize: (value: Req) => Buffer;
  readonly responseDeserialize: (bytes: Buffer) => Res;
}

function definitionOf<K extends MethodName>(method: K): MethodDefinition<RequestOf<K>, ResponseOf<K>> {
  return OrchestratorServiceService[method] as unknown as MethodDefinition<RequestOf<K>, ResponseOf<K>>;
}

const RETRYABLE_CODES: ReadonlySet<number> = new Set([
  grpc.status.UNAVAILABLE,
  grpc.status.DEADLINE_EXCEEDED,
  grpc.status.ABORTED,
]);

export function isRetryableCode(code: number): boolean {
  return RETRYABLE_CODES.has(code);
}

/** Reconnect quickly after a replica restarts; grpc-js's defaults back off up to 2 minutes. */
const CHANNEL_OPTIONS: grpc.ClientOptions = {
  "grpc.initial_reconnect_backoff_ms": 100,
  "grpc.max_reconnect_backoff_ms": 1_000,
};

const CONNECTION_FAILURE_DETAILS =
  /no connection established|connection dropped|failed to connect|ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENOTFOUND/i;

/** One failed attempt at one replica. */
export class RpcFailure extends Error {
  /** Set when the replica that failed was the leader this client knew. */
  leaderAtAddress: KnownLeader | undefined;

  constructor(
    readonly code: number,
    readonly details: string,
    readonly address: string,
    /** The leader named in the x-leader-id / x-leader-address trailers, when there were some. */
    readonly redirect: KnownLeader | undefined,
    /** The x-agent-address trailer: the node agent the replica could not reach (InjectFault). */
    readonly agentAddress?: string,
  ) {
    super(details === "" ? grpcStatusName(code) : details);
    this.name = "RpcFailure";
  }

  get statusName(): string {
    return grpcStatusName(this.code);
  }

  /** Worth another attempt (rule 2 above). */
  get retryable(): boolean {
    return isRetryableCode(this.code) && this.agentAddress === undefined;
  }

  /** grpc-js's own UNAVAILABLE for a replica it could not reach (as opposed to a replica's answer). */
  get isConnectionFailure(): boolean {
    return this.code === grpc.status.UNAVAILABLE && CONNECTION_FAILURE_DETAILS.test(this.details);
  }

  /** The first sentence of the details, for one-line progress messages. */
  get shortDetails(): string {
    const first = this.details.split(/\.\s|\s\(/)[0] ?? "";
    return first === "" ? this.statusName : first.slice(0, 100);
  }
}

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

function firstString(metadata: grpc.Metadata | undefined, key: string): string | undefined {
  const value = metadata?.get(key)[0];
  if (value === undefined) return undefined;
  const text = typeof value === "string" ? value : value.toString("utf8");
  return text === "" ? undefined : text;
}

function toFailure(error: unknown, address: string): RpcFailure {
  if (error instanceof RpcFailure) return error;
  const service = error as Partial<grpc.ServiceError>;
  if (typeof service.code !== "number") throw error;
  const leaderAddress = firstString(service.metadata, "x-leader-address");
  const leaderId = firstString(service.metadata, "x-leader-id") ?? leaderAddress ?? "";
  const redirect = leaderAddress === undefined ? undefined : { id: leaderId, address: leaderAddress };
  return new RpcFailure(
    service.code,
    service.details ?? "",
    address,
    redirect,
    firstString(service.metadata, "x-agent-address"),
  );
}

export interface OrchClientOptions {
  readonly endpoints: readonly string[];
  /** Overall deadline of the command, as a performance.now() time. */
  readonly deadlineMs: number;
  /** Progress lines for people (stderr). */
  readonly log: (line: string) => void;
  /** Aborted on Ctrl-C. */
  readonly signal?: AbortSignal;
}

/** How a stream attempt ended without throwing. */
type StreamOutcome = { kind: "ended" } | { kind: "aborted" } | { kind: "broken"; failure: RpcFailure };

export class OrchClient {
  /** Random per orchctl invocation: the server's dedup key together with `seq`. */
  readonly clientId = randomUUID();
  private seqLast = 0;
  private readonly targets: ClientTargets;
  private readonly stubs = new Map<string, OrchestratorServiceClient>();

  constructor(private readonly options: OrchClientOptions) {
    this.targets = new ClientTargets(options.endpoints);
  }

  /** A fresh header for one mutating request; retries of that request reuse it. */
  nextHeader(): RequestHeader {
    this.seqLast += 1;
    return { clientId: this.clientId, seq: this.seqLast };
  }

  knownLeader(): KnownLeader | undefined {
    return this.targets.knownLeader();
  }

  /** A unary call under the retry rules above, within the command's deadline. */
  async call<K extends UnaryMethod>(method: K, request: RequestOf<K>): Promise<ResponseOf<K>> {
    const definition = definitionOf(method);
    return this.retrying(this.options.deadlineMs, (address, attemptTimeoutMs) =>
      this.unaryOnce(address, definition, request, attemptTimeoutMs),
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
        outcome = await this.retrying(performance.now() + reconnectBudgetMs, (address) =>
          this.streamOnce(address, definition, makeRequest(), onMessage),
        );
      } catch (error) {
        if (aborted()) return;
        throw error;
      }
      if (outcome.kind === "aborted") return;
      if (outcome.kind === "broken") {
        const { failure } = outcome;
        if (!isRetryableCode(failure.code)) throw failure;
        if (failure.code === grpc.status.UNAVAILABLE && failure.redirect !== undefined)
          this.targets.leaderIs(failure.redirect);
        else this.targets.failed(failure.address);
        this.options.log(
          `stream from ${failure.address} broke (${failure.shortDetails}), reconnecting to ${this.targets.current()}…`,
        );
      } else {
        await sleep(cliLimits.watchReopenDelayMs, undefined, { signal }).catch(() => undefined);
      }
    }
  }

  close(): void {
    for (const stub of this.stubs.values()) stub.close();
    this.stubs.clear();
  }

  private stubFor(address: string): OrchestratorServiceClient {
    let stub = this.stubs.get(address);
    if (stub === undefined) {
      stub = new OrchestratorServiceClient(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
      this.stubs.set(address, stub);
    }
    return stub;
  }

  private async retrying<T>(
    deadlineMs: number,
    attemptAt: (address: string, attemptTimeoutMs: number) => Promise<T>,
  ): Promise<T> {
    const startedMs = performance.now();
    const remainingMs = (): number => deadlineMs - performance.now();
    const tried = new Set<string>();
    try {
      return await pRetry(() => this.followingLeader(attemptAt, remainingMs, tried), {
        retries: cliLimits.retriesMax,
        minTimeout: cliLimits.retryDelayMsMin,
        factor: cliLimits.retryDelayFactor,
        maxTimeout: cliLimits.retryDelayMsMax,
        randomize: true,
        maxRetryTime: Math.max(0, remainingMs()),
        signal: this.options.signal,
        shouldConsumeRetry: () => this.targets.takeRoundEnd(),
        shouldRetry: ({ error }) => {
          if (!(error instanceof RpcFailure) || !error.retryable) return false;
          if (performance.now() - startedMs > cliLimits.retryQuietMs) this.options.log(this.progressLine(error));
          return true;
        },
      });
    } catch (error) {
      if (error instanceof RpcFailure && error.retryable && this.options.signal?.aborted !== true) {
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
    return `${who} ${what}, retrying on ${this.targets.current()}…`;
  }

  /** One attempt: the current target, plus the leader redirects it hands out. */
  private async followingLeader<T>(
    attemptAt: (address: string, attemptTimeoutMs: number) => Promise<T>,
    remainingMs: () => number,
    tried: Set<string>,
  ): Promise<T> {
    let address = this.targets.current();
    for (let hop = 0; ; hop += 1) {
      tried.add(address);
      try {
        const result = await attemptAt(address, Math.max(1, Math.min(remainingMs(), cliLimits.attemptTimeoutMsMax)));
        this.targets.succeeded();
        return result;
      } catch (error) {
        const failure = toFailure(error, address);
        const redirect = failure.redirect;
        const follow =
          failure.code === grpc.status.UNAVAILABLE &&
          redirect !== undefined &&
          redirect.address !== address &&
          hop < cliLimits.leaderRedirectsPerAttemptMax &&
          remainingMs() > 0;
        if (follow) {
          this.targets.leaderIs(redirect);
          address = redirect.address;
          continue;
        }
        if (failure.retryable) failure.leaderAtAddress = this.targets.failed(address);
        throw failure;
      }
    }
  }

  private unaryOnce<Req, Res>(
    address: string,
    definition: MethodDefinition<Req, Res>,
    request: Req,
    timeoutMs: number,
  ): Promise<Res> {
    const signal = this.options.signal;
    return new Promise<Res>((resolve, reject) => {
      const call = this.stubFor(address).makeUnaryRequest(
        definition.path,
        definition.requestSerialize,
        definition.responseDeserialize,
        request,
        new grpc.Metadata(),
        { deadline: Date.now() + timeoutMs },
        (error, response) => {
          signal?.removeEventListener("abort", cancel);
          if (error !== null) reject(toFailure(error, address));
          else if (response === undefined)
            reject(new RpcFailure(grpc.status.INTERNAL, "empty response", address, undefined));
          else resolve(response);
        },
      );
      const cancel = (): void => call.cancel();
      signal?.addEventListener("abort", cancel, { once: true });
    });
  }

  /**
   * One stream: resolves when it ends, breaks after delivering something (the caller reconnects
   * with a fresh budget), or Ctrl-C; rejects when it fails before delivering anything.
   */
  private streamOnce<Req, Res>(
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
      const call = this.stubFor(address).makeServerStreamRequest(
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
        this.targets.succeeded();
        onMessage(message);
      });
      call.on("end", () => settle(() => resolve({ kind: "ended" })));
      call.on("error", (error: unknown) => {
        if (signal?.aborted === true) return settle(() => resolve({ kind: "aborted" }));
        const failure = toFailure(error, address);
        if (delivered) settle(() => resolve({ kind: "broken", failure }));
        else settle(() => reject(failure));
      });
    });
  }
}
