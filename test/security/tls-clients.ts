import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { expect } from "vitest";
import { ClusterStatusRequest, OrchestratorServiceClient } from "../../src/gen/orchestrator/v1/orchestrator.js";
import { RaftTransportServiceClient, type StreamResponse } from "../../src/gen/raft/v1/raft.js";
import { message } from "../../src/raft/core/types.js";
import { encodeMessage } from "../../src/raft/io/transport-message-codec.js";
import { orchctl, within } from "../cluster/harness.js";

/** Raw gRPC clients of the security tests: each presents a chosen certificate (or none) to one replica. */

/** A certificate to present: the CA it trusts, its certificate and key. `cert` null: TLS without a client certificate. */
export interface Identity {
  readonly ca: string;
  readonly cert: string | null;
  readonly key: string | null;
}

/** Certificate `name` of an `orchctl pki` directory, trusting `ca` (the directory's own by default). */
export function identity(dir: string, name: string, ca = path.join(dir, "ca.pem")): Identity {
  return { ca, cert: path.join(dir, `${name}.pem`), key: path.join(dir, `${name}-key.pem`) };
}

/** null: plaintext. */
export function credentialsOf(who: Identity | null): grpc.ChannelCredentials {
  if (who === null) return grpc.credentials.createInsecure();
  const ca = readFileSync(who.ca);
  if (who.cert === null || who.key === null) return grpc.credentials.createSsl(ca);
  return grpc.credentials.createSsl(ca, readFileSync(who.key), readFileSync(who.cert));
}

export async function pkiCommand(args: readonly string[]): Promise<void> {
  const result = await orchctl(["pki", ...args]);
  expect(result.code, result.stderr).toBe(0);
}

/** A self-signed certificate (its own CA) naming `uri` in its SAN, written to dir/name.pem and name-key.pem. */
export function selfSigned(dir: string, name: string, uri: string): Identity {
  const cert = path.join(dir, `${name}.pem`);
  const key = path.join(dir, `${name}-key.pem`);
  execFileSync(
    "openssl",
    [
      ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"],
      ...["-keyout", key, "-out", cert, "-subj", `/CN=${name}`, "-days", "30"],
      ...["-addext", `subjectAltName=${uri}`],
    ],
    { stdio: "ignore" },
  );
  return { ca: cert, cert, key };
}

/**
 * A certificate signed by the CA of `pkiDir` whose validity starts in the future (`openssl ca`
 * sets the start date; `orchctl pki` only ever starts now).
 */
export function notYetValid(pkiDir: string, scratch: string, name: string, uri: string): Identity {
  const file = (f: string) => path.join(scratch, f);
  writeFileSync(file("index.txt"), "");
  writeFileSync(file("serial"), "1000\n");
  writeFileSync(
    file("ca.cnf"),
    [
      "[ca]",
      "default_ca = future",
      "[future]",
      `database = ${file("index.txt")}`,
      `new_certs_dir = ${scratch}`,
      `serial = ${file("serial")}`,
      "default_md = sha256",
      "policy = anything",
      "[anything]",
      "commonName = supplied",
      "",
    ].join("\n"),
  );
  writeFileSync(file("ext.cnf"), `subjectAltName=${uri}\nextendedKeyUsage=serverAuth,clientAuth\n`);
  const key = file(`${name}-key.pem`);
  const cert = file(`${name}.pem`);
  execFileSync(
    "openssl",
    [
      ...["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"],
      ...["-keyout", key, "-out", file(`${name}.csr`), "-subj", `/CN=${name}`],
    ],
    { stdio: "ignore" },
  );
  execFileSync(
    "openssl",
    [
      ...["ca", "-batch", "-notext", "-config", file("ca.cnf"), "-extfile", file("ext.cnf")],
      ...["-cert", path.join(pkiDir, "ca.pem"), "-keyfile", path.join(pkiDir, "ca-key.pem")],
      ...["-startdate", "20990101000000Z", "-enddate", "20991231000000Z"],
      ...["-in", file(`${name}.csr`), "-out", cert],
    ],
    { stdio: "ignore" },
  );
  return { ca: path.join(pkiDir, "ca.pem"), cert, key };
}

export type RaftOutcome = { kind: "answered" } | { kind: "refused"; code: grpc.status; details: string };

type RaftCall = grpc.ClientDuplexStream<{ messages: unknown[]; ackRequested: boolean }, StreamResponse>;

/** How a Raft stream to `raftAddress` opened as `who` (with `metadata`) went: the first answer or the status it ended with. */
export function openRaftStream(
  raftAddress: string,
  who: Identity | null,
  send: (call: RaftCall) => void,
  metadata = new grpc.Metadata(),
): Promise<RaftOutcome> {
  const client = new RaftTransportServiceClient(raftAddress, credentialsOf(who));
  const call = client.stream(metadata, { deadline: Date.now() + 10_000 });
  return within(
    "the raft stream's first answer or status",
    15_000,
    new Promise<RaftOutcome>((resolve) => {
      call.on("data", () => {
        resolve({ kind: "answered" });
        call.cancel();
      });
      call.on("error", (error: grpc.ServiceError) =>
        resolve({ kind: "refused", code: error.code, details: error.details }),
      );
      send(call as never);
    }),
  ).finally(() => client.close());
}

export function heartbeatFrom(from: string, to: string, term: number) {
  return { messages: [encodeMessage(message({ type: "heartbeat", from, to, term }))], ackRequested: true };
}

/** clusterStatus on `apiAddress` as `who`: null when answered, else the status code. */
export function apiCall(
  apiAddress: string,
  who: Identity | null,
  metadata = new grpc.Metadata(),
  timeoutMs = 5_000,
): Promise<grpc.status | null> {
  const client = new OrchestratorServiceClient(apiAddress, credentialsOf(who));
  return new Promise<grpc.status | null>((resolve) => {
    client.clusterStatus(
      ClusterStatusRequest.fromPartial({}),
      metadata,
      { deadline: Date.now() + timeoutMs },
      (error) => resolve(error === null ? null : error.code),
    );
  }).finally(() => client.close());
}
