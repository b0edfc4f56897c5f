import type { ChannelCredentials } from "@grpc/grpc-js";
import { tlsCredentialsOf } from "./tls-flags.js";
import type { TlsFiles } from "../lib/tls-material.js";
import type { Command } from "commander";
import { parseEndpoints } from "./args.js";
import { tokenFromInput } from "../lib/bearer-token.js";
import { OrchClient } from "./client.js";
import { UsageError } from "./errors.js";
import type { CliIo } from "./io.js";
import { cliLimits } from "./limits.js";
import { Output, type OutputFormat } from "./output.js";

export const DEFAULT_ENDPOINTS = "127.0.0.1:50051";
export const ENDPOINTS_ENV = "ORCH_ENDPOINTS";
export const TOKEN_ENV = "ORCH_TOKEN";

export interface GlobalOptions {
  readonly endpoints: readonly string[];
  readonly output: OutputFormat;
  readonly timeoutSeconds: number;
  /** Mutual TLS toward the replicas; plaintext when absent. */
  readonly tls?: { readonly files: TlsFiles; readonly credentials: ChannelCredentials };
  /** The access token (--token, else ORCH_TOKEN); none when absent. */
  readonly token?: string;
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

/** Reads the global options of `command` (they may stand before or after the subcommand). */
export function globalOptionsOf(command: Command, env: CliIo["env"]): GlobalOptions {
  const raw = command.optsWithGlobals<{
    endpoints?: string;
    output?: OutputFormat;
    timeout?: number;
    tlsCa?: string;
    tlsCert?: string;
    tlsKey?: string;
    token?: string;
  }>();
  const tls = tlsCredentialsOf(raw, env);
  const endpointsText = raw.endpoints ?? env[ENDPOINTS_ENV] ?? DEFAULT_ENDPOINTS;
  const endpoints = parseEndpoints(endpointsText);
  if (!endpoints.ok) throw new UsageError(endpoints.error);
  const token = tokenFromInput(raw.token ?? env[TOKEN_ENV]);
  return {
    ...(token !== undefined ? { token } : {}),
    endpoints: endpoints.value,
    output: raw.output ?? "table",
    timeoutSeconds: raw.timeout ?? cliLimits.commandTimeoutSecondsDefault,
    ...(tls !== undefined ? { tls } : {}),
  };
}
