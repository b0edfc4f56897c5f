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
 * the same --peers, so each derives the same id from the voters and their Raft addresses (and
 * --cluster-token, which makes two clusters on the same addresses differ).
 */
export function foundingClusterId(voters: ReadonlyMap<ReplicaId, string>, token = ""): string {
  return derive("orchestrator founding cluster", voters, [token]);
}

/**
 * The identity of a cluster restored from a backup file: derived from the file's checksum and
 * the new members, so the replicas restored one by one from the same file with the same --peers
 * agree, and differ from the cluster the backup came from (whose id has another derivation).
 */
export function restoredClusterId(fileChecksum: string, voters: ReadonlyMap<ReplicaId, string>, token = ""): string {
  return derive("orchestrator restored cluster", voters, [fileChecksum, token]);
}

function derive(domain: string, voters: ReadonlyMap<ReplicaId, string>, extra: readonly string[]): string {
  const hash = createHash("sha256").update(`${domain}\n`);
  for (const id of [...voters.keys()].sort()) hash.update(`${id}=${voters.get(id) ?? ""}\n`);
  for (const part of extra) hash.update(`${part}\n`);
  return hash.digest("hex").slice(0, generatedHexChars);
}
