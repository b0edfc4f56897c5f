import { assert } from "../lib/assert.js";

/**
 * Every bound orchctl places on its own retries, waits and outputs. Units go last in names.
 */
export const cliLimits = {
  /** Overall deadline of one command when --timeout is not given. */
  commandTimeoutSecondsDefault: 15,
  /** Largest --timeout accepted (a day), so a typo cannot make a command hang for years. */
  commandTimeoutSecondsMax: 86_400,
  /** One RPC attempt never waits longer than this, so a black-holed replica cannot eat the whole deadline. */
  attemptTimeoutMsMax: 4_000,
  /** Attempts with backoff before the client gives up, even if the deadline is not reached. */
  retriesMax: 40,
  /** Backoff between rounds over the endpoints: first delay, growth factor and cap. */
  retryDelayMsMin: 100,
  retryDelayFactor: 2,
  retryDelayMsMax: 1_000,
  /** "Not the leader, ask X" hops followed within one attempt (guards against redirect loops). */
  leaderRedirectsPerAttemptMax: 3,
  /** Retry progress goes to stderr only once a call has been retrying for this long. */
  retryQuietMs: 1_000,
  /** deploy --wait polls GetDeployment this often. */
  waitPollIntervalMs: 500,
  /** deploy --wait stops polling when less than this is left after a pause, so its last poll still fits the deadline. */
  waitPollReserveMs: 300,
  /** watch: delay before reopening a stream the server ended cleanly. */
  watchReopenDelayMs: 200,
  /** get: events shown in the table (the server already bounds recent_events). */
  eventsShownMax: 20,
  /** Endpoints accepted in --endpoints. */
  endpointsMax: 16,
  /** Replicas accepted on the command line (the proto field is uint32; the server has its own limit). */
  replicasMax: 1_000_000,
  /** The contexts file (orchctl config); bigger is refused before it is read (a context is a few lines). */
  contextsFileBytesMax: 1024 * 1024,
  /** Contexts in that file. */
  contextsMax: 1_000,
  /** A token file named by a context (a secret is tens of bytes). */
  tokenFileBytesMax: 64 * 1024,
} as const;

assert(cliLimits.retryDelayMsMin <= cliLimits.retryDelayMsMax, "retry delay bounds are inverted");
assert(
  cliLimits.retryQuietMs < cliLimits.commandTimeoutSecondsDefault * 1000,
  "retry progress must be able to show before the default deadline",
);
assert(
  cliLimits.waitPollIntervalMs + cliLimits.waitPollReserveMs < cliLimits.commandTimeoutSecondsDefault * 1000,
  "--wait must poll at least twice before the default deadline",
);
assert(cliLimits.leaderRedirectsPerAttemptMax >= 1, "the client must follow at least one leader redirect");
