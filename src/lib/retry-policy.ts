import type * as grpc from "@grpc/grpc-js";
import { assert } from "./assert.js";
import type { BackoffPolicy } from "./backoff.js";

/**
 * How a LeaderFollowingClient retries: each caller (orchctl, the node agent, the demos, the
 * benchmarks) states its own table. A "round" is one failed attempt at every endpoint; attempts
 * within a round follow at once (a dead first endpoint costs nothing), rounds are backed off.
 */
export interface RetryPolicy {
  /** Status codes worth another attempt at another replica; any other code comes back at once. */
  readonly retryableCodes: ReadonlySet<grpc.status>;
  /** Backed-off rounds before the client gives up; Infinity retries until the deadline or the abort. */
  readonly roundsMax: number;
  /** The pause between rounds. */
  readonly backoff: BackoffPolicy;
  /** No attempt starts after this long (ms from the start of the call); Infinity: no deadline. */
  readonly deadlineMs: number;
  /** One attempt waits at most this long, so a black-holed replica cannot eat the whole deadline. */
  readonly attemptTimeoutMsMax: number;
  /** "Not the leader, ask X" hops followed within one attempt (guards against redirect loops). */
  readonly leaderRedirectsPerAttemptMax: number;
  /**
   * Whoever answers is the leader: true for AgentService, whose followers always redirect; false
   * for the orchestrator API, whose followers serve stale reads themselves.
   */
  readonly answererIsLeader: boolean;
}

/** Checks a table's relations once, when the client is made. */
export function assertRetryPolicy(policy: RetryPolicy): void {
  assert(policy.retryableCodes.size > 0, "a retry policy retries on some status");
  assert(policy.roundsMax >= 0, "rounds are counted from zero");
  assert(policy.deadlineMs > 0, "a deadline lies in the future");
  assert(policy.attemptTimeoutMsMax > 0, "an attempt needs time");
  assert(policy.leaderRedirectsPerAttemptMax >= 1, "the client follows at least one leader redirect");
}
