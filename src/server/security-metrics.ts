import { Counter, Gauge, type Registry } from "prom-client";
import type { RaftNode } from "../raft/io/raft-node.js";
import type { ReplicaSecurity } from "./replica-security.js";

/** orchestrator_insecure, the certificate's expiry, and what the Raft transport refused. */
export function registerSecurityMetrics(registry: Registry, node: RaftNode, security: ReplicaSecurity): void {
  const insecure = new Gauge({
    name: "orchestrator_insecure",
    help: "1 when this replica was started with --insecure and serves plaintext beyond loopback",
    registers: [registry],
  });
  insecure.set(security.tls === undefined && security.insecure === true ? 1 : 0);
  const tls = security.tls;
  if (tls !== undefined) {
    const expiry = new Gauge({
      name: "orchestrator_tls_certificate_expiry_timestamp_seconds",
      help: "notAfter of this replica's TLS certificate (--tls-cert), in Unix seconds",
      registers: [registry],
    });
    expiry.set(Math.floor(tls.expiresAtMs / 1000));
  }
  const seen = new Map<string, number>();
  new Counter({
    name: "orchestrator_raft_messages_rejected_total",
    help: "Raft streams refused and messages dropped by the transport, by reason (stream_refused, from_mismatch, unknown_peer, invalid, cluster_id: a replica of another cluster)",
    labelNames: ["reason"],
    registers: [registry],
    collect() {
      for (const [reason, count] of node.rejectedMessageCounts()) {
        const delta = count - (seen.get(reason) ?? 0);
        if (delta > 0) this.inc({ reason }, delta);
        seen.set(reason, count);
      }
    },
  });
}
