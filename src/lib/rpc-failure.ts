import * as grpc from "@grpc/grpc-js";
import type { KnownLeader } from "./leader-targets.js";

/** The gRPC status name of a numeric code, e.g. 5 -> "NOT_FOUND". */
export function grpcStatusName(code: number): string {
  const name = (grpc.status as unknown as Record<number, string | undefined>)[code];
  return name ?? `STATUS_${code}`;
}

/** grpc-js's own wording when it could not reach a replica (as opposed to a replica's UNAVAILABLE answer). */
const connectionFailureDetails =
  /no connection established|connection dropped|failed to connect|ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENOTFOUND/i;

/** One failed attempt at one replica, with what its trailers said. */
export class RpcFailure extends Error {
  /** Set when the replica that failed was the leader the client knew. */
  leaderAtAddress: KnownLeader | undefined;

  constructor(
    readonly code: number,
    readonly details: string,
    readonly address: string,
    /** The leader named in the x-leader-id / x-leader-address trailers, when there were some. */
    readonly redirect: KnownLeader | undefined,
    /**
     * The x-agent-address trailer: the replica answered, and what it could not reach is a node
     * agent behind it, which every other replica would fail to reach too.
     */
    readonly agentAddress?: string,
  ) {
    super(`${grpcStatusName(code)} from ${address}${details === "" ? "" : `: ${details}`}`);
    this.name = "RpcFailure";
  }

  get statusName(): string {
    return grpcStatusName(this.code);
  }

  /** grpc-js's own UNAVAILABLE for a replica it could not reach (as opposed to a replica's answer). */
  get isConnectionFailure(): boolean {
    return this.code === grpc.status.UNAVAILABLE && connectionFailureDetails.test(this.details);
  }

  /** The first sentence of the details, for one-line progress messages. */
  get shortDetails(): string {
    const first = this.details.split(/\.\s|\s\(/)[0] ?? "";
    return first === "" ? this.statusName : first.slice(0, 100);
  }

  /** A follower's "not the leader, ask X" (X being another replica). */
  get leaderRedirect(): KnownLeader | undefined {
    if (this.code !== grpc.status.UNAVAILABLE || this.redirect === undefined) return undefined;
    return this.redirect.address === this.address ? undefined : this.redirect;
  }
}

function firstString(metadata: grpc.Metadata | undefined, key: string): string | undefined {
  const value = metadata?.get(key)[0];
  if (value === undefined) return undefined;
  const text = typeof value === "string" ? value : value.toString("utf8");
  return text === "" ? undefined : text;
}

/** A grpc-js error (or anything thrown by an attempt at `address`) as an RpcFailure. */
export function toRpcFailure(error: unknown, address: string): RpcFailure {
  if (error instanceof RpcFailure) return error;
  const service = error as Partial<grpc.ServiceError>;
  if (typeof service.code !== "number")
    return new RpcFailure(
      grpc.status.UNKNOWN,
      error instanceof Error ? error.message : String(error),
      address,
      undefined,
    );
  const leaderAddress = firstString(service.metadata, "x-leader-address");
  const leaderId = firstString(service.metadata, "x-leader-id") ?? leaderAddress ?? "";
  const redirect = leaderAddress === undefined ? undefined : { id: leaderId, address: leaderAddress };
  return new RpcFailure(
    service.code,
    service.details ?? "",
    address,
    redirect,
    firstString(service.metadata, "x-agent-address"),
  );
}
