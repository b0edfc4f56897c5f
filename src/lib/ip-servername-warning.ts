/**
 * grpc-js sets the TLS ServerName (SNI) to the target's host even when it is an IP address, and
 * Node then warns once per process (DEP0123: RFC 6066 forbids IP ServerNames). Our replicas are
 * reached by IP and their certificates carry IP SANs, so the warning tells an operator nothing;
 * it would also put a non-JSON line into the replicas' and agents' JSON logs and into every
 * orchctl command's stderr. Only that one warning is dropped; every other goes through.
 */
let installed = false;

export function dropIpServernameWarning(): void {
  if (installed) return;
  installed = true;
  const emitWarning = process.emitWarning.bind(process);
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]): void => {
    const code = rest.length >= 2 && typeof rest[1] === "string" ? rest[1] : undefined;
    const byOptions =
      typeof rest[0] === "object" && rest[0] !== null ? (rest[0] as { code?: unknown }).code : undefined;
    if (code === "DEP0123" || byOptions === "DEP0123") return;
    (emitWarning as (...args: unknown[]) => void)(warning, ...rest);
  }) as typeof process.emitWarning;
}
