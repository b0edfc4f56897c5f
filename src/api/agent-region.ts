import type { PeerCertificate } from "node:tls";
import { OrchestratorError } from "../lib/errors.js";
import { identityFromSubjectAltName } from "../lib/tls-identity.js";

/** The part of a server call that shows its credentials. */
export interface CredentialedCall {
  getAuthContext(): { sslPeerCertificate?: PeerCertificate };
}

/**
 * The one region the caller's credentials confine it to, or undefined when they name none (a
 * plaintext cluster, an agent certificate without a region). Agent tokens naming a region
 * (the ACL work) are to be read here too, so that every AgentService method sees one answer.
 */
export function credentialRegion(call: CredentialedCall): string | undefined {
  return identityFromSubjectAltName(call.getAuthContext().sslPeerCertificate?.subjectaltname)?.region;
}

/**
 * Refuses, with PERMISSION_DENIED, a request about a node of another region than the
 * credentials' one: an agent with eu-west-1 credentials registers, heartbeats, reports and
 * watches eu-west-1 nodes only. `regionOf` gives a node's region (undefined for a node not
 * registered: there is nothing of another region to protect yet).
 */
export function checkNodeRegions(
  region: string | undefined,
  nodeIds: Iterable<string>,
  regionOf: (nodeId: string) => string | undefined,
  verb: string,
): void {
  if (region === undefined) return;
  for (const nodeId of nodeIds) {
    const nodeRegion = regionOf(nodeId);
    if (nodeRegion !== undefined && nodeRegion !== region)
      throw new OrchestratorError(
        "PERMISSION_DENIED",
        `this agent certificate is for region ${region}; it cannot ${verb} node ${nodeId} of ${nodeRegion}`,
      );
  }
}
