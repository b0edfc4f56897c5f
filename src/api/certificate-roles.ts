import {
  ResponderBuilder,
  ServerInterceptingCall,
  ServerListenerBuilder,
  status,
  type ServerInterceptor,
} from "@grpc/grpc-js";
import { AgentServiceService, type RegisterRequest } from "../gen/agent/v1/agent.js";
import { OrchestratorServiceService } from "../gen/orchestrator/v1/orchestrator.js";
import { identityFromSubjectAltName, type CertificateRole } from "../lib/tls-identity.js";

const registerPath = AgentServiceService.register.path;
/** A replica started with --join asks for the membership with its own (replica) certificate. */
const memberListPath = OrchestratorServiceService.memberList.path;
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
 * with PERMISSION_DENIED naming the role needed.
 */
export const certificateRoleInterceptor: ServerInterceptor = (method, call) =>
  new ServerInterceptingCall(
    call,
    new ResponderBuilder()
      .withStart((next) => {
        next(
          new ServerListenerBuilder()
            .withOnReceiveMessage((message: unknown, forward) => {
              // An agent certificate that names a region registers nodes of that region only.
              const region = identityFromSubjectAltName(
                call.getAuthContext().sslPeerCertificate?.subjectaltname,
              )?.region;
              const refusal = method.path === registerPath ? regionRefusal(message as RegisterRequest, region) : null;
              if (refusal === null) forward(message);
              else call.sendStatus({ code: status.PERMISSION_DENIED, details: refusal });
            })
            .withOnReceiveMetadata((metadata, forward) => {
              const needed = roleNeeded(method.path);
              const identity = identityFromSubjectAltName(call.getAuthContext().sslPeerCertificate?.subjectaltname);
              if (identity?.role === needed || (identity?.role === "replica" && method.path === memberListPath)) {
                forward(metadata);
                return;
              }
              const presented =
                identity === null
                  ? "a certificate without an orchestrator identity"
                  : `role ${identity.role} (${identity.name})`;
              call.sendStatus({
                code: status.PERMISSION_DENIED,
                details: `${method.path} needs a certificate with role ${needed}; this one has ${presented}`,
              });
            })
            .build(),
        );
      })
      .build(),
  );

function regionRefusal(request: RegisterRequest, region: string | undefined): string | null {
  if (region === undefined) return null;
  const stranger = request.nodes.find((node) => node.region !== region);
  return stranger === undefined
    ? null
    : `this agent certificate is for region ${region}; it cannot register node ${stranger.nodeId} of ${stranger.region}`;
}
