/**
 * The expected ways a command fails. A UsageError (exit 2) is the operator's input; a CliError
 * (exit 1) is the cluster saying no, or not answering. Anything else thrown is a bug in orchctl.
 */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

export class CliError extends Error {
  constructor(
    /** A gRPC status name ("NOT_FOUND"), or "UNIMPLEMENTED" / "DEADLINE_EXCEEDED" for orchctl's own failures. */
    readonly code: string,
    message: string,
    /** What to try next, e.g. "run `orchctl list` to see deployments". */
    readonly hint?: string,
    /** Machine-readable context for --output json (e.g. the pending reason of a --wait that timed out). */
    readonly details?: Readonly<Record<string, unknown>>,
  ) {
    super(message);
    this.name = "CliError";
  }
}

/** What to suggest after a server's refusal, by status; undefined when the message says it all. */
export function hintForStatus(code: string): string | undefined {
  switch (code) {
    case "NOT_FOUND":
      return "run `orchctl list` to see deployments (or `orchctl nodes` for nodes)";
    case "ALREADY_EXISTS":
      return "use `orchctl scale` to change the replica count, or `orchctl delete` it first";
    case "RESOURCE_EXHAUSTED":
      return "run `orchctl nodes` to see free capacity";
    case "FAILED_PRECONDITION":
      return "run `orchctl cluster` and `orchctl get <name>` to see the current state";
    case "UNAUTHENTICATED":
      return "pass a token with --token or ORCH_TOKEN (an admin creates one: `orchctl token create`), or check --tls-cert";
    case "PERMISSION_DENIED":
      return "use a token or certificate whose role allows this (`orchctl token list` shows the roles)";
    case "UNAVAILABLE":
      return "check --endpoints (or ORCH_ENDPOINTS) and that a majority of replicas is up: `orchctl cluster`";
    case "DEADLINE_EXCEEDED":
      return "raise --timeout, or check the cluster with `orchctl cluster`";
    default:
      return undefined;
  }
}
