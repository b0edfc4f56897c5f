import { createHash, randomBytes } from "node:crypto";
import type { ReplicaId } from "../core/types.js";

/**
 * A cluster's identity: lowercase hex, at least 128 bits. Every replica's store holds it and the
 * transport sends it with every stream, so replicas of two different clusters (a restored copy
 * and the original, a cluster rebuilt by --force-new-cluster and the replicas it left behind)
 * refuse each other instead of mixing two logs.
 */
export const clusterIdPattern = /^[0-9a-f]{32,64}$/;
const generatedHexChars = 32;

/** Raft stream and snapshot metadata carrying the sender's cluster id. */
export const clusterIdMetadataKey = "x-orch-cluster-id";

export function isValidClusterId(text: string): boolean {
  return clusterIdPattern.test(text);
}

/** A fresh identity: for a restored cluster's replicas made one at a time, and --force-new-cluster. */
export function randomClusterId(): string {
  return randomBytes(generatedHexChars / 2).toString("hex");
}

/**
 * The identity founding replicas agree on without talking: each is started independently with
 * the same voters, so each derives the same id from their ids (and --cluster-token, which makes
 * two clusters with the same replica ids differ). Not from the Raft addresses: replicas may name
 * each other differently (a hostname here, an IP there, a proxy in between), and a cluster whose
 * founders disagree on its id would never form.
 */
export function foundingClusterId(voters: Iterable<ReplicaId>, token = ""): string {
  return derive("orchestrator founding cluster", voters, [token]);
}

/**
 * The identity of a cluster restored from a backup file: derived from the file's checksum and
 * the new voters, so the replicas restored one by one from the same file agree, and differ from
 * the cluster the backup came from (whose id has another derivation).
 */
export function restoredClusterId(fileChecksum: string, voters: Iterable<ReplicaId>, token = ""): string {
  return derive("orchestrator restored cluster", voters, [fileChecksum, token]);
}

function derive(domain: string, voters: Iterable<ReplicaId>, extra: readonly string[]): string {
  const hash = createHash("sha256").update(`${domain}\n`);
  for (const id of [...voters].sort()) hash.update(`voter ${id}\n`);
  for (const part of extra) hash.update(`${part}\n`);
  return hash.digest("hex").slice(0, generatedHexChars);
}
