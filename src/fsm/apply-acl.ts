/**
 * Access tokens (docs/security.md, "Tokens and roles"). The leader generates a token's secret
 * and proposes only its hash, so the log, the snapshots and every replica's memory hold no
 * secret, yet every replica can check a token after a failover. Apply decides alone whether a
 * bootstrap is the first: of two racing bootstraps, the one later in the log is refused.
 */
import type { AclBootstrapCommand, TokenCreateCommand, TokenRevokeCommand } from "../gen/orchestrator/v1/fsm.js";
import type { ApplyResult } from "./apply-result.js";
import type { ClusterState } from "./cluster-state.js";
import { fsmLimits, isKnownRegion } from "./limits.js";
import { failure, success, type FsmFailure, type FsmResult } from "./result.js";
import type { TokenRecord } from "./state.js";
import { isTokenRole, tokenRoles, type TokenRole } from "./token-roles.js";

const tokenNamePattern = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const sha256HexPattern = /^[0-9a-f]{64}$/;

export function validateTokenName(name: string): FsmFailure | null {
  if (name.length === 0 || name.length > fsmLimits.tokenNameLengthMax || !tokenNamePattern.test(name))
    return failure(
      "INVALID_ARGUMENT",
      `invalid token name ${JSON.stringify(name)}: use lowercase letters, digits and '-', starting and ending with a letter or digit, at most ${fsmLimits.tokenNameLengthMax} characters`,
    );
  return null;
}

/**
 * Checks a token command's name, role and region together (only agent tokens name a region);
 * returns the role.
 */
export function validateTokenFields(command: Omit<TokenCreateCommand, "secretSha256">): FsmResult<TokenRole> {
  const nameProblem = validateTokenName(command.name);
  if (nameProblem !== null) return nameProblem;
  const role = command.role;
  if (!isTokenRole(role))
    return failure("INVALID_ARGUMENT", `unknown role ${JSON.stringify(role)}; use ${tokenRoles.join(", ")}`);
  if (role === "agent" && !isKnownRegion(command.region))
    return failure(
      "INVALID_ARGUMENT",
      `an agent token names the region its agent serves (--region); got ${JSON.stringify(command.region)}`,
    );
  if (role !== "agent" && command.region !== "")
    return failure("INVALID_ARGUMENT", `only agent tokens name a region; a ${role} token cannot`);
  return success(role);
}

function tokenOf(command: TokenCreateCommand, actor: string, atMs: number): TokenRecord | FsmFailure {
  const role = validateTokenFields(command);
  if (!role.ok) return role;
  if (!sha256HexPattern.test(command.secretSha256))
    return failure("INVALID_ARGUMENT", "a token's secret hash must be 64 lowercase hex digits (SHA-256)");
  if (!(Number.isSafeInteger(command.expiresAtMs) && (command.expiresAtMs === 0 || command.expiresAtMs > atMs)))
    return failure(
      "INVALID_ARGUMENT",
      `token ${command.name} would expire at ${command.expiresAtMs}, before it exists`,
    );
  return {
    name: command.name,
    role: role.value,
    secretSha256: command.secretSha256,
    createdAtMs: atMs,
    expiresAtMs: command.expiresAtMs,
    createdBy: actor,
    region: command.region,
  };
}

function addToken(state: ClusterState, token: TokenRecord): FsmFailure | null {
  if (state.tokens.get(token.name) !== undefined)
    return failure(
      "ALREADY_EXISTS",
      `token ${token.name} already exists; revoke it first (orchctl token revoke ${token.name}) or pick another name`,
    );
  // A repeated secret hash means a repeated secret: refuse rather than let one secret name two tokens.
  if (state.tokens.hasHash(token.secretSha256))
    return failure("ALREADY_EXISTS", "a token with this secret already exists; create it again for a new secret");
  if (state.tokens.size >= fsmLimits.tokensMax)
    return failure(
      "RESOURCE_EXHAUSTED",
      `the cluster holds ${fsmLimits.tokensMax} tokens, its maximum; revoke unused ones (orchctl token list)`,
    );
  state.tokens.add(token);
  return null;
}

export function applyAclBootstrap(
  state: ClusterState,
  command: AclBootstrapCommand,
  actor: string,
  atMs: number,
): ApplyResult {
  if (state.aclBootstrappedRevision !== 0)
    return failure(
      "FAILED_PRECONDITION",
      `the cluster's ACL was already bootstrapped (at revision ${state.aclBootstrappedRevision}); ask an admin for a token (orchctl token create)`,
    );
  if (command.token === undefined) return failure("INVALID_ARGUMENT", "an ACL bootstrap carries its first token");
  if (command.token.role !== "admin")
    return failure("INVALID_ARGUMENT", `the bootstrap token is an admin token, not ${command.token.role}`);
  const token = tokenOf(command.token, actor, atMs);
  if ("ok" in token) return token;
  const refused = addToken(state, token);
  if (refused !== null) return refused;
  state.aclBootstrappedRevision = state.revision;
  state.addEvent(atMs, "acl-bootstrapped", {}, `ACL bootstrapped: admin token ${token.name} created`);
  return success({ kind: "acl-bootstrap", name: token.name, secretSha256: token.secretSha256 });
}

export function applyTokenCreate(
  state: ClusterState,
  command: TokenCreateCommand,
  actor: string,
  atMs: number,
): ApplyResult {
  const token = tokenOf(command, actor, atMs);
  if ("ok" in token) return token;
  const refused = addToken(state, token);
  if (refused !== null) return refused;
  const region = token.region === "" ? "" : ` for region ${token.region}`;
  const expiry =
    token.expiresAtMs === 0 ? "" : `, expiring ${Math.ceil((token.expiresAtMs - atMs) / 1000)} s after its creation`;
  state.addEvent(atMs, "token-created", {}, `token ${token.name} created with role ${token.role}${region}${expiry}`);
  return success({ kind: "token-create", name: token.name, secretSha256: token.secretSha256 });
}

export function applyTokenRevoke(state: ClusterState, command: TokenRevokeCommand, atMs: number): ApplyResult {
  const nameProblem = validateTokenName(command.name);
  if (nameProblem !== null) return nameProblem;
  const removed = state.tokens.remove(command.name);
  if (removed === undefined)
    return failure("NOT_FOUND", `token ${command.name} not found; run \`orchctl token list\` to see what exists`);
  state.addEvent(atMs, "token-revoked", {}, `token ${removed.name} (role ${removed.role}) revoked`);
  return success({ kind: "token-revoke", name: removed.name });
}
