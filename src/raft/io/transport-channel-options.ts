import type { ChannelOptions } from "@grpc/grpc-js";
import type { TransportLimits } from "./transport-limits.js";

/**
 * gRPC options for replica-to-replica traffic: low latency on a LAN or loopback, big batches,
 * quick reconnects. Every number comes from the transport limits.
 */
export function transportClientOptions(limits: TransportLimits): ChannelOptions {
  return {
    ...commonOptions(limits),
    "grpc.initial_reconnect_backoff_ms": limits.reconnectDelayMsInitial,
    "grpc.max_reconnect_backoff_ms": limits.reconnectDelayMsMax,
    // Retries would buffer our writes out of sight; Raft retransmits by itself.
    "grpc.enable_retries": 0,
    // A connection of our own per client: the batch stream and the snapshot stream must not
    // share one TCP connection (head-of-line blocking), nor share with other clients in-process.
    "grpc.use_local_subchannel_pool": 1,
    "grpc.keepalive_permit_without_calls": 1,
  };
}

export function transportServerOptions(limits: TransportLimits): ChannelOptions {
  return commonOptions(limits);
}

function commonOptions(limits: TransportLimits): ChannelOptions {
  return {
    "grpc.keepalive_time_ms": limits.keepaliveTimeMs,
    "grpc.keepalive_timeout_ms": limits.keepaliveTimeoutMs,
    "grpc.max_send_message_length": limits.grpcMessageBytesMax,
    "grpc.max_receive_message_length": limits.grpcMessageBytesMax,
    "grpc-node.max_session_memory": limits.sessionMemoryMiBMax,
  };
}
