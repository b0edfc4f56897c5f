import { AgentServiceService } from "../gen/agent/v1/agent.js";
import { OrchestratorServiceService } from "../gen/orchestrator/v1/orchestrator.js";
import type { CertificateIdentity, CertificateRole } from "../lib/tls-identity.js";

/** A replica started with --join asks for the membership with its own (replica) certificate. */
const memberListPath = OrchestratorServiceService.memberList.path;

/** Whether a replica certificate may call `path` of the API (beyond Raft): MemberList only, for --join. */
export function replicaCertificateMayCall(path: string): boolean {
  return path === memberListPath;
}
const agentPaths: ReadonlySet<string> = new Set<string>(
  Object.values(AgentServiceService).map((method) => method.path),
);

/** The certificate role a method needs: agents speak AgentService, people and tools the rest. */
export function roleNeeded(path: string): CertificateRole {
  return agentPaths.has(path) ? "agent" : "client";
}

/**
 * With mutual TLS, every API call is checked against the role its client certificate carries
 * (the handshake already proved the CA signed it): an agent certificate cannot deploy, an admin
 * certificate cannot register nodes, a replica certificate is for Raft only. The refusal, null
 * when the certificate may call `path`: PERMISSION_DENIED naming the role needed, UNAUTHENTICATED
 * when the certificate names no identity. The access check (access-control.ts) asks this first;
 * it also checks an agent's region.
 */
export function certificateRefusal(
  path: string,
  identity: CertificateIdentity | null,
): { readonly code: "UNAUTHENTICATED" | "PERMISSION_DENIED"; readonly message: string } | null {
  const needed = roleNeeded(path);
  if (identity?.role === needed || (identity?.role === "replica" && replicaCertificateMayCall(path))) return null;
  // Signed by our CA but naming nobody: it authenticates no one.
  if (identity === null)
    return {
      code: "UNAUTHENTICATED",
      message: `${path} needs a certificate with role ${needed}; this one names no orchestrator identity`,
    };
  return {
    code: "PERMISSION_DENIED",
    message: `${path} needs a certificate with role ${needed}; this one has role ${identity.role} (${identity.name})`,
  };
}
