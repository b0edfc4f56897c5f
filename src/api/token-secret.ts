import { createHash, randomBytes } from "node:crypto";
import { accessLimits } from "./access-limits.js";

/**
 * A token's secret: 256 random bits, base64url, with a prefix that makes a leaked one easy to
 * recognise in logs and code (secret scanners look for such prefixes).
 */
export function newTokenSecret(): string {
  return `orch_${randomBytes(accessLimits.secretBytes).toString("base64url")}`;
}

/** What the cluster stores and compares: the lowercase hex SHA-256 of the secret. */
export function secretSha256(secret: string): string {
  return createHash("sha256").update(secret, "utf8").digest("hex");
}
