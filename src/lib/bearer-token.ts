import * as grpc from "@grpc/grpc-js";

/** The call metadata key of an access token (docs/security.md, "Tokens and roles"). */
export const authorizationMetadataKey = "authorization";

/** What precedes the secret in the metadata value. */
export const bearerPrefix = "Bearer ";

/** The metadata value of a token: `Bearer <secret>`. */
export function bearerValue(secret: string): string {
  return `${bearerPrefix}${secret}`;
}

/**
 * A client interceptor that sends `authorization: Bearer <secret>` with every call, unary and
 * streaming alike. Call credentials would do the same, but grpc-js sends those over TLS only,
 * and a loopback cluster with --acl runs plaintext.
 */
export function bearerTokenInterceptor(secret: string): grpc.Interceptor {
  const value = bearerValue(secret);
  return (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        metadata.set(authorizationMetadataKey, value);
        next(metadata, listener);
      },
    });
}

/** A token as given on the command line or in the environment: trimmed; empty means none. */
export function tokenFromInput(text: string | undefined): string | undefined {
  const trimmed = text?.trim() ?? "";
  return trimmed === "" ? undefined : trimmed;
}
