/**
 * Who a certificate speaks for. `orchctl pki` writes it as URI SANs (and, for people reading
 * `openssl x509 -text`, as CN = name and OU = role): `orchestrator://<role>/<name>` and, for an
 * agent bound to a region, `orchestrator://region/<region>`. Only the SANs are trusted here.
 */
export const certificateRoles = ["replica", "agent", "client"] as const;
export type CertificateRole = (typeof certificateRoles)[number];

export interface CertificateIdentity {
  readonly role: CertificateRole;
  readonly name: string;
  /** An agent certificate may name the one region it serves. */
  readonly region?: string;
}

const scheme = "orchestrator://";
const regionKind = "region";

export function isCertificateRole(text: string): text is CertificateRole {
  return (certificateRoles as readonly string[]).includes(text);
}

export function identityUri(role: CertificateRole, name: string): string {
  return `${scheme}${role}/${name}`;
}

export function regionUri(region: string): string {
  return `${scheme}${regionKind}/${region}`;
}

/**
 * Reads the identity from a certificate's subjectAltName as Node prints it
 * ("DNS:localhost, IP Address:127.0.0.1, URI:orchestrator://replica/r1"); null when it carries
 * no identity or more than one.
 */
export function identityFromSubjectAltName(subjectAltName: string | undefined): CertificateIdentity | null {
  if (subjectAltName === undefined) return null;
  let found: { role: CertificateRole; name: string } | null = null;
  let region: string | undefined;
  for (const entry of subjectAltName.split(",")) {
    const trimmed = entry.trim();
    if (!trimmed.startsWith(`URI:${scheme}`)) continue;
    const path = trimmed.slice(`URI:${scheme}`.length);
    const slash = path.indexOf("/");
    if (slash <= 0 || slash === path.length - 1) return null;
    const kind = path.slice(0, slash);
    const value = path.slice(slash + 1);
    if (kind === regionKind) {
      if (region !== undefined) return null;
      region = value;
    } else if (isCertificateRole(kind)) {
      if (found !== null) return null;
      found = { role: kind, name: value };
    }
  }
  if (found === null) return null;
  return region === undefined ? found : { ...found, region };
}
