import type { Command } from "commander";
import { ClusterStatusRequest, type ClusterStatusResponse } from "../../gen/orchestrator/v1/orchestrator.js";
import { orDash, renderFields, renderTable } from "../output.js";
import type { SessionFor } from "../session.js";
import { peerCertificateExpiry } from "../peer-certificate.js";

const EXAMPLES = `
Examples:
  orchctl cluster
  orchctl cluster --endpoints 127.0.0.1:50052    # as one particular replica sees it
`;

export function renderCluster(status: ClusterStatusResponse, certificateExpiry?: Date | null): string {
  const leader =
    status.leaderId === ""
      ? "none known (election under way?)"
      : `${status.leaderId}${status.leaderAddress === "" ? "" : ` (${status.leaderAddress})`}`;
  const fields = renderFields([
    ["Leader", leader],
    ["Term", String(status.term)],
    ["Commit index", String(status.commitIndex)],
    ["Applied index", String(status.appliedIndex)],
    ["Answered by", `${orDash(status.replicaId)} (${orDash(status.role)})`],
    ...(certificateExpiry === undefined
      ? []
      : [["Certificate expires", certificateExpiry === null ? "unknown" : certificateExpiry.toISOString()] as const]),
  ]);
  const members = [...status.members].sort((a, b) => a.id.localeCompare(b.id));
  const rows = members.map((member) => [
    member.id,
    orDash(member.role),
    orDash(member.apiAddress),
    orDash(member.raftAddress),
    String(member.matchIndex),
    member.reachable ? "yes" : "no",
  ]);
  const table =
    rows.length === 0
      ? ""
      : `\n${renderTable(["ID", "ROLE", "API-ADDRESS", "RAFT-ADDRESS", "MATCH-INDEX", "REACHABLE"], rows)}`;
  return fields + table;
}

export function registerCluster(parent: Command, sessionFor: SessionFor): void {
  parent
    .command("cluster")
    .description("show the control-plane replicas: roles, leader, term, commit and applied index")
    .addHelpText("after", EXAMPLES)
    .action(async (_flags: unknown, command: Command) => {
      const session = sessionFor(command);
      const status = await session.client.call("clusterStatus", ClusterStatusRequest.fromPartial({}));
      // With TLS: the answering replica's certificate expiry, read by a handshake of our own.
      const tls = session.options.tls;
      const answeredBy = status.members.find((m) => m.id === status.replicaId)?.apiAddress;
      const expiry =
        tls === undefined
          ? undefined
          : answeredBy === undefined || answeredBy === ""
            ? null
            : await peerCertificateExpiry(answeredBy, tls.files);
      if (session.out.isJson)
        session.out.json(
          expiry === undefined
            ? status
            : { ...status, certificateExpiry: expiry === null ? null : expiry.toISOString() },
        );
      else session.out.text(renderCluster(status, expiry));
    });
}
