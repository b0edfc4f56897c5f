import { Server } from "@grpc/grpc-js";
import { listenPlaintext, type Listen } from "../lib/grpc-listener.js";
import { OrchestratorServiceService } from "../gen/orchestrator/v1/orchestrator.js";
import { OrchestratorError } from "../lib/errors.js";
import { createOrchestratorService, type ServiceDeps } from "./orchestrator-service.js";
import { registerAgentService, type AgentServiceDeps } from "./agent-service.js";
import type { AccessControl } from "./access-control.js";

/** Requests larger than this are refused with RESOURCE_EXHAUSTED before they are parsed. */
const requestBytesMax = 1024 * 1024;
/** How long a stopping server waits for calls in flight before it ends them (open watches end then). */
const stopGraceMs = 1_000;

export interface RunningApiServer {
  readonly server: Server;
  /** Stops listening, lets calls in flight finish for a moment, then ends the rest (watches). */
  stop(): Promise<void>;
}

export async function startApiServer(
  address: string,
  deps: ServiceDeps & Pick<AgentServiceDeps, "heartbeats"> & { readonly access: AccessControl },
  /** Mutual TLS (client certificates required, see tls-listener.ts); plaintext when absent. */
  mutualTls?: Listen,
): Promise<RunningApiServer> {
  const server = new Server({
    "grpc.max_receive_message_length": requestBytesMax,
    "grpc.max_send_message_length": 64 * 1024 * 1024,
    "grpc.keepalive_time_ms": 10_000,
    "grpc.keepalive_permit_without_calls": 1,
    // One check per call: with mutual TLS the certificate's role first, then who calls and, with
    // --acl, whether they may (access-control.ts).
    interceptors: [deps.access.interceptor],
  });
  server.addService(OrchestratorServiceService, createOrchestratorService(deps));
  registerAgentService(server, deps);
  const listen = mutualTls ?? listenPlaintext;
  try {
    const listener = await listen(server, address);
    return {
      server,
      stop() {
        listener.close();
        // A write in flight when the replica stops gets its real answer (by now a not-leader
        // redirect the client follows), not a bare CANCELLED it cannot tell from a failure.
        return new Promise<void>((resolve) => {
          const force = setTimeout(() => {
            server.forceShutdown();
            resolve();
          }, stopGraceMs);
          server.tryShutdown(() => {
            clearTimeout(force);
            resolve();
          });
        });
      },
    };
  } catch (error) {
    server.forceShutdown();
    throw new OrchestratorError("UNAVAILABLE", `cannot serve the API on ${address}: ${(error as Error).message}`);
  }
}
