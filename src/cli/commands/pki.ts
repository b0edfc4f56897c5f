import type { Command } from "commander";
import { certificateRoles, isCertificateRole } from "../../lib/tls-identity.js";
import { UsageError } from "../errors.js";
import type { CliIo } from "../io.js";
import { initPki, issueCertificate, pkiLimits } from "../pki/openssl-pki.js";

const EXAMPLES = `
Examples:
  orchctl pki init --dir ./pki --replicas r1,r2,r3 --hosts orch-1.internal,10.0.0.5
  orchctl pki issue --dir ./pki --name r4 --role replica --hosts orch-4.internal
  orchctl pki issue --dir ./pki --name agent-eu --role agent --region eu-west-1

Identity: a URI SAN orchestrator://<role>/<name> (subject OU = role, CN = name); an agent's region,
if any, as orchestrator://region/<region>. Replica certificates are valid for --hosts plus
localhost and 127.0.0.1. Key files are written 0600.
`;

function list(text: string | undefined): string[] {
  return (text ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

/** `orchctl pki init|issue`: local files only, no cluster involved. */
export function registerPki(parent: Command, io: CliIo): void {
  const pki = parent
    .command("pki")
    .description("make a CA and certificates for mutual TLS")
    .addHelpText("after", EXAMPLES);
  pki
    .command("init")
    .description("create a CA, one certificate per replica, an agent and an admin (client) certificate")
    .requiredOption("--dir <dir>", "directory to write into (created 0700)")
    .requiredOption("--replicas <ids>", "replica ids, comma-separated (e.g. r1,r2,r3)")
    .option("--hosts <list>", "extra DNS names or IPs the replica certificates are valid for")
    .action((flags: { dir: string; replicas: string; hosts?: string }) => {
      const replicas = list(flags.replicas);
      if (replicas.length === 0) throw new UsageError("--replicas names no replica");
      for (const path of initPki(flags.dir, replicas, list(flags.hosts))) io.stdout.write(`wrote ${path}\n`);
    });
  pki
    .command("issue")
    .description("sign one more certificate with the CA in --dir")
    .requiredOption("--dir <dir>", "directory holding ca.pem and ca-key.pem")
    .requiredOption("--name <name>", "identity, also the file name: NAME.pem, NAME-key.pem")
    .requiredOption("--role <role>", `one of ${certificateRoles.join(", ")}`)
    .option("--region <region>", "the one region an agent certificate may serve")
    .option("--hosts <list>", "DNS names or IPs the certificate is valid for (replicas add localhost, 127.0.0.1)")
    .option("--days <n>", "validity in days", String(pkiLimits.leafDaysDefault))
    .action((flags: { dir: string; name: string; role: string; region?: string; hosts?: string; days: string }) => {
      if (!isCertificateRole(flags.role))
        throw new UsageError(`--role must be one of ${certificateRoles.join(", ")}, got ${JSON.stringify(flags.role)}`);
      const days = Number(flags.days);
      if (!Number.isInteger(days) || days === 0)
        throw new UsageError(`--days must be a whole number, got ${flags.days}`);
      const written = issueCertificate({
        dir: flags.dir,
        name: flags.name,
        role: flags.role,
        hosts: list(flags.hosts),
        days,
        ...(flags.region !== undefined ? { region: flags.region } : {}),
      });
      for (const path of written) io.stdout.write(`wrote ${path}\n`);
    });
}
