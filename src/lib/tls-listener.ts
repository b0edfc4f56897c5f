import { ServerCredentials, type Server } from "@grpc/grpc-js";
import type { Socket } from "node:net";
import { createServer, type TLSSocket } from "node:tls";
import type { Clock } from "./clock.js";
import type { BoundListener, Listen } from "./grpc-listener.js";
import { splitListenHostPort } from "./host-port.js";
import { tlsListenerLimits } from "./limits.js";
import type { Logger } from "./logger.js";
import { RateLimitedLog } from "./rate-limited-log.js";
import type { TlsMaterial } from "./tls-material.js";

export interface TlsListenerOptions {
  readonly material: TlsMaterial;
  readonly logger: Logger;
  readonly clock: Pick<Clock, "nowMs">;
  /** What is served, for the log ("api", "raft"). */
  readonly serves: string;
}

/**
 * Mutual TLS in front of a gRPC server, done by us rather than by grpc-js so that what a
 * stranger can cost is bounded and seen: a handshake must finish within handshakeTimeoutMs
 * (grpc-js leaves Node's 120 s), a listener holds at most connectionsMax connections, and every
 * refused handshake or certificate (expired, not yet valid, another CA, self-signed, none) is
 * logged once per peer address per interval with a count of those held back. Only a
 * connection whose client certificate the CA signed reaches gRPC, as plaintext HTTP/2 over the
 * TLS socket (its auth context still shows the certificate).
 */
export function mutualTlsListener(options: TlsListenerOptions): Listen {
  const refusals = new RateLimitedLog(
    options.logger.child({ component: "tls", serves: options.serves }),
    options.clock,
    {
      intervalMs: tlsListenerLimits.refusalLogIntervalMs,
      keysMax: tlsListenerLimits.refusalLogKeysMax,
    },
  );
  return (server, address) => listen(server, address, options.material, refusals);
}

function listen(
  server: Server,
  address: string,
  material: TlsMaterial,
  refusals: RateLimitedLog,
): Promise<BoundListener> {
  const injector = server.createConnectionInjector(ServerCredentials.createInsecure());
  const tls = createServer({
    ca: material.ca,
    cert: material.cert,
    key: material.key,
    requestCert: true,
    // Checked in onSecure, so that a refused certificate is logged with its reason.
    rejectUnauthorized: false,
    ALPNProtocols: ["h2"],
    minVersion: "TLSv1.2",
    handshakeTimeout: tlsListenerLimits.handshakeTimeoutMs,
  });
  tls.maxConnections = tlsListenerLimits.connectionsMax;
  // Every accepted socket, so that close() also drops connections still in their handshake.
  const sockets = new Set<Socket>();
  tls.prependListener("connection", (raw: Socket) => {
    sockets.add(raw);
    raw.once("close", () => sockets.delete(raw));
  });
  tls.on("drop", (dropped?: { remoteAddress?: string }) =>
    refusals.warn(
      dropped?.remoteAddress ?? "unknown",
      { reason: `more than ${tlsListenerLimits.connectionsMax} connections` },
      "refused a connection: too many open",
    ),
  );
  tls.on("secureConnection", (socket: TLSSocket) => {
    if (socket.authorized) {
      injector.injectConnection(socket);
      return;
    }
    const certificate = socket.getPeerCertificate();
    refusals.warn(
      socket.remoteAddress ?? "unknown",
      {
        reason: String(socket.authorizationError ?? "no client certificate"),
        subject: certificate.subject === undefined ? null : certificate.subject.CN,
      },
      "refused a TLS client certificate",
    );
    socket.destroy();
  });
  tls.on("tlsClientError", (error: Error & { code?: string }, socket: TLSSocket) => {
    refusals.warn(socket.remoteAddress ?? "unknown", { reason: error.code ?? error.message }, "a TLS handshake failed");
    // With a listener for this event, Node leaves the socket open (a timed-out handshake too).
    socket.destroy();
  });
  const { host, port } = splitListenHostPort(address);
  return new Promise<BoundListener>((resolve, reject) => {
    tls.once("error", (error) => {
      injector.destroy();
      reject(error);
    });
    tls.listen(port, host, () => {
      const bound = tls.address();
      resolve({
        port: typeof bound === "object" && bound !== null ? bound.port : port,
        close() {
          tls.close();
          injector.destroy();
          for (const socket of sockets) socket.destroy();
        },
      });
    });
  });
}
