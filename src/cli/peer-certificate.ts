import { connect } from "node:tls";
import { readFileSync } from "node:fs";
import { splitHostPort } from "../lib/host-port.js";
import type { TlsFiles } from "../lib/tls-material.js";

/** A handshake that takes longer is given up: the expiry is then shown as unknown. */
const handshakeTimeoutMs = 3_000;

/**
 * notAfter of the certificate the replica at `address` presents, by one TLS handshake with
 * our own client certificate (the API requires one); null when it cannot be read.
 */
export function peerCertificateExpiry(address: string, files: TlsFiles): Promise<Date | null> {
  const { host, port } = splitHostPort(address);
  return new Promise((resolve) => {
    const socket = connect({
      host,
      port,
      ca: readFileSync(files.ca),
      cert: readFileSync(files.cert),
      key: readFileSync(files.key),
      ALPNProtocols: ["h2"],
      // An IP is not a valid SNI name; the certificate is still checked against `host`.
      ...(/^[\d.]+$|:/.test(host) ? {} : { servername: host }),
    });
    const timer = setTimeout(() => finish(null), handshakeTimeoutMs);
    function finish(value: Date | null): void {
      clearTimeout(timer);
      socket.destroy();
      resolve(value);
    }
    socket.once("secureConnect", () => {
      const validTo = socket.getPeerCertificate().valid_to;
      finish(validTo === undefined ? null : new Date(validTo));
    });
    socket.once("error", () => finish(null));
  });
}
