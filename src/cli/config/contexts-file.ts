import { isAbsolute, resolve } from "node:path";
import { parse, stringify } from "yaml";
import { parseEndpoints } from "../args.js";
import { cliLimits } from "../limits.js";

/**
 * orchctl's contexts file, kubeconfig-like: named ways to reach a cluster (its endpoints, the
 * mutual-TLS files, a token or a token file) and which one is current. YAML, snake_case keys as
 * in deployment files, unknown keys refused (a typo must not silently mean "plaintext"):
 *
 *   current_context: local
 *   contexts:
 *     - name: local
 *       endpoints: [127.0.0.1:50051, 127.0.0.1:50052, 127.0.0.1:50053]
 *       tls: { ca: /data/pki/ca.pem, cert: /data/pki/admin.pem, key: /data/pki/admin-key.pem }
 *       token_file: /data/acl-token
 *
 * Relative paths are read against the file's own directory, as kubectl does.
 */
export interface ContextTls {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

export interface OrchContext {
  readonly name: string;
  readonly endpoints: readonly string[];
  readonly tls?: ContextTls;
  /** The secret itself; prefer tokenFile, which keeps it out of this file. */
  readonly token?: string;
  readonly tokenFile?: string;
}

export interface ContextsConfig {
  readonly currentContext?: string;
  readonly contexts: readonly OrchContext[];
}

export const emptyContextsConfig: ContextsConfig = { contexts: [] };

/** The file is not a contexts file we can use: the message names the file and the field. */
export class ContextsFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ContextsFileError";
  }
}

const contextNamePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

export function isContextName(name: string): boolean {
  return contextNamePattern.test(name);
}

type Fields = Record<string, unknown>;

function isFields(value: unknown): value is Fields {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function refuseUnknown(fields: Fields, known: readonly string[], where: string): void {
  for (const key of Object.keys(fields))
    if (!known.includes(key))
      throw new ContextsFileError(`${where}: unknown field "${key}" (known: ${known.join(", ")})`);
}

function stringField(fields: Fields, key: string, where: string): string | undefined {
  const value = fields[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string" || value === "")
    throw new ContextsFileError(`${where}: ${key} must be a non-empty string`);
  return value;
}

/** Parses the text of `file`; paths inside come back absolute. */
export function parseContextsFile(text: string, file: string): ContextsConfig {
  let document: unknown;
  try {
    document = parse(text);
  } catch (error) {
    throw new ContextsFileError(`${file}: not valid YAML: ${(error as Error).message}`);
  }
  if (document === null || document === undefined) return emptyContextsConfig;
  if (!isFields(document)) throw new ContextsFileError(`${file}: expected a mapping with current_context and contexts`);
  refuseUnknown(document, ["current_context", "contexts"], file);
  const currentContext = stringField(document, "current_context", file);
  const raw = document["contexts"] ?? [];
  if (!Array.isArray(raw)) throw new ContextsFileError(`${file}: contexts must be a list`);
  if (raw.length > cliLimits.contextsMax)
    throw new ContextsFileError(`${file}: at most ${cliLimits.contextsMax} contexts, found ${raw.length}`);
  const base = resolve(file, "..");
  const contexts = raw.map((entry: unknown, i) => parseContext(entry, `${file}: contexts[${i}]`, base));
  const names = new Set<string>();
  for (const context of contexts) {
    if (names.has(context.name)) throw new ContextsFileError(`${file}: context "${context.name}" appears twice`);
    names.add(context.name);
  }
  return { ...(currentContext !== undefined ? { currentContext } : {}), contexts };
}

function parseContext(entry: unknown, where: string, base: string): OrchContext {
  if (!isFields(entry)) throw new ContextsFileError(`${where}: expected a mapping`);
  refuseUnknown(entry, ["name", "endpoints", "tls", "token", "token_file"], where);
  const name = stringField(entry, "name", where);
  if (name === undefined || !isContextName(name))
    throw new ContextsFileError(`${where}: name must be letters, digits, ".", "_" or "-" (at most 63)`);
  const at = `${where} (${name})`;
  const rawEndpoints = entry["endpoints"];
  const list = typeof rawEndpoints === "string" ? rawEndpoints : Array.isArray(rawEndpoints) ? rawEndpoints : null;
  if (list === null || (Array.isArray(list) && !list.every((e) => typeof e === "string")))
    throw new ContextsFileError(`${at}: endpoints must be a list of host:port`);
  const endpoints = parseEndpoints(Array.isArray(list) ? list.join(",") : list);
  if (!endpoints.ok) throw new ContextsFileError(`${at}: ${endpoints.error}`);
  const token = stringField(entry, "token", at);
  const tokenFile = stringField(entry, "token_file", at);
  if (token !== undefined && tokenFile !== undefined)
    throw new ContextsFileError(`${at}: give token or token_file, not both`);
  const tls = parseTls(entry["tls"], at, base);
  return {
    name,
    endpoints: endpoints.value,
    ...(tls !== undefined ? { tls } : {}),
    ...(token !== undefined ? { token } : {}),
    ...(tokenFile !== undefined ? { tokenFile: absolute(tokenFile, base) } : {}),
  };
}

function parseTls(raw: unknown, where: string, base: string): ContextTls | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!isFields(raw)) throw new ContextsFileError(`${where}: tls must be a mapping with ca, cert and key`);
  refuseUnknown(raw, ["ca", "cert", "key"], `${where} tls`);
  const ca = stringField(raw, "ca", `${where} tls`);
  const cert = stringField(raw, "cert", `${where} tls`);
  const key = stringField(raw, "key", `${where} tls`);
  if (ca === undefined || cert === undefined || key === undefined)
    throw new ContextsFileError(`${where}: tls needs all of ca, cert and key`);
  return { ca: absolute(ca, base), cert: absolute(cert, base), key: absolute(key, base) };
}

function absolute(path: string, base: string): string {
  return isAbsolute(path) ? path : resolve(base, path);
}

const header =
  "# orchctl contexts: how to reach each cluster (orchctl config get-contexts | use-context NAME).\n" +
  "# Written by `npm run cluster`, `npm run demo` and `orchctl config`; keep it private (0600).\n";

export function renderContextsFile(config: ContextsConfig): string {
  const body = {
    ...(config.currentContext !== undefined ? { current_context: config.currentContext } : {}),
    contexts: config.contexts.map((c) => ({
      name: c.name,
      endpoints: [...c.endpoints],
      ...(c.tls !== undefined ? { tls: { ca: c.tls.ca, cert: c.tls.cert, key: c.tls.key } } : {}),
      ...(c.token !== undefined ? { token: c.token } : {}),
      ...(c.tokenFile !== undefined ? { token_file: c.tokenFile } : {}),
    })),
  };
  return header + stringify(body);
}

/** The config with `context` added, or replacing the one of the same name; made current when asked. */
export function withContext(config: ContextsConfig, context: OrchContext, makeCurrent: boolean): ContextsConfig {
  // In place when it exists, so the file keeps the order its owner gave it.
  const exists = config.contexts.some((c) => c.name === context.name);
  const contexts = exists
    ? config.contexts.map((c) => (c.name === context.name ? context : c))
    : [...config.contexts, context];
  const currentContext = makeCurrent ? context.name : config.currentContext;
  return { ...(currentContext !== undefined ? { currentContext } : {}), contexts };
}
