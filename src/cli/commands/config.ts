import { resolve } from "node:path";
import type { Command } from "commander";
import { parseEndpoints } from "../args.js";
import { contextNotFound, ENDPOINTS_ENV, TLS_ENV } from "../config/connection-settings.js";
import {
  ContextsFileError,
  isContextName,
  withContext,
  type ContextsConfig,
  type OrchContext,
} from "../config/contexts-file.js";
import { CONFIG_ENV, contextsFilePath, readContextsFile, updateContextsFile } from "../config/contexts-store.js";
import { CliError, UsageError } from "../errors.js";
import type { CliIo } from "../io.js";
import { Output, type OutputFormat } from "../output.js";
import { tlsFilesFromFlags } from "../../lib/tls-material.js";

const EXAMPLES = `
Examples:
  orchctl config get-contexts
  orchctl config use-context local
  orchctl config current-context
  orchctl --endpoints 10.0.0.1:50051,10.0.0.2:50051 --tls-ca pki/ca.pem --tls-cert pki/admin.pem \\
      --tls-key pki/admin-key.pem config set-context prod --token-file ~/.prod-token --use
  orchctl --context prod list          # one command against another context

The file is YAML at $${CONFIG_ENV}, else $XDG_CONFIG_HOME/orchestrator/config.yaml, else
~/.config/orchestrator/config.yaml; written 0600. \`npm run cluster\` and \`npm run demo\` write
the contexts "local" and "demo" and make theirs current.

Which settings apply: each comes from its flag, else its environment variable (${ENDPOINTS_ENV},
${TLS_ENV.ca}/${TLS_ENV.cert}/${TLS_ENV.key}, ORCH_TOKEN then ORCH_TOKEN_FILE), else the context, else the default. The
context is the one --context names, else the current one; but with --endpoints or ${ENDPOINTS_ENV}
and no --context, no context applies (its certificate and token are not sent to other endpoints).
`;

interface ConfigFlags {
  output?: OutputFormat;
}

/** `orchctl config ...`: the local contexts file only, no cluster involved. */
export function registerConfig(parent: Command, io: CliIo): void {
  const config = parent
    .command("config")
    .description("named contexts: which cluster orchctl talks to, and with which certificate and token")
    .addHelpText("after", EXAMPLES);
  const outputOf = (command: Command) =>
    new Output(command.optsWithGlobals<ConfigFlags>().output ?? "table", io.stdout, io.stderr);

  config
    .command("get-contexts")
    .description("list the contexts; * marks the current one")
    .action((_flags: unknown, command: Command) => {
      const { path, config: file } = load(io);
      const out = outputOf(command);
      if (out.isJson) {
        out.json({ file: path, currentContext: file.currentContext ?? null, contexts: file.contexts.map(contextView) });
        return;
      }
      const rows = file.contexts.map((c) => [
        c.name === file.currentContext ? "*" : "",
        c.name,
        c.endpoints.join(","),
        c.tls !== undefined ? "yes" : "no",
        c.tokenFile !== undefined ? "file" : c.token !== undefined ? "inline" : "none",
      ]);
      out.table(["CURRENT", "NAME", "ENDPOINTS", "TLS", "TOKEN"], rows, `no contexts in ${path}`);
    });

  config
    .command("use-context")
    .description("make NAME the current context")
    .argument("<name>", "a context of `orchctl config get-contexts`")
    .action((name: string, _flags: unknown, command: Command) => {
      const path = filePath(io);
      updateOrFail(path, (file) => {
        if (!file.contexts.some((c) => c.name === name)) throw contextNotFound(name, path, file.contexts);
        return { ...file, currentContext: name };
      });
      const out = outputOf(command);
      if (out.isJson) out.json({ currentContext: name });
      else out.text(`switched to context "${name}"`);
    });

  config
    .command("current-context")
    .description("print the current context's name")
    .action((_flags: unknown, command: Command) => {
      const { path, config: file } = load(io);
      if (file.currentContext === undefined)
        throw new CliError(
          "NOT_FOUND",
          `no current context in ${path}`,
          "run `orchctl config use-context NAME` (see `orchctl config get-contexts`)",
        );
      const out = outputOf(command);
      if (out.isJson) out.json({ currentContext: file.currentContext });
      else out.text(file.currentContext);
    });

  config
    .command("set-context")
    .description(`save --endpoints (or ${ENDPOINTS_ENV}) and the --tls-* files (or ${TLS_ENV.ca}/...) as context NAME`)
    .argument("<name>", "letters, digits, '.', '_' or '-'")
    .option("--token-file <file>", "a file holding the ACL token's secret (read at each command)")
    .option("--use", "also make it the current context")
    .action((name: string, flags: { tokenFile?: string; use?: boolean }, command: Command) => {
      const context = contextFromFlags(name, flags.tokenFile, command, io);
      const path = filePath(io);
      updateOrFail(path, (file) => withContext(file, context, flags.use === true));
      const out = outputOf(command);
      if (out.isJson) out.json(contextView(context));
      else out.text(`context "${name}" saved in ${path}${flags.use === true ? " (current)" : ""}`);
    });

  config
    .command("delete-context")
    .description("remove context NAME (the current context too, leaving none current)")
    .argument("<name>", "a context of `orchctl config get-contexts`")
    .action((name: string, _flags: unknown, command: Command) => {
      const path = filePath(io);
      updateOrFail(path, (file) => {
        if (!file.contexts.some((c) => c.name === name)) throw contextNotFound(name, path, file.contexts);
        const contexts = file.contexts.filter((c) => c.name !== name);
        return file.currentContext === name || file.currentContext === undefined
          ? { contexts }
          : { currentContext: file.currentContext, contexts };
      });
      const out = outputOf(command);
      if (out.isJson) out.json({ deleted: name });
      else out.text(`deleted context "${name}"`);
    });
}

/** What get-contexts shows of a context: never the token itself. */
function contextView(context: OrchContext): Record<string, unknown> {
  return {
    name: context.name,
    endpoints: context.endpoints,
    tls: context.tls ?? null,
    token: context.tokenFile !== undefined ? "file" : context.token !== undefined ? "inline" : "none",
    ...(context.tokenFile !== undefined ? { tokenFile: context.tokenFile } : {}),
  };
}

function filePath(io: CliIo): string {
  const path = contextsFilePath(io.env);
  if (path === null) throw new UsageError(`no place for the contexts file: set ${CONFIG_ENV}, XDG_CONFIG_HOME or HOME`);
  return path;
}

function load(io: CliIo): { path: string; config: ContextsConfig } {
  const path = filePath(io);
  try {
    return { path, config: readContextsFile(path) };
  } catch (error) {
    if (error instanceof ContextsFileError) throw new UsageError(error.message);
    throw error;
  }
}

function updateOrFail(path: string, change: (config: ContextsConfig) => ContextsConfig): void {
  try {
    updateContextsFile(path, change);
  } catch (error) {
    if (error instanceof ContextsFileError) throw new UsageError(error.message);
    throw error;
  }
}

function contextFromFlags(name: string, tokenFile: string | undefined, command: Command, io: CliIo): OrchContext {
  if (!isContextName(name))
    throw new UsageError(`context name "${name}" must be letters, digits, ".", "_" or "-" (at most 63)`);
  const raw = command.optsWithGlobals<{ endpoints?: string; tlsCa?: string; tlsCert?: string; tlsKey?: string }>();
  const endpointsText = raw.endpoints ?? io.env[ENDPOINTS_ENV];
  if (endpointsText === undefined)
    throw new UsageError(`set-context needs --endpoints (or ${ENDPOINTS_ENV}): the replicas of that cluster`);
  const endpoints = parseEndpoints(endpointsText);
  if (!endpoints.ok) throw new UsageError(endpoints.error);
  let tls;
  try {
    tls = tlsFilesFromFlags({
      tlsCa: raw.tlsCa ?? io.env[TLS_ENV.ca],
      tlsCert: raw.tlsCert ?? io.env[TLS_ENV.cert],
      tlsKey: raw.tlsKey ?? io.env[TLS_ENV.key],
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  // Absolute, so the context works from any directory.
  return {
    name,
    endpoints: endpoints.value,
    ...(tls !== null ? { tls: { ca: resolve(tls.ca), cert: resolve(tls.cert), key: resolve(tls.key) } } : {}),
    ...(tokenFile !== undefined ? { tokenFile: resolve(tokenFile) } : {}),
  };
}
