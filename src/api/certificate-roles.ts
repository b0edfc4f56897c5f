import {
  ResponderBuilder,
  ServerInterceptingCall,
  ServerListenerBuilder,
  status,
  type ServerInterceptor,
} from "@grpc/grpc-js";
import { AgentServiceService } from "../gen/agent/v1/agent.js";
import { OrchestratorServiceService } from "../gen/orchestrator/v1/orchestrator.js";
import { identityFromSubjectAltName, type CertificateRole } from "../lib/tls-identity.js";

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
 * certificate cannot register nodes, a replica certificate is for Raft only. Refused calls end
 * with PERMISSION_DENIED naming the role needed (UNAUTHENTICATED when it names no identity). (An agent's region is checked by each
 * AgentService call by the access interceptor: access-control.ts regionRefusal.)
 */
export const certificateRoleInterceptor: ServerInterceptor = (method, call) =>
  new ServerInterceptingCall(
    call,
    new ResponderBuilder()
      .withStart((next) => {
        next(
          new ServerListenerBuilder()
            .withOnReceiveMetadata((metadata, forward) => {
              const needed = roleNeeded(method.path);
              const identity = identityFromSubjectAltName(call.getAuthContext().sslPeerCertificate?.subjectaltname);
              if (
                identity?.role === needed ||
                (identity?.role === "replica" && replicaCertificateMayCall(method.path))
              ) {
                forward(metadata);
                return;
              }
              // Signed by our CA but naming nobody: it authenticates no one.
              if (identity === null) {
                call.sendStatus({
                  code: status.UNAUTHENTICATED,
                  details: `${method.path} needs a certificate with role ${needed}; this one names no orchestrator identity`,
                });
                return;
              }
              call.sendStatus({
                code: status.PERMISSION_DENIED,
                details: `${method.path} needs a certificate with role ${needed}; this one has role ${identity.role} (${identity.name})`,
              });
            })
            .build(),
        );
      })
      .build(),
  );
