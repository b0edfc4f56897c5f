import { Command, CommanderError, Option } from "commander";
import { timeoutSecondsArg } from "./args.js";
import { ClusterUnreachableError, RpcFailure } from "./client.js";
import { registerApply } from "./commands/apply.js";
import { registerCluster } from "./commands/cluster.js";
import { registerContainers } from "./commands/containers.js";
import { registerDelete } from "./commands/delete.js";
import { registerDeploy } from "./commands/deploy.js";
import { registerFault } from "./commands/fault.js";
import { registerGet } from "./commands/get.js";
import { registerLeader } from "./commands/leader.js";
import { registerList } from "./commands/list.js";
import { registerNodes } from "./commands/nodes.js";
import { registerNode } from "./commands/node.js";
import { registerPlan } from "./commands/plan.js";
import { registerRollout } from "./commands/rollout.js";
import { registerPki } from "./commands/pki.js";
import { registerConfig } from "./commands/config.js";
import { TLS_ENV } from "./tls-flags.js";
import { registerScale } from "./commands/scale.js";
import { registerSlo } from "./commands/slo.js";
import { registerWatch } from "./commands/watch.js";
import { registerEndpoints } from "./commands/endpoints.js";
import { registerLogs } from "./commands/logs.js";
import { registerAcl } from "./commands/acl.js";
import { registerToken } from "./commands/token.js";
import { registerMember } from "./commands/member.js";
import { registerSnapshot } from "./commands/snapshot.js";
import { CliError, UsageError, hintForStatus } from "./errors.js";
import type { CliIo } from "./io.js";
import { isLegacyForm, translateLegacyArgs } from "./legacy-flags.js";
import { cliLimits } from "./limits.js";
import { OUTPUT_FORMATS } from "./output.js";
import { DEFAULT_ENDPOINTS, ENDPOINTS_ENV, Session, TOKEN_ENV, TOKEN_FILE_ENV, globalOptionsOf } from "./session.js";

/**
 * orchctl without the process around it: parses `argv` (the arguments after the program name),
 * runs one command against the cluster, writes to `io` and returns the exit status:
 * 0 success, 1 failure (the cluster said no, or could not be reached), 2 usage error.
 *
 * Errors print as `error: <message>` (and `hint: <what to try>`) on stderr. With --output json,
 * stdout additionally carries exactly one JSON document for the error, so stdout stays
 * JSON-only: {"error": {"code": "NOT_FOUND", "message": "...", "hint": "...", "details": {...}}}.
 * `code` is the gRPC status name for the cluster's answers, "USAGE" for usage errors (exit 2),
 * "UNAVAILABLE" or "DEADLINE_EXCEEDED" when no replica could serve the request in time.
 */
export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  let args = [...argv];
  if (isLegacyForm(args)) {
    const translated = translateLegacyArgs(args);
    if (!translated.ok) return report(new UsageError(translated.error), io, wantsJson(args));
    args = translated.value;
  }
  const json = wantsJson(args);
  let session: Session | undefined;
  const program = buildProgram(io, (command) => (session ??= new Session(io, globalOptionsOf(command, io.env))));
  try {
    await program.parseAsync(args, { from: "user" });
    return 0;
  } catch (error) {
    return report(error, io, session?.out.isJson ?? json);
  } finally {
    session?.close();
  }
}

const EXAMPLES = `
Examples:
  orchctl deploy web --image nginx:latest --replicas 3 --cpu 500m --memory 256Mi --wait
  orchctl list
  orchctl get web
  orchctl scale web 5
  orchctl containers --deployment web
  orchctl nodes
  orchctl node drain eu-west-1-node-2 --deadline 5m --monitor --timeout 600
  orchctl cluster
  orchctl watch --deployment web
  orchctl leader transfer --to r2
  orchctl slo
  orchctl rollout status web
  orchctl rollout undo web
  orchctl plan -f web.yaml
  orchctl apply -f web.yaml --check-index 42
  orchctl fault container web-0 crash
  orchctl delete web
  orchctl snapshot save backup.snap && orchctl snapshot inspect backup.snap
  ORCH_ENDPOINTS=127.0.0.1:50051,127.0.0.1:50052,127.0.0.1:50053 orchctl list --output json
  orchctl config get-contexts       # npm run cluster / npm run demo write and select theirs

The seed's flag form works too:
  orchctl -server=localhost:50051 -action=deploy -name=demo-app -image=nginx:latest -replicas=2 -cpu=2 -memory=1024

Exit status: 0 success, 1 failure (refused by the cluster, or unreachable), 2 usage error.
`;

function buildProgram(io: CliIo, sessionFor: (command: Command) => Session): Command {
  const program = new Command("orchctl")
    .description(
      "Command-line client of the MicroOrchestrator control plane. Any replica will do: followers point at the leader and orchctl follows.",
    )
    .option(
      "--endpoints <host:port,...>",
      `control-plane replicas to try, in order (env ${ENDPOINTS_ENV}; else the current context's; default ${DEFAULT_ENDPOINTS})`,
    )
    .option("--context <name>", "connect as context NAME says (see orchctl config get-contexts)")
    .addOption(new Option("-o, --output <format>", "output format").choices(OUTPUT_FORMATS).default("table"))
    .addOption(
      new Option("--timeout <seconds>", "overall deadline of the command, retries and --wait included")
        .argParser(timeoutSecondsArg)
        .default(cliLimits.commandTimeoutSecondsDefault),
    )
    .option("--tls-ca <file>", `CA of the replicas' certificates (env ${TLS_ENV.ca})`)
    .option("--tls-cert <file>", `client certificate (env ${TLS_ENV.cert}; see orchctl pki)`)
    .option("--tls-key <file>", `key of --tls-cert (env ${TLS_ENV.key})`)
    .option(
      "--token <secret>",
      `access token of a cluster run with --acl (env ${TOKEN_ENV}, or a file named by ${TOKEN_FILE_ENV}; see orchctl token)`,
    )
    .exitOverride()
    .configureOutput({ writeOut: (text) => io.stdout.write(text), writeErr: (text) => io.stderr.write(text) })
    .showHelpAfterError("(run with --help for usage and examples)")
    .showSuggestionAfterError(true)
    .addHelpText("after", EXAMPLES);
  // Subcommands are added with .command() after the settings above, so they inherit them.
  registerDeploy(program, sessionFor);
  registerScale(program, sessionFor);
  registerDelete(program, sessionFor);
  registerGet(program, sessionFor);
  registerList(program, sessionFor);
  registerContainers(program, sessionFor);
  registerNodes(program, sessionFor);
  registerNode(program, sessionFor);
  registerCluster(program, sessionFor);
  registerWatch(program, sessionFor);
  registerLeader(program, sessionFor);
  registerSlo(program, sessionFor);
  registerFault(program, sessionFor);
  registerLogs(program, sessionFor);
  registerEndpoints(program, sessionFor);
  registerRollout(program, sessionFor);
  registerApply(program, sessionFor);
  registerPlan(program, sessionFor);
  registerMember(program, sessionFor);
  registerSnapshot(program, sessionFor);
  registerPki(program, io);
  registerAcl(program, sessionFor);
  registerToken(program, sessionFor);
  registerConfig(program, io);
  return program;
}

/** Whether --output json was asked for, read before commander (usage errors must honour it too). */
function wantsJson(args: readonly string[]): boolean {
  for (let i = 0; i < args.length; i += 1) {
    const arg = args[i];
    if ((arg === "--output" || arg === "-o") && args[i + 1] === "json") return true;
    if (arg === "--output=json" || arg === "-ojson" || arg === "-output=json") return true;
  }
  return false;
}

interface Failure {
  readonly exitCode: 1 | 2;
  readonly code: string;
  readonly message: string;
  readonly hint?: string;
  readonly details?: Readonly<Record<string, unknown>>;
  /** Commander has already printed its own message on stderr. */
  readonly printed?: boolean;
}

function classify(error: unknown, io: CliIo): Failure | "success" {
  if (error instanceof CommanderError) {
    if (error.exitCode === 0) return "success"; // --help
    return { exitCode: 2, code: "USAGE", message: error.message.replace(/^error: /, ""), printed: true };
  }
  if (error instanceof UsageError)
    return { exitCode: 2, code: "USAGE", message: error.message, hint: "run with --help for usage and examples" };
  if (error instanceof CliError)
    return { exitCode: 1, code: error.code, message: error.message, hint: error.hint, details: error.details };
  if (io.signal?.aborted === true) return { exitCode: 1, code: "CANCELLED", message: "interrupted" };
  if (error instanceof RpcFailure)
    return {
      exitCode: 1,
      code: error.statusName,
      message: error.details || error.statusName,
      hint: hintForStatus(error.statusName),
    };
  if (error instanceof ClusterUnreachableError) {
    const code = error.last.statusName;
    const hint = `${hintForStatus(code) ?? ""} (tried ${error.tried.join(", ")})`.trim();
    return {
      exitCode: 1,
      code,
      message: error.message,
      hint,
      details: { tried: error.tried, lastAddress: error.last.address },
    };
  }
  // Anything else is a bug in orchctl: say so, with the stack, rather than pretend it was expected.
  const stack = error instanceof Error ? (error.stack ?? error.message) : String(error);
  return { exitCode: 1, code: "INTERNAL", message: `internal error in orchctl: ${stack}` };
}

function report(error: unknown, io: CliIo, json: boolean): number {
  const failure = classify(error, io);
  if (failure === "success") return 0;
  if (failure.printed !== true) io.stderr.write(`error: ${failure.message}\n`);
  if (failure.hint !== undefined && failure.hint !== "") io.stderr.write(`hint: ${failure.hint}\n`);
  if (json) {
    const body: Record<string, unknown> = { code: failure.code, message: failure.message };
    if (failure.hint !== undefined && failure.hint !== "") body.hint = failure.hint;
    if (failure.details !== undefined) body.details = failure.details;
    io.stdout.write(`${JSON.stringify({ error: body }, null, 2)}\n`);
  }
  return failure.exitCode;
}
