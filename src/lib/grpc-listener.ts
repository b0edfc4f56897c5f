import { ServerCredentials, type Server } from "@grpc/grpc-js";

/** A gRPC server's listening socket: the port it got and how to stop accepting. */
export interface BoundListener {
  readonly port: number;
  /** Stops accepting and drops connections not yet handed to gRPC; the gRPC server's own shutdown ends the rest. */
  close(): void;
}

/** How a gRPC server listens: plaintext through grpc-js itself, or mutual TLS (tls-listener.ts). */
export type Listen = (server: Server, address: string) => Promise<BoundListener>;

/** Plaintext, bound by grpc-js: for loopback development clusters and --insecure. */
export const listenPlaintext: Listen = (server, address) =>
  new Promise<BoundListener>((resolve, reject) => {
    server.bindAsync(address, ServerCredentials.createInsecure(), (error, port) => {
      if (error !== null) reject(error);
      // The server's forceShutdown closes a port grpc-js bound.
      else resolve({ port, close: () => undefined });
    });
  });
