import { ChannelCredentials, credentials } from "@grpc/grpc-js";
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { dropIpServernameWarning } from "./ip-servername-warning.js";
import { identityFromSubjectAltName, type CertificateIdentity } from "./tls-identity.js";

/** The three files of --tls-ca, --tls-cert and --tls-key. */
export interface TlsFiles {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

/** Loaded TLS files with what the process reports about its own certificate. */
export interface TlsMaterial {
  readonly ca: Buffer;
  readonly cert: Buffer;
  readonly key: Buffer;
  /** notAfter of the certificate, for orchestrator_tls_certificate_expiry_timestamp_seconds. */
  readonly expiresAtMs: number;
  readonly identity: CertificateIdentity | null;
}

/** Reads the files; a missing or unreadable one is a startup error naming its flag. */
export function loadTlsMaterial(files: TlsFiles): TlsMaterial {
  const ca = readFlagFile(files.ca, "--tls-ca");
  const cert = readFlagFile(files.cert, "--tls-cert");
  const key = readFlagFile(files.key, "--tls-key");
  let parsed: X509Certificate;
  try {
    parsed = new X509Certificate(cert);
  } catch (error) {
    throw new Error(`--tls-cert ${files.cert} is not a PEM certificate: ${(error as Error).message}`, { cause: error });
  }
  return {
    ca,
    cert,
    key,
    expiresAtMs: Date.parse(parsed.validTo),
    identity: identityFromSubjectAltName(parsed.subjectAltName),
  };
}

/**
 * The three flags together or none: returns null when none is given, throws naming what is
 * missing when only some are.
 */
export function tlsFilesFromFlags(flags: {
  tlsCa?: string | undefined;
  tlsCert?: string | undefined;
  tlsKey?: string | undefined;
}): TlsFiles | null {
  const given = [flags.tlsCa, flags.tlsCert, flags.tlsKey].filter((f) => f !== undefined && f !== "");
  if (given.length === 0) return null;
  if (given.length !== 3) throw new Error("--tls-ca, --tls-cert and --tls-key go together: give all three or none");
  return { ca: flags.tlsCa as string, cert: flags.tlsCert as string, key: flags.tlsKey as string };
}

/** Client side of mutual TLS: trusts only the CA, presents our certificate. The server side is tls-listener.ts. */
export function clientCredentials(material: TlsMaterial): ChannelCredentials {
  dropIpServernameWarning();
  return credentials.createSsl(material.ca, material.key, material.cert);
}

function readFlagFile(path: string, flag: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new Error(`${flag} ${path}: ${(error as Error).message}`, { cause: error });
  }
}
