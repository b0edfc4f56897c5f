import type { Token } from "../../gen/orchestrator/v1/orchestrator.js";
import type { Session } from "../session.js";

/** A token as orchctl shows it (never its secret). */
export function tokenView(token: Token, nowMs: number) {
  return {
    name: token.name,
    role: token.role,
    region: token.region === "" ? null : token.region,
    createdAt: new Date(token.createdAtMs).toISOString(),
    createdBy: token.createdBy,
    expiresAt: token.expiresAtMs === 0 ? null : new Date(token.expiresAtMs).toISOString(),
    expired: token.expiresAtMs !== 0 && token.expiresAtMs <= nowMs,
  };
}

/**
 * A new token's secret, shown once: alone on stdout in table mode (so `ORCH_TOKEN=$(orchctl
 * ...)` works), with a note on stderr; `{"secret": ...}` and the token with -o json.
 */
export function printSecret(session: Session, token: Token | undefined, secret: string, revision: number): void {
  if (session.out.isJson) {
    session.out.json({ secret, ...(token !== undefined ? tokenView(token, Date.now()) : {}), revision });
    return;
  }
  session.out.text(secret);
  const what = token === undefined ? "token" : `${token.role} token ${token.name}`;
  session.out.note(
    `${what} created (revision ${revision}). Its secret is shown this once: keep it, and pass it as ORCH_TOKEN or --token.`,
  );
}
