import type { ChannelCredentials } from "@grpc/grpc-js";
import { clientCredentials, loadTlsMaterial, tlsFilesFromFlags, type TlsFiles } from "../lib/tls-material.js";
import { UsageError } from "./errors.js";
import type { CliIo } from "./io.js";

/** Environment fallbacks of --tls-ca, --tls-cert and --tls-key. */
export const TLS_ENV = { ca: "ORCH_CA", cert: "ORCH_CERT", key: "ORCH_KEY" } as const;

/** orchctl's client credentials from the flags, else the environment; undefined for plaintext. */
export function tlsCredentialsOf(
  flags: { tlsCa?: string; tlsCert?: string; tlsKey?: string },
  env: CliIo["env"],
): { files: TlsFiles; credentials: ChannelCredentials } | undefined {
  try {
    const files = tlsFilesFromFlags({
      tlsCa: flags.tlsCa ?? env[TLS_ENV.ca],
      tlsCert: flags.tlsCert ?? env[TLS_ENV.cert],
      tlsKey: flags.tlsKey ?? env[TLS_ENV.key],
    });
    return files === null ? undefined : { files, credentials: clientCredentials(loadTlsMaterial(files)) };
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}
