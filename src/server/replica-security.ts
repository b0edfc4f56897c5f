import { splitListenHostPort } from "../lib/host-port.js";
import { identityFromSubjectAltName } from "../lib/tls-identity.js";
import { realClock } from "../lib/clock.js";
import type { Logger } from "../lib/logger.js";
import { clientCredentials, type TlsMaterial } from "../lib/tls-material.js";
import { mutualTlsListener } from "../lib/tls-listener.js";
import type { TransportSecurity } from "../raft/io/transport-security.js";

/** How a replica secures what it serves: mutual TLS, or plaintext (loopback only unless --insecure). */
export interface ReplicaSecurity {
  readonly tls?: TlsMaterial;
  /** The operator asked for plaintext on non-loopback addresses. */
  readonly insecure?: boolean;
}

/**
 * The Raft transport's TLS: our certificate both ways; a peer is the replica its client
 * certificate names with role replica (membership is checked by the transport).
 */
export function transportSecurity(tls: TlsMaterial, logger: Logger): TransportSecurity {
  const client = clientCredentials(tls);
  return {
    listen: mutualTlsListener({ material: tls, logger, clock: realClock, serves: "raft" }),
    clientCredentials: () => client,
    peerIdentity(call) {
      const certificate = call.getAuthContext().sslPeerCertificate;
      const identity = identityFromSubjectAltName(certificate?.subjectaltname);
      if (identity === null) return { ok: false, error: "the client certificate names no orchestrator identity" };
      if (identity.role !== "replica")
        return { ok: false, error: `a ${identity.role} certificate (${identity.name}) cannot speak Raft` };
      return { ok: true, value: identity.name };
    },
  };
}

export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, "").toLowerCase();
  return bare === "localhost" || bare === "::1" || /^127\.\d+\.\d+\.\d+$/.test(bare);
}

/**
 * Secure by default: without TLS, every address served must be loopback unless --insecure.
 * Returns the refusal to print, or null. /metrics stays plaintext and is not checked: it
 * serves read-only figures to Prometheus.
 */
export function plaintextRefusal(
  addresses: ReadonlyArray<readonly [flag: string, address: string]>,
  security: ReplicaSecurity,
): string | null {
  if (security.tls !== undefined || security.insecure === true) return null;
  for (const [flag, address] of addresses) {
    const { host } = splitListenHostPort(address);
    if (!isLoopbackHost(host))
      return `${flag} ${address} is not a loopback address: serve it with mutual TLS (--tls-ca, --tls-cert, --tls-key; see "orchctl pki init") or pass --insecure to serve it in plaintext`;
  }
  return null;
}
