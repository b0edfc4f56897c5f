import { credentials as grpcCredentials, Metadata, type ChannelCredentials } from "@grpc/grpc-js";
import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { withContext } from "../../src/cli/config/contexts-file.js";
import { contextsFilePath, updateContextsFile } from "../../src/cli/config/contexts-store.js";
import { BufferSink } from "../../src/cli/io.js";
import { initPki, issueCertificate, pkiLimits } from "../../src/cli/pki/openssl-pki.js";
import { run } from "../../src/cli/run.js";
import { clientCredentials, loadTlsMaterial, type TlsFiles } from "../../src/lib/tls-material.js";

/**
 * THE switch for ACLs in `npm run cluster` and `npm run demo` (replicas started with --acl, a
 * management token bootstrapped on first start and put in the context). On: secure by default.
 */
export const localAclEnabled = true;

/** How a local cluster is secured: a PKI directory (absolute) and, with ACLs, the token file. */
export interface LocalSecurity {
  readonly pkiDir: string;
  readonly acl: boolean;
  /** Holds the bootstrapped management token's secret (0600); meaningful when acl is on. */
  readonly tokenFile: string;
}

/** The security of a local cluster whose data lives under `dataRoot`: its PKI in <dataRoot>/pki. */
export function localSecurity(dataRoot: string, acl: boolean = localAclEnabled): LocalSecurity {
  const root = path.resolve(dataRoot);
  return { pkiDir: path.join(root, "pki"), acl, tokenFile: path.join(root, "acl-token") };
}

/**
 * Makes the PKI on first start (the `orchctl pki init` code path) and a certificate for any
 * replica it lacks (started again with more --replicas); kept between runs so restarted
 * replicas keep their identities.
 */
export function ensureLocalPki(security: LocalSecurity, replicaIds: readonly string[]): void {
  if (!existsSync(path.join(security.pkiDir, "ca.pem"))) {
    initPki(security.pkiDir, replicaIds, []);
    return;
  }
  for (const id of replicaIds)
    if (!existsSync(path.join(security.pkiDir, `${id}.pem`)))
      issueCertificate({ dir: security.pkiDir, name: id, role: "replica", hosts: [], days: pkiLimits.leafDaysDefault });
}

/** The admin (client role) certificate orchctl and the demo's views connect with. */
export function adminTlsFiles(security: LocalSecurity): TlsFiles {
  const file = (name: string) => path.join(security.pkiDir, name);
  return { ca: file("ca.pem"), cert: file("admin.pem"), key: file("admin-key.pem") };
}

/** Flags the replicas get beyond their --tls-* files. */
export function replicaSecurityArgs(security: LocalSecurity | null): string[] {
  return security?.acl === true ? ["--acl"] : [];
}

/** orchctl's flags to reach the cluster as admin (and with the management token when ACLs are on). */
export function orchctlArgs(endpoints: string, security: LocalSecurity | null): string[] {
  if (security === null) return ["--endpoints", endpoints];
  const tls = adminTlsFiles(security);
  const token = security.acl ? readToken(security) : undefined;
  return [
    "--endpoints",
    endpoints,
    "--tls-ca",
    tls.ca,
    "--tls-cert",
    tls.cert,
    "--tls-key",
    tls.key,
    ...(token !== undefined ? ["--token", token] : []),
  ];
}

function readToken(security: LocalSecurity): string | undefined {
  return existsSync(security.tokenFile) ? readFileSync(security.tokenFile, "utf8").trim() : undefined;
}

/** Channel credentials for an OrchClient (demo views): mutual TLS, plus the token on every call when ACLs are on. */
export function localClientCredentials(security: LocalSecurity | null): ChannelCredentials | undefined {
  if (security === null) return undefined;
  const tls = clientCredentials(loadTlsMaterial(adminTlsFiles(security)));
  const token = security.acl ? readToken(security) : undefined;
  if (token === undefined) return tls;
  const bearer = grpcCredentials.createFromMetadataGenerator((_params, callback) => {
    const metadata = new Metadata();
    metadata.set("authorization", `Bearer ${token}`);
    callback(null, metadata);
  });
  return grpcCredentials.combineChannelCredentials(tls, bearer);
}

/** Starting a cluster whose data was wiped: the old secret names a token the new cluster never had. */
export function forgetToken(security: LocalSecurity): void {
  rmSync(security.tokenFile, { force: true });
}

export type BootstrapOutcome = "bootstrapped" | "kept" | "off";

/**
 * With ACLs on and no token file yet (first start): `orchctl acl bootstrap -o json` once a leader
 * answers, its secret stored 0600 in the token file. A cluster that was bootstrapped before but
 * lost its token file cannot be bootstrapped again (FAILED_PRECONDITION): that is an error saying
 * to start afresh with --wipe.
 */
export async function bootstrapToken(
  security: LocalSecurity | null,
  endpoints: string,
  timeoutSeconds: number,
): Promise<BootstrapOutcome> {
  if (security === null || !security.acl) return "off";
  if (existsSync(security.tokenFile)) return "kept";
  const stdout = new BufferSink();
  const stderr = new BufferSink();
  const args = [...orchctlArgs(endpoints, security), "--timeout", String(timeoutSeconds), "-o", "json"];
  const code = await run([...args, "acl", "bootstrap"], { stdout, stderr, env: {} });
  const answer = JSON.parse(stdout.text() || "{}") as { secret?: unknown; error?: { code?: string; message?: string } };
  if (code === 0 && typeof answer.secret === "string") {
    writeFileSync(security.tokenFile, `${answer.secret}\n`, { mode: 0o600 });
    chmodSync(security.tokenFile, 0o600);
    return "bootstrapped";
  }
  const why = answer.error?.message ?? stderr.text().trim();
  if (answer.error?.code === "FAILED_PRECONDITION")
    throw new Error(
      `the cluster's ACLs were bootstrapped before, but ${security.tokenFile} is gone: start afresh with --wipe (${why})`,
    );
  throw new Error(`orchctl acl bootstrap failed: ${why}`);
}

/**
 * Writes (or replaces) context `name` in the user's contexts file and makes it current, so
 * orchctl reaches this cluster with no flag or variable. Returns the file, or null when the
 * environment names no place for it.
 */
export function writeLocalContext(
  env: NodeJS.ProcessEnv,
  name: string,
  endpoints: string,
  security: LocalSecurity | null,
): string | null {
  const file = contextsFilePath(env);
  if (file === null) return null;
  const context = {
    name,
    endpoints: endpoints.split(","),
    ...(security !== null ? { tls: adminTlsFiles(security) } : {}),
    ...(security?.acl === true ? { tokenFile: security.tokenFile } : {}),
  };
  updateContextsFile(file, (config) => withContext(config, context, true));
  return file;
}
