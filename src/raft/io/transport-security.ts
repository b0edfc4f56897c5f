import type { ChannelCredentials } from "@grpc/grpc-js";
import type { PeerCertificate } from "node:tls";
import type { Listen } from "../../lib/grpc-listener.js";
import type { ReplicaId } from "../core/types.js";

/**
 * Mutual TLS for the transport, handed in by the replica's wiring (src/raft knows no files nor
 * certificate formats). With it, a stream's peer is the replica its certificate names; without
 * it (loopback development clusters) the peer names itself in metadata.
 */
export interface TransportSecurity {
  /** Serves the transport behind mutual TLS (handshake limits and refusal logs included). */
  readonly listen: Listen;
  clientCredentials(): ChannelCredentials;
  /** The replica id the call's client certificate names, or why it names none. */
  peerIdentity(call: AuthenticatedCall): { ok: true; value: ReplicaId } | { ok: false; error: string };
}

/** Why an incoming message or stream was refused: the label of orchestrator_raft_messages_rejected_total. */
export type RejectReason = "stream_refused" | "from_mismatch" | "unknown_peer" | "invalid" | "cluster_id";

/** The part of a server call that tells who connected (grpc-js exports no name for it). */
export interface AuthenticatedCall {
  getPeer(): string;
  getAuthContext(): { sslPeerCertificate?: PeerCertificate };
}
