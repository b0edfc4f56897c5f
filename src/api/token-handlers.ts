/**
 * AclBootstrap and the Token RPCs (docs/security.md, "Tokens and roles"). The leader makes each
 * secret here, proposes only its hash, and returns the secret once; the FSM decides the rest
 * (a second bootstrap, a taken name, an unknown token) and words the refusal.
 */
import type { ClusterFsm, TokenRecord } from "../fsm/index.js";
import { validateTokenFields, validateTokenName } from "../fsm/index.js";
import type {
  AclBootstrapRequest,
  AclBootstrapResponse,
  Token,
  TokenCreateRequest,
  TokenCreateResponse,
  TokenListRequest,
  TokenListResponse,
  TokenRevokeRequest,
  TokenRevokeResponse,
} from "../gen/orchestrator/v1/orchestrator.js";
import { OrchestratorError } from "../lib/errors.js";
import type { Caller } from "./access-control.js";
import { accessLimits } from "./access-limits.js";
import type { CommandProposer } from "./command-proposer.js";
import { newTokenSecret, secretSha256 } from "./token-secret.js";

/** The name of the bootstrap's admin token. */
export const bootstrapTokenName = "bootstrap";

export interface TokenHandlerDeps {
  readonly fsm: ClusterFsm;
  readonly proposer: CommandProposer;
  readBarrier(stale: boolean): Promise<void>;
  /** The leader's wall clock: a token's expiry is its creation plus its time to live. */
  readonly nowMs: () => number;
}

export function tokenToProto(token: Readonly<TokenRecord>): Token {
  return {
    name: token.name,
    role: token.role,
    region: token.region,
    createdAtMs: token.createdAtMs,
    expiresAtMs: token.expiresAtMs,
    createdBy: token.createdBy,
  };
}

/**
 * A retry of a request whose reply was lost is answered from the dedup table with the first
 * attempt's result, whose secret is gone with that reply: say so rather than hand out a secret
 * that opens nothing.
 */
function checkSecretKept(name: string, stored: string, made: string): void {
  if (stored !== made)
    throw new OrchestratorError(
      "FAILED_PRECONDITION",
      `token ${name} was created by an earlier attempt of this request whose reply (and secret) was lost; revoke it (orchctl token revoke ${name}) and create it again`,
    );
}

export function createTokenHandlers(deps: TokenHandlerDeps): {
  aclBootstrap(request: AclBootstrapRequest, caller: Caller): Promise<AclBootstrapResponse>;
  tokenCreate(request: TokenCreateRequest, caller: Caller): Promise<TokenCreateResponse>;
  tokenList(request: TokenListRequest): Promise<TokenListResponse>;
  tokenRevoke(request: TokenRevokeRequest, caller: Caller): Promise<TokenRevokeResponse>;
} {
  const { fsm, proposer } = deps;
  const created = (name: string): Token => {
    const token = fsm.getToken(name);
    // Revoked between its apply and this line: the secret opens nothing, and the caller should know.
    if (token === undefined) throw new OrchestratorError("ABORTED", `token ${name} was revoked as it was created`);
    return tokenToProto(token);
  };
  return {
    async aclBootstrap(request, caller) {
      const secret = newTokenSecret();
      const hash = secretSha256(secret);
      const token = { name: bootstrapTokenName, role: "admin", secretSha256: hash, expiresAtMs: 0, region: "" };
      const value = await proposer.propose(
        { header: request.header, caller },
        { kind: "acl-bootstrap", aclBootstrap: { token } },
        "acl-bootstrap",
      );
      checkSecretKept(value.name, value.secretSha256, hash);
      return { token: created(value.name), secret, revision: fsm.revision };
    },
    async tokenCreate(request, caller) {
      const fields = { name: request.name, role: request.role, expiresAtMs: 0, region: request.region };
      const checked = validateTokenFields(fields);
      if (!checked.ok) throw new OrchestratorError(checked.code, checked.message);
      const ttlMs = request.ttlMs;
      if (ttlMs !== 0 && !(ttlMs >= accessLimits.tokenTtlMsMin && ttlMs <= accessLimits.tokenTtlMsMax))
        throw new OrchestratorError(
          "INVALID_ARGUMENT",
          `a token's ttl is ${accessLimits.tokenTtlMsMin / 1000} s to ${accessLimits.tokenTtlMsMax / 86_400_000} days (or none); got ${ttlMs} ms`,
        );
      const secret = newTokenSecret();
      const hash = secretSha256(secret);
      const expiresAtMs = request.ttlMs === 0 ? 0 : deps.nowMs() + request.ttlMs;
      const value = await proposer.propose(
        { header: request.header, caller },
        { kind: "token-create", tokenCreate: { ...fields, secretSha256: hash, expiresAtMs } },
        "token-create",
      );
      checkSecretKept(value.name, value.secretSha256, hash);
      return { token: created(value.name), secret, revision: fsm.revision };
    },
    async tokenList(request) {
      await deps.readBarrier(request.stale);
      return { tokens: fsm.listTokens().map(tokenToProto), revision: fsm.revision };
    },
    async tokenRevoke(request, caller) {
      const problem = validateTokenName(request.name);
      if (problem !== null) throw new OrchestratorError(problem.code, problem.message);
      await proposer.propose(
        { header: request.header, caller },
        { kind: "token-revoke", tokenRevoke: { name: request.name } },
        "token-revoke",
      );
      return { revision: fsm.revision };
    },
  };
}
