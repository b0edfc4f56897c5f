import type { ChannelCredentials } from "@grpc/grpc-js";
import { tlsCredentialsOf } from "./tls-flags.js";
import type { TlsFiles } from "../lib/tls-material.js";
import type { Command } from "commander";
import { tokenFromInput } from "../lib/bearer-token.js";
import { resolveConnection } from "./config/connection-settings.js";
import { OrchClient } from "./client.js";
import { UsageError } from "./errors.js";
import type { CliIo } from "./io.js";
import { cliLimits } from "./limits.js";
import { Output, type OutputFormat } from "./output.js";

export { DEFAULT_ENDPOINTS, ENDPOINTS_ENV, TOKEN_ENV, TOKEN_FILE_ENV } from "./config/connection-settings.js";

export interface GlobalOptions {
  readonly endpoints: readonly string[];
  readonly output: OutputFormat;
  readonly timeoutSeconds: number;
  /** Mutual TLS toward the replicas; plaintext when absent. */
  readonly tls?: { readonly files: TlsFiles; readonly credentials: ChannelCredentials };
  /** The ACL token's secret (--token, ORCH_TOKEN, ORCH_TOKEN_FILE or the context's). */
  readonly token?: string;
  /** The context (orchctl config) that supplied some of these, if one did. */
  readonly context?: string;
}

/**
 * What one orchctl invocation shares between its command and the error reporter: the global
 * options, the output renderer, the deadline, and the client (made on first use, closed by run()).
 */
export class Session {
  readonly out: Output;
  /** The command's overall deadline, as a performance.now() time. */
  readonly deadlineMs: number;
  private clientInstance: OrchClient | undefined;

  constructor(
    readonly io: CliIo,
    readonly options: GlobalOptions,
  ) {
    this.out = new Output(options.output, io.stdout, io.stderr);
    this.deadlineMs = performance.now() + options.timeoutSeconds * 1000;
  }

  get client(): OrchClient {
    this.clientInstance ??= new OrchClient({
      endpoints: this.options.endpoints,
      deadlineMs: this.deadlineMs,
      log: (line) => this.io.stderr.write(`${line}\n`),
      signal: this.io.signal,
      ...(this.options.tls !== undefined ? { credentials: this.options.tls.credentials } : {}),
      ...(this.options.token !== undefined ? { token: this.options.token } : {}),
    });
    return this.clientInstance;
  }

  remainingMs(): number {
    return this.deadlineMs - performance.now();
  }

  close(): void {
    this.clientInstance?.close();
  }
}

export type SessionFor = (command: Command) => Session;

/**
 * Reads the global options of `command` (they may stand before or after the subcommand); where
 * and how to connect comes from flags, then the environment, then a context (resolveConnection).
 */
export function globalOptionsOf(command: Command, env: CliIo["env"]): GlobalOptions {
  const raw = command.optsWithGlobals<{
    endpoints?: string;
    context?: string;
    output?: OutputFormat;
    timeout?: number;
    tlsCa?: string;
    tlsCert?: string;
    tlsKey?: string;
    token?: string;
  }>();
  const connection = resolveConnection(raw, env);
  let tls: ReturnType<typeof tlsCredentialsOf> | undefined;
  try {
    tls = connection.tls !== undefined ? tlsCredentialsOf(connection.tls) : undefined;
  } catch (error) {
    // A context's files go missing when its cluster's data is wiped: say which context.
    if (connection.tlsFromContext !== true || !(error instanceof UsageError)) throw error;
    throw new UsageError(
      `context "${connection.context ?? ""}": ${error.message} (orchctl config get-contexts; npm run cluster rewrites "local")`,
    );
  }
  const token = tokenFromInput(connection.token);
  return {
    endpoints: connection.endpoints,
    output: raw.output ?? "table",
    timeoutSeconds: raw.timeout ?? cliLimits.commandTimeoutSecondsDefault,
    ...(tls !== undefined ? { tls } : {}),
    ...(token !== undefined ? { token } : {}),
    ...(connection.context !== undefined ? { context: connection.context } : {}),
  };
}
