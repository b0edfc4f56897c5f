import { Server, type ChannelCredentials } from "@grpc/grpc-js";
import { listenPlaintext, type BoundListener } from "../../lib/grpc-listener.js";
import { pino } from "pino";
import { assert } from "../../lib/assert.js";
import { withoutPort } from "../../lib/host-port.js";
import type { Logger } from "../../lib/logger.js";
import { RaftTransportServiceService } from "../../gen/raft/v1/raft.js";
import type { Message, ReplicaId } from "../core/types.js";
import { transportServerOptions } from "./transport-channel-options.js";
import { InboundService } from "./transport-inbound.js";
import { transportLimits, type TransportLimits } from "./transport-limits.js";
import { PeerStream, type PeerStreamEnv, type PeerStreamState, type PeerStreamStats } from "./transport-peer-stream.js";
import type { RejectReason, TransportSecurity } from "./transport-security.js";
import { SnapshotSender, type SnapshotSenderEnv } from "./transport-snapshot-sender.js";

/** How the transport talks back to the replica's driver. Handlers run on the event loop, never re-entrantly from send(). */
export interface TransportHandlers {
  /** A message for this replica; snapshot messages arrive whole, reassembled. */
  onMessage(message: Message): void;
  /** A live connection with `peer` was reset or closed: the driver reports it to the core if `peer` leads. */
  onPeerConnectionLost(peer: ReplicaId): void;
  /** Messages to `peer` were dropped or could not be delivered. */
  onUnreachable(peer: ReplicaId): void;
  /** A snapshot send to `peer` finished (true) or failed (false). */
  onSnapshotStatus(peer: ReplicaId, ok: boolean): void;
  /** A sampled round trip of a batch and its ack (orchestrator_raft_peer_round_trip_seconds). */
  onRoundTrip?(peer: ReplicaId, seconds: number): void;
}

export interface GrpcTransportOptions {
  readonly id: ReplicaId;
  /** host:port to serve on; port 0 picks a free one (see `port()` after start). */
  readonly listenAddress: string;
  /** Every other replica's transport address (host:port). */
  readonly peers: ReadonlyMap<ReplicaId, string>;
  readonly handlers: TransportHandlers;
  readonly logger?: Logger;
  readonly limits?: Partial<TransportLimits>;
  /** Mutual TLS with peer identities from certificates; plaintext when absent. */
  readonly security?: TransportSecurity;
  /** This cluster's identity: sent to peers, and a peer sending another one is refused. */
  readonly clusterId?: string;
}

type TransportState = "new" | "starting" | "running" | "stopped";

interface PeerChannels {
  readonly address: string;
  readonly stream: PeerStream;
  readonly snapshots: SnapshotSender;
}

/**
 * Raft messages between replicas over gRPC. Each peer gets one long-lived outgoing batch
 * stream (PeerStream) plus a snapshot sender on its own connection; the server side
 * (InboundService) receives the peers' streams. send() never blocks: it queues and the queue
 * drains once per event-loop turn.
 */
export class GrpcTransport {
  readonly id: ReplicaId;
  private readonly limits: TransportLimits;
  private readonly logger: Logger;
  private readonly handlers: TransportHandlers;
  private readonly listenAddress: string;
  private peerAddresses: ReadonlyMap<ReplicaId, string>;
  private readonly peers = new Map<ReplicaId, PeerChannels>();
  private readonly inbound: InboundService;
  private server: Server | null = null;
  private state: TransportState = "new";
  private boundPort = 0;
  private listener: BoundListener = { port: 0, close: () => undefined };
  private readonly security: TransportSecurity | undefined;
  private readonly clusterId: string | undefined;
  private readonly rejected = new Map<RejectReason, number>();

  constructor(options: GrpcTransportOptions) {
    assert(options.id !== "", "a transport needs its replica's id");
    this.id = options.id;
    this.listenAddress = options.listenAddress;
    this.handlers = options.handlers;
    this.limits = transportLimits(options.limits);
    this.logger = (options.logger ?? pino({ level: "silent" })).child({ component: "raft-transport" });
    this.peerAddresses = withoutSelf(options.peers, this.id);
    this.security = options.security;
    this.clusterId = options.clusterId;
    this.inbound = new InboundService({
      ...(options.security !== undefined ? { security: options.security } : {}),
      ...(options.clusterId !== undefined ? { clusterId: options.clusterId } : {}),
      onRejected: (reason) => this.rejected.set(reason, (this.rejected.get(reason) ?? 0) + 1),
      selfId: this.id,
      limits: this.limits,
      logger: this.logger,
      isKnownPeer: (peer) => this.peerAddresses.has(peer),
      isRunning: () => this.state === "running",
      onMessage: (message) => this.handlers.onMessage(message),
      onPeerConnectionLost: (peer) => this.handlers.onPeerConnectionLost(peer),
    });
  }

  /** Binds the gRPC server; rejects with an actionable error if the address is taken or invalid. */
  async start(): Promise<void> {
    assert(this.state === "new", `transport start() called in state ${this.state}`);
    this.state = "starting";
    const server = new Server(transportServerOptions(this.limits));
    server.addService(RaftTransportServiceService, this.inbound.implementation());
    try {
      const listen = this.security?.listen ?? listenPlaintext;
      this.listener = await listen(server, this.listenAddress);
      this.boundPort = this.listener.port;
    } catch (error) {
      server.forceShutdown();
      this.state = "stopped";
      const detail = error instanceof Error ? error.message : String(error);
      // A startup failure, not a request's: main reports it and exits.
      throw new Error(`raft transport of ${this.id} cannot listen on ${this.listenAddress}: ${detail}`, {
        cause: error,
      });
    }
    if (this.state !== "starting") {
      // stop() ran while binding.
      this.listener.close();
      server.forceShutdown();
      return;
    }
    this.server = server;
    this.state = "running";
    this.logger.info({ replica: this.id, address: this.address() }, "raft transport listening");
    this.openStreams();
  }

  /**
   * A stream to every peer from the start, kept up (reconnecting) whether or not anything is
   * sent: followers rarely talk to each other, and the one time they must (votes after the
   * leader died) a stream opened lazily then, or one sitting in a reconnect delay since that
   * peer restarted, cost hundreds of milliseconds of the failover.
   */
  private openStreams(): void {
    if (this.state !== "running") return;
    for (const peer of this.peerAddresses.keys()) this.channelsFor(peer)?.stream.open();
  }

  /** The port actually bound (useful when listening on port 0). */
  port(): number {
    assert(this.state === "running", "the transport is not running");
    return this.boundPort;
  }

  /** The address peers reach this replica on, with the bound port. */
  address(): string {
    return `${withoutPort(this.listenAddress)}:${this.port()}`;
  }

  /** Queues messages for their peers; returns at once. Snapshots start streaming on their own call. */
  send(messages: readonly Message[]): void {
    if (this.state === "stopped") return;
    let unknown: Set<ReplicaId> | null = null;
    let snapshotsFailed: ReplicaId[] | null = null;
    for (const message of messages) {
      assert(message.from === this.id, `sending a message from ${message.from} through ${this.id}'s transport`);
      const channels = this.channelsFor(message.to);
      if (channels === null) {
        this.logger.debug({ to: message.to, type: message.type }, "dropped a message to an unknown peer");
        (unknown ??= new Set()).add(message.to);
        if (message.type === "snapshot") (snapshotsFailed ??= []).push(message.to);
        continue;
      }
      if (message.type === "snapshot") channels.snapshots.send(message);
      else channels.stream.send(message);
    }
    // Reported on a later turn: handlers never run inside send().
    if (unknown !== null || snapshotsFailed !== null) {
      setImmediate(() => {
        for (const peer of unknown ?? []) this.reportUnreachable(peer);
        for (const peer of snapshotsFailed ?? [])
          if (this.state === "running") this.handlers.onSnapshotStatus(peer, false);
      });
    }
  }

  /** Replaces the peer set: streams to removed or moved peers close, new peers' streams open. */
  setPeers(peers: ReadonlyMap<ReplicaId, string>): void {
    this.peerAddresses = withoutSelf(peers, this.id);
    for (const [peer, channels] of this.peers) {
      if (this.peerAddresses.get(peer) === channels.address) continue;
      closeChannels(channels, this.state === "running");
      this.peers.delete(peer);
    }
    this.openStreams();
  }

  /** Closes every stream and the server at once; no handler runs afterwards. */
  async stop(): Promise<void> {
    if (this.state === "stopped") return;
    this.state = "stopped";
    for (const channels of this.peers.values()) closeChannels(channels, false);
    this.peers.clear();
    this.inbound.closeAll();
    const server = this.server;
    this.server = null;
    // Peers learn of the stop from their broken streams; there is nothing worth draining.
    this.listener.close();
    server?.forceShutdown();
    // The listening socket closes on the next loop turn; after that the port can be bound again.
    await new Promise((resolve) => setImmediate(resolve));
  }

  /** For tests and metrics: what waits for `peer` and what went to it so far (null before the first send). */
  peerStats(
    peer: ReplicaId,
  ): (PeerStreamStats & { queuedMessages: number; queuedBytes: number; state: PeerStreamState }) | null {
    const stream = this.peers.get(peer)?.stream;
    if (stream === undefined) return null;
    return {
      ...stream.statistics(),
      queuedMessages: stream.queuedMessages(),
      queuedBytes: stream.queuedBytes(),
      state: stream.currentState(),
    };
  }

  /** Refused incoming streams and dropped messages by reason (orchestrator_raft_messages_rejected_total). */
  rejectedCounts(): ReadonlyMap<RejectReason, number> {
    return this.rejected;
  }

  private channelsFor(peer: ReplicaId): PeerChannels | null {
    const existing = this.peers.get(peer);
    if (existing !== undefined) return existing;
    const address = this.peerAddresses.get(peer);
    if (address === undefined) return null;
    const channels: PeerChannels = {
      address,
      stream: new PeerStream(peer, address, this.peerStreamEnv()),
      snapshots: new SnapshotSender(peer, address, this.snapshotSenderEnv()),
    };
    this.peers.set(peer, channels);
    return channels;
  }

  private peerStreamEnv(): PeerStreamEnv {
    return {
      selfId: this.id,
      limits: this.limits,
      logger: this.logger,
      ...this.credentialsEnv(),
      ...this.clusterIdEnv(),
      onConnectionLost: (peer) => {
        if (this.state === "running") this.handlers.onPeerConnectionLost(peer);
      },
      onUnreachable: (peer) => this.reportUnreachable(peer),
      onRoundTrip: (peer, seconds) => {
        if (this.state === "running") this.handlers.onRoundTrip?.(peer, seconds);
      },
    };
  }

  private snapshotSenderEnv(): SnapshotSenderEnv {
    return {
      limits: this.limits,
      logger: this.logger,
      ...this.credentialsEnv(),
      ...this.clusterIdEnv(),
      onSnapshotStatus: (peer, ok) => {
        if (this.state === "running") this.handlers.onSnapshotStatus(peer, ok);
      },
    };
  }

  private clusterIdEnv(): { clusterId?: string } {
    return this.clusterId === undefined ? {} : { clusterId: this.clusterId };
  }

  private credentialsEnv(): { credentials?: ChannelCredentials } {
    return this.security === undefined ? {} : { credentials: this.security.clientCredentials() };
  }

  private reportUnreachable(peer: ReplicaId): void {
    if (this.state === "running") this.handlers.onUnreachable(peer);
  }
}

function withoutSelf(peers: ReadonlyMap<ReplicaId, string>, self: ReplicaId): ReadonlyMap<ReplicaId, string> {
  const copy = new Map(peers);
  copy.delete(self);
  return copy;
}

function closeChannels(channels: PeerChannels, reportSnapshotFailure: boolean): void {
  channels.stream.close();
  channels.snapshots.close(reportSnapshotFailure);
}
