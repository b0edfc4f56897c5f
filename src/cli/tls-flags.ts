import type { ChannelCredentials } from "@grpc/grpc-js";
import { clientCredentials, loadTlsMaterial, type TlsFiles } from "../lib/tls-material.js";
import { UsageError } from "./errors.js";

export { TLS_ENV } from "./config/connection-settings.js";

/** orchctl's client credentials from the files resolveConnection chose (flags, env or context). */
export function tlsCredentialsOf(files: TlsFiles): { files: TlsFiles; credentials: ChannelCredentials } {
  try {
    return { files, credentials: clientCredentials(loadTlsMaterial(files)) };
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}
