import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { identityUri, regionUri, type CertificateRole } from "../../lib/tls-identity.js";
import { CliError, UsageError } from "../errors.js";

/** Lifetimes: a CA outlives many rotations of the certificates it signs. */
export const pkiLimits = {
  caDays: 3650,
  leafDaysDefault: 365,
  /** Names become file names and URI path segments: kept to a safe alphabet. */
  namePattern: /^[a-z0-9][a-z0-9._-]{0,62}$/i,
} as const;

/** Where replicas are reached besides the given hosts: local clusters and health checks. */
const localHosts = ["localhost", "127.0.0.1"];

export interface IssueRequest {
  readonly dir: string;
  readonly name: string;
  readonly role: CertificateRole;
  readonly region?: string;
  /** Extra DNS names or IP addresses the certificate is valid for (servers: replicas). */
  readonly hosts: readonly string[];
  /** Validity in days from now; negative makes an already expired certificate (for tests of refusal). */
  readonly days: number;
}

/**
 * A small PKI with the system's openssl (no X.509 code of our own): an EC P-256 CA and leaf
 * certificates whose identity is a URI SAN `orchestrator://<role>/<name>` (subject OU = role,
 * CN = name for people reading them). Key files are written 0600.
 */
export function initPki(dir: string, replicas: readonly string[], hosts: readonly string[]): string[] {
  for (const name of replicas) checkName(name);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const caCert = join(dir, "ca.pem");
  const caKey = join(dir, "ca-key.pem");
  if (existsSync(caCert) || existsSync(caKey))
    throw new CliError(
      "ALREADY_EXISTS",
      `${dir} already holds a CA (ca.pem); use "orchctl pki issue" to add certificates`,
    );
  openssl([
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    caKey,
    "-out",
    caCert,
    "-subj",
    "/O=MicroOrchestrator/CN=MicroOrchestrator CA",
    "-days",
    String(pkiLimits.caDays),
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  chmodSync(caKey, 0o600);
  const written = [caCert, caKey];
  const days = pkiLimits.leafDaysDefault;
  for (const name of replicas) written.push(...issueCertificate({ dir, name, role: "replica", hosts, days }));
  written.push(...issueCertificate({ dir, name: "agent", role: "agent", hosts: [], days }));
  written.push(...issueCertificate({ dir, name: "admin", role: "client", hosts: [], days }));
  return written;
}

/** Signs one more certificate with the CA in `dir`; writes NAME.pem and NAME-key.pem. */
export function issueCertificate(request: IssueRequest): string[] {
  checkName(request.name);
  const caCert = join(request.dir, "ca.pem");
  const caKey = join(request.dir, "ca-key.pem");
  if (!existsSync(caCert) || !existsSync(caKey))
    throw new CliError("NOT_FOUND", `${request.dir} holds no CA (ca.pem, ca-key.pem); run "orchctl pki init" first`);
  const cert = join(request.dir, `${request.name}.pem`);
  const key = join(request.dir, `${request.name}-key.pem`);
  const sans = [`URI:${identityUri(request.role, request.name)}`];
  if (request.region !== undefined) sans.push(`URI:${regionUri(request.region)}`);
  if (request.role === "replica")
    for (const host of new Set([...request.hosts, ...localHosts])) sans.push(`${isIP(host) ? "IP" : "DNS"}:${host}`);
  else for (const host of request.hosts) sans.push(`${isIP(host) ? "IP" : "DNS"}:${host}`);
  const scratch = mkdtempSync(join(tmpdir(), "orch-pki-"));
  try {
    const csr = join(scratch, "leaf.csr");
    const extensions = join(scratch, "leaf.ext");
    writeFileSync(
      extensions,
      [
        "basicConstraints=critical,CA:FALSE",
        "keyUsage=critical,digitalSignature,keyEncipherment",
        "extendedKeyUsage=serverAuth,clientAuth",
        `subjectAltName=${sans.join(",")}`,
        "",
      ].join("\n"),
    );
    openssl([
      "req",
      "-new",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      key,
      "-out",
      csr,
      "-subj",
      `/O=MicroOrchestrator/OU=${request.role}/CN=${request.name}`,
    ]);
    chmodSync(key, 0o600);
    openssl([
      "x509",
      "-req",
      "-in",
      csr,
      "-CA",
      caCert,
      "-CAkey",
      caKey,
      "-set_serial",
      `0x${randomBytes(16).toString("hex")}`,
      "-days",
      String(request.days),
      "-extfile",
      extensions,
      "-out",
      cert,
    ]);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return [cert, key];
}

function checkName(name: string): void {
  if (!pkiLimits.namePattern.test(name))
    throw new UsageError(`certificate name ${JSON.stringify(name)} must be letters, digits, ".", "_" or "-"`);
}

function openssl(args: readonly string[]): void {
  try {
    execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim() ?? "";
    const missing = (error as { code?: string }).code === "ENOENT";
    throw new CliError(
      "FAILED_PRECONDITION",
      missing ? "orchctl pki needs the openssl command on PATH" : `openssl ${args[0]} failed: ${stderr}`,
    );
  }
}
