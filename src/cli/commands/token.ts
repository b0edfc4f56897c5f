import { Option, type Command } from "commander";
import { TokenCreateRequest, TokenListRequest, TokenRevokeRequest } from "../../gen/orchestrator/v1/orchestrator.js";
import { tokenRoles } from "../../fsm/index.js";
import { DURATION_FORMS, parseDuration } from "../../lib/duration.js";
import { UsageError } from "../errors.js";
import type { SessionFor } from "../session.js";
import { printSecret, tokenView } from "./token-output.js";

const EXAMPLES = `
Examples:
  orchctl token create --name ci --role deployer --ttl 30d
  orchctl token create --name agent-eu --role agent --region eu-west-1
  orchctl token list
  orchctl token revoke ci

Roles (each allows what the one before it allows): viewer reads and watches; deployer also
deploys, scales, deletes, applies and drives rollouts; operator also injects faults, moves the
leadership and manages nodes and members; admin also manages tokens. An agent token (with
--region) lets a node-agent register and report that region's nodes only.
A token needs an admin token (ORCH_TOKEN or --token); its secret is printed once.
`;

const dayMs = 86_400_000;

/** --ttl: Go-style durations (10m, 12h) or whole days (30d); 0 is no expiry. */
export function parseTtl(text: string): number {
  const days = /^(\d+)d$/.exec(text.trim());
  if (days !== null) return Number(days[1]) * dayMs;
  const parsed = parseDuration(text);
  if (!parsed.ok) throw new UsageError(`--ttl: ${parsed.error} (or whole days like 30d)`);
  return parsed.value;
}

export function registerToken(parent: Command, sessionFor: SessionFor): void {
  const token = parent
    .command("token")
    .description("access tokens of a cluster run with --acl: create, list, revoke")
    .addHelpText("after", EXAMPLES);
  token
    .command("create")
    .description("create a token and print its secret (shown once)")
    .requiredOption("--name <name>", "the token's name, unique in the cluster (lowercase letters, digits, '-')")
    .addOption(new Option("--role <role>", "what it may do").choices(tokenRoles).makeOptionMandatory())
    .option("--ttl <duration>", `how long it works: ${DURATION_FORMS}, or days like 30d (default: no expiry)`)
    .option("--region <region>", "agent tokens: the region whose nodes the agent may register")
    .addHelpText("after", EXAMPLES)
    .action(async (flags: { name: string; role: string; ttl?: string; region?: string }, command: Command) => {
      const session = sessionFor(command);
      const ttlMs = flags.ttl === undefined ? 0 : parseTtl(flags.ttl);
      const client = session.client;
      const response = await client.call(
        "tokenCreate",
        TokenCreateRequest.fromPartial({
          header: client.nextHeader(),
          name: flags.name,
          role: flags.role,
          ttlMs,
          region: flags.region ?? "",
        }),
      );
      printSecret(session, response.token, response.secret, response.revision);
    });
  token
    .command("list")
    .description("list the tokens: name, role, creation, expiry (never a secret)")
    .option("--stale", "answer from the contacted replica's local state (faster, may lag)")
    .action(async (flags: { stale?: boolean }, command: Command) => {
      const session = sessionFor(command);
      const response = await session.client.call("tokenList", TokenListRequest.fromPartial({ stale: flags.stale }));
      const nowMs = Date.now();
      const views = response.tokens.map((t) => tokenView(t, nowMs));
      if (session.out.isJson) {
        session.out.json({ tokens: views, revision: response.revision });
        return;
      }
      session.out.table(
        ["NAME", "ROLE", "REGION", "CREATED", "EXPIRES", "CREATED BY"],
        views.map((v) => [
          v.name,
          v.role,
          v.region ?? "-",
          v.createdAt,
          v.expiresAt === null ? "never" : `${v.expiresAt}${v.expired ? " (expired)" : ""}`,
          v.createdBy === "" ? "-" : v.createdBy,
        ]),
        "No tokens.",
      );
    });
  token
    .command("revoke")
    .description("revoke a token: it stops working on every replica")
    .argument("<name>", "the token's name")
    .action(async (name: string, _flags: unknown, command: Command) => {
      const session = sessionFor(command);
      const client = session.client;
      const response = await client.call(
        "tokenRevoke",
        TokenRevokeRequest.fromPartial({ header: client.nextHeader(), name }),
      );
      if (session.out.isJson) session.out.json({ revoked: name, revision: response.revision });
      else session.out.text(`token ${name} revoked (revision ${response.revision})`);
    });
}
