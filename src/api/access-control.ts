/**
 * Who calls, and may they (docs/security.md, "Tokens and roles"). One server interceptor sees
 * every call of every service before its handler: it reads the caller's credentials (a bearer
 * token in the `authorization` metadata, the client certificate of mutual TLS), and with --acl
 * checks them against the method's rule (access-rules.ts) in this replica's own state. The
 * caller it settled on travels to the handler with the call's metadata (callerOf), so the API
 * layer names the same actor in the commands it proposes (audit).
 *
 * Without --acl nothing is refused here; with mutual TLS the certificate's role keeps deciding
 * (certificate-roles.ts).
 */
import {
  ResponderBuilder,
  ServerInterceptingCall,
  ServerListenerBuilder,
  status,
  type Metadata,
  type ServerInterceptor,
} from "@grpc/grpc-js";
import type {
  HeartbeatRequest,
  RegisterRequest,
  ReportStatusRequest,
  WatchAssignmentsRequest,
} from "../gen/agent/v1/agent.js";
import { fsmLimits, roleAllows, type NodeRecord, type TokenRecord } from "../fsm/index.js";
import { authorizationMetadataKey, bearerPrefix } from "../lib/bearer-token.js";
import { OrchestratorError } from "../lib/errors.js";
import { identityFromSubjectAltName, type CertificateIdentity } from "../lib/tls-identity.js";
import { accessLimits } from "./access-limits.js";
import { accessRuleOf, splitMethodPath, type AccessNeed } from "./access-rules.js";
import { certificateRefusal, replicaCertificateMayCall } from "./certificate-roles.js";
import { statusByCode } from "./grpc-status.js";
import { secretSha256 } from "./token-secret.js";

/** Visible ASCII only: what a secret of ours is made of, and nothing that could break a log line. */
const secretPattern = /^[\x21-\x7e]+$/;

/** The caller of one call, as far as this replica could tell. */
export interface Caller {
  /** The audit name: a token name, "cert:<name>", or "" when neither (the API then uses the client id). */
  readonly actor: string;
  /** The token that authenticated the call, to check again later (revocation, expiry). */
  readonly token?: { readonly name: string; readonly secretSha256: string };
  /** An agent's credentials name the region whose nodes it may register and report. */
  readonly region?: string;
}

export const anonymousCaller: Caller = { actor: "" };

/** What the check reads of the replicated state. */
export interface AccessState {
  tokenBySecretHash(secretSha256: string): Readonly<TokenRecord> | undefined;
  getNode(id: string): Readonly<NodeRecord> | undefined;
}

export interface AccessControlOptions {
  readonly state: AccessState;
  /** --acl: every call needs a token (or, for AgentService, an agent certificate). */
  readonly acl: boolean;
  /** Mutual TLS: before anything else, the client certificate's role must fit the method (certificate-roles.ts). */
  readonly certificateRoles?: boolean;
  /** Wall-clock milliseconds, against which token expiry is judged. */
  readonly nowMs?: () => number;
  /**
   * Resolves once this replica has applied every write committed before the call (a read barrier).
   * A token created a moment ago may not have reached a follower yet: before calling a token
   * unknown, the check waits for this once and looks again.
   */
  readonly catchUp?: () => Promise<void>;
}

type Decision =
  | { readonly ok: true; readonly caller: Caller }
  | { readonly ok: false; readonly error: OrchestratorError; readonly unknownToken?: true };

function refuse(code: "UNAUTHENTICATED" | "PERMISSION_DENIED", message: string): Decision {
  return { ok: false, error: new OrchestratorError(code, message) };
}

export class AccessControl {
  private readonly callers = new WeakMap<Metadata, Caller>();
  private readonly nowMs: () => number;
  /** Calls now waiting for a catch-up before their token is judged again; bounded so guesses cannot pile up. */
  private catchingUp = 0;

  constructor(private readonly options: AccessControlOptions) {
    this.nowMs = options.nowMs ?? Date.now;
  }

  get aclEnabled(): boolean {
    return this.options.acl;
  }

  /** The caller the interceptor settled on for the call that carries `metadata`. */
  callerOf(metadata: Metadata): Caller {
    return this.callers.get(metadata) ?? anonymousCaller;
  }

  /** Null while the caller's token (if any) still works; else why it stopped (revoked, expired). */
  recheck(caller: Caller): OrchestratorError | null {
    if (caller.token === undefined || !this.options.acl) return null;
    const decision = this.tokenCaller(caller.token.secretSha256, "public", "");
    return decision.ok ? null : decision.error;
  }

  /** The decision for one call, from its metadata and its client certificate's identity. */
  decide(path: string, metadata: Metadata, certificate: CertificateIdentity | null): Decision {
    if (this.options.certificateRoles === true) {
      const refusal = certificateRefusal(path, certificate);
      if (refusal !== null) return refuse(refusal.code, refusal.message);
    }
    const certificateCaller: Caller =
      certificate === null
        ? anonymousCaller
        : {
            actor: `cert:${certificate.name}`.slice(0, fsmLimits.actorLengthMax),
            ...(certificate.region !== undefined ? { region: certificate.region } : {}),
          };
    if (!this.options.acl) return { ok: true, caller: certificateCaller };
    const rule = accessRuleOf(path);
    const method = rule?.method ?? splitMethodPath(path)?.method ?? path;
    const need = rule?.need;
    if (need === undefined)
      return refuse("PERMISSION_DENIED", `${method} has no access rule; it is refused with --acl`);
    const presented = bearerSecret(metadata);
    if (!presented.ok) return { ok: false, error: presented.error };
    if (presented.secret !== null) return this.tokenCaller(secretSha256(presented.secret), need, method);
    if (need === "public") return { ok: true, caller: certificateCaller };
    // A replica started with --join asks for the membership with its replica certificate: it has no token.
    if (certificate?.role === "replica" && replicaCertificateMayCall(path))
      return { ok: true, caller: certificateCaller };
    // An agent certificate is an agent's credential as good as an agent token.
    if (need === "agent" && certificate?.role === "agent") return { ok: true, caller: certificateCaller };
    return refuse(
      "UNAUTHENTICATED",
      `${method} needs a token with role ${need}${need === "agent" ? " (or an agent certificate)" : ""}: pass --token or set ORCH_TOKEN (an admin creates one with orchctl token create)`,
    );
  }

  private tokenCaller(hash: string, need: AccessNeed, method: string): Decision {
    const token = this.options.state.tokenBySecretHash(hash);
    if (token === undefined)
      return {
        ok: false,
        error: new OrchestratorError(
          "UNAUTHENTICATED",
          "unknown or revoked token: ask an admin for a token (orchctl token create)",
        ),
        unknownToken: true,
      };
    if (token.expiresAtMs !== 0 && this.nowMs() >= token.expiresAtMs)
      return refuse(
        "UNAUTHENTICATED",
        `token ${token.name} expired at ${new Date(token.expiresAtMs).toISOString()}: ask an admin for a new one`,
      );
    if (need !== "public" && !roleAllows(token.role, need))
      return refuse(
        "PERMISSION_DENIED",
        `${method} needs role ${need}${need === "agent" ? "" : " or higher"}; token ${token.name} has role ${token.role}`,
      );
    return {
      ok: true,
      caller: {
        actor: token.name,
        token: { name: token.name, secretSha256: token.secretSha256 },
        ...(token.region !== "" ? { region: token.region } : {}),
      },
    };
  }

  /**
   * The decision again once this replica has caught up with the commit index, for a token it did
   * not know: one created a moment ago through another replica. Without a catch-up port, when it
   * fails (no leader), or with too many calls already waiting, the first refusal stands.
   */
  private async afterCatchUp(refusal: Decision, again: () => Decision): Promise<Decision> {
    const catchUp = this.options.catchUp;
    if (catchUp === undefined || this.catchingUp >= accessLimits.unknownTokenCatchUpsMax) return refusal;
    this.catchingUp += 1;
    try {
      await catchUp();
      return again();
    } catch {
      return refusal;
    } finally {
      this.catchingUp -= 1;
    }
  }

  /** Why an agent whose credentials name `region` may not send `message` to `path`; null when it may. */
  regionRefusal(path: string, message: unknown, region: string | undefined): string | null {
    if (region === undefined) return null;
    switch (accessRuleOf(path)?.method) {
      case "Register": {
        const stranger = (message as RegisterRequest).nodes.find((node) => node.region !== region);
        return stranger === undefined
          ? null
          : `these agent credentials are for region ${region}; they cannot register node ${stranger.nodeId} of ${stranger.region}`;
      }
      case "Heartbeat":
      case "WatchAssignments":
        return this.foreignNode((message as HeartbeatRequest | WatchAssignmentsRequest).nodeIds, region);
      case "ReportStatus":
        return this.foreignNode(
          (message as ReportStatusRequest).reports.map((report) => report.nodeId),
          region,
        );
      default:
        return null;
    }
  }

  /** A node already registered in another region is not this agent's to speak for. */
  private foreignNode(nodeIds: readonly string[], region: string): string | null {
    for (const id of nodeIds) {
      const node = this.options.state.getNode(id);
      if (node !== undefined && node.region !== region)
        return `these agent credentials are for region ${region}; node ${id} is in ${node.region}`;
    }
    return null;
  }

  /** The interceptor to install on the API server: the one check every call passes. */
  readonly interceptor: ServerInterceptor = (method, call) => {
    let caller: Caller = anonymousCaller;
    const end = (error: OrchestratorError): void =>
      call.sendStatus({ code: statusByCode[error.code] ?? status.UNKNOWN, details: error.message });
    return new ServerInterceptingCall(
      call,
      new ResponderBuilder()
        .withStart((next) => {
          next(
            new ServerListenerBuilder()
              .withOnReceiveMetadata((metadata, forward) => {
                const certificate = identityFromSubjectAltName(
                  call.getAuthContext().sslPeerCertificate?.subjectaltname,
                );
                const settle = (decision: Decision): void => {
                  if (!decision.ok) {
                    end(decision.error);
                    return;
                  }
                  caller = decision.caller;
                  this.callers.set(metadata, caller);
                  forward(metadata);
                };
                const decision = this.decide(method.path, metadata, certificate);
                if (decision.ok || decision.unknownToken !== true) settle(decision);
                else
                  void this.afterCatchUp(decision, () => this.decide(method.path, metadata, certificate)).then(settle);
              })
              .withOnReceiveMessage((message: unknown, forward) => {
                const refusal = this.regionRefusal(method.path, message, caller.region);
                if (refusal === null) forward(message);
                else end(new OrchestratorError("PERMISSION_DENIED", refusal));
              })
              .build(),
          );
        })
        .build(),
    );
  };
}

type Presented =
  { readonly ok: true; readonly secret: string | null } | { readonly ok: false; readonly error: OrchestratorError };

/** The bearer secret of the call, null when none is presented; a malformed one is refused. */
function bearerSecret(metadata: Metadata): Presented {
  const values = metadata.get(authorizationMetadataKey);
  if (values.length === 0) return { ok: true, secret: null };
  const malformed = (why: string): Presented => ({
    ok: false,
    error: new OrchestratorError("UNAUTHENTICATED", `malformed token: ${why}; send "authorization: Bearer <secret>"`),
  });
  if (values.length > 1) return malformed(`${values.length} authorization values`);
  const value = values[0];
  if (typeof value !== "string") return malformed("a binary authorization value");
  if (value.length > accessLimits.authorizationLengthMax)
    return malformed(`the value is ${value.length} characters long, at most ${accessLimits.authorizationLengthMax}`);
  if (!value.startsWith(bearerPrefix)) return malformed("not a bearer token");
  const secret = value.slice(bearerPrefix.length).trim();
  if (secret === "" || !secretPattern.test(secret)) return malformed("the secret is empty or not visible ASCII");
  return { ok: true, secret };
}
