import { readFileSync, statSync } from "node:fs";
import { tlsFilesFromFlags, type TlsFiles } from "../../lib/tls-material.js";
import { parseEndpoints } from "../args.js";
import { CliError, UsageError } from "../errors.js";
import type { CliIo } from "../io.js";
import { cliLimits } from "../limits.js";
import { ContextsFileError, type OrchContext } from "./contexts-file.js";
import { CONFIG_ENV, contextsFilePath, readContextsFile } from "./contexts-store.js";

export const DEFAULT_ENDPOINTS = "127.0.0.1:50051";
export const ENDPOINTS_ENV = "ORCH_ENDPOINTS";
/** Environment fallbacks of --tls-ca, --tls-cert and --tls-key. */
export const TLS_ENV = { ca: "ORCH_CA", cert: "ORCH_CERT", key: "ORCH_KEY" } as const;
export const TOKEN_ENV = "ORCH_TOKEN";
/** A file holding the token's secret (e.g. one a bootstrap step wrote); ORCH_TOKEN comes first. */
export const TOKEN_FILE_ENV = "ORCH_TOKEN_FILE";

/** orchctl's global flags that say where and how to connect. */
export interface ConnectionFlags {
  readonly endpoints?: string | undefined;
  readonly context?: string | undefined;
  readonly tlsCa?: string | undefined;
  readonly tlsCert?: string | undefined;
  readonly tlsKey?: string | undefined;
  readonly token?: string | undefined;
}

export interface ConnectionSettings {
  readonly endpoints: readonly string[];
  /** Mutual TLS files; plaintext when absent. */
  readonly tls?: TlsFiles;
  /** Whether the TLS files came from the context (for messages when they cannot be read). */
  readonly tlsFromContext?: boolean;
  /** The ACL token's secret, sent as `authorization: Bearer <secret>`. */
  readonly token?: string;
  /** The context that supplied some of the settings, if one did. */
  readonly context?: string;
}

/**
 * Where and how orchctl connects. First the context: the one --context names, else the current
 * one unless --endpoints or ORCH_ENDPOINTS is set (those name another cluster, and the current
 * context's certificate and token must not be sent there). Then each setting from its flag, else
 * its environment variable, else that context, else the default (127.0.0.1:50051, plaintext, no
 * token). The three TLS files count as one setting: a context's files are used only when no
 * --tls-* flag and no ORCH_CA/ORCH_CERT/ORCH_KEY is given. The token: --token, else ORCH_TOKEN,
 * else the file ORCH_TOKEN_FILE names, else the context's. An empty ORCH_TOKEN or ORCH_TOKEN_FILE
 * means no token (so one can be switched off for a single command).
 */
export function resolveConnection(flags: ConnectionFlags, env: CliIo["env"]): ConnectionSettings {
  const explicitEndpoints = flags.endpoints ?? env[ENDPOINTS_ENV];
  const context =
    flags.context !== undefined
      ? namedContext(flags.context, env)
      : explicitEndpoints === undefined
        ? currentContext(env)
        : undefined;
  const endpointsText = explicitEndpoints ?? context?.endpoints.join(",") ?? DEFAULT_ENDPOINTS;
  const endpoints = parseEndpoints(endpointsText);
  if (!endpoints.ok) throw new UsageError(endpoints.error);
  const given = tlsOf(flags, env);
  const tls = given ?? context?.tls;
  const token =
    flags.token ?? env[TOKEN_ENV] ?? tokenFromEnvFile(env) ?? (context !== undefined ? tokenOf(context) : undefined);
  return {
    endpoints: endpoints.value,
    ...(tls !== undefined ? { tls, tlsFromContext: given === undefined } : {}),
    ...(token !== undefined && token !== "" ? { token } : {}),
    ...(context !== undefined ? { context: context.name } : {}),
  };
}

function tlsOf(flags: ConnectionFlags, env: CliIo["env"]): TlsFiles | undefined {
  try {
    const files = tlsFilesFromFlags({
      tlsCa: flags.tlsCa ?? env[TLS_ENV.ca],
      tlsCert: flags.tlsCert ?? env[TLS_ENV.cert],
      tlsKey: flags.tlsKey ?? env[TLS_ENV.key],
    });
    return files ?? undefined;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function readConfig(env: CliIo["env"]): { path: string; contexts: readonly OrchContext[]; current?: string } | null {
  const path = contextsFilePath(env);
  if (path === null) return null;
  try {
    const config = readContextsFile(path);
    return {
      path,
      contexts: config.contexts,
      ...(config.currentContext !== undefined ? { current: config.currentContext } : {}),
    };
  } catch (error) {
    if (error instanceof ContextsFileError) throw new UsageError(error.message);
    throw error;
  }
}

function currentContext(env: CliIo["env"]): OrchContext | undefined {
  const config = readConfig(env);
  if (config?.current === undefined) return undefined;
  const context = config.contexts.find((c) => c.name === config.current);
  if (context === undefined)
    throw new UsageError(
      `${config.path}: the current context "${config.current}" is not in the file; choose one with "orchctl config use-context NAME"`,
    );
  return context;
}

/** The context `name` of the contexts file; NOT_FOUND (listing the known ones) when it has none. */
export function namedContext(name: string, env: CliIo["env"]): OrchContext {
  const config = readConfig(env);
  const context = config?.contexts.find((c) => c.name === name);
  if (context !== undefined) return context;
  throw contextNotFound(name, config?.path ?? null, config?.contexts ?? []);
}

export function contextNotFound(name: string, path: string | null, contexts: readonly OrchContext[]): CliError {
  const known = contexts.map((c) => c.name);
  const where = path ?? `no contexts file (set ${CONFIG_ENV} or HOME)`;
  return new CliError(
    "NOT_FOUND",
    `no context named "${name}" in ${where}${known.length > 0 ? ` (known: ${known.join(", ")})` : ""}`,
    "run `orchctl config get-contexts` to list them",
  );
}

/** The context's token, read from its token file when it names one. */
function tokenOf(context: OrchContext): string | undefined {
  if (context.token !== undefined) return context.token;
  if (context.tokenFile === undefined) return undefined;
  return readTokenFile(context.tokenFile, `token_file ${context.tokenFile} of context "${context.name}"`);
}

/** The token in the file ORCH_TOKEN_FILE names; "" when it is set empty, undefined when unset. */
function tokenFromEnvFile(env: CliIo["env"]): string | undefined {
  const path = env[TOKEN_FILE_ENV];
  if (path === undefined || path === "") return path;
  return readTokenFile(path, `${TOKEN_FILE_ENV}=${path}`);
}

/** A token file's secret (surrounding whitespace dropped); a usage error naming `where` when unreadable. */
function readTokenFile(path: string, where: string): string {
  try {
    if (statSync(path).size > cliLimits.tokenFileBytesMax)
      throw new UsageError(`${where}: larger than ${cliLimits.tokenFileBytesMax} bytes; is it a token file?`);
    return readFileSync(path, "utf8").trim();
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`${where}: ${(error as Error).message}`);
  }
}
