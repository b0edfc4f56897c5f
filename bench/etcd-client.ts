/**
 * A minimal etcd v3 gRPC client for the benchmarks: KV.Put with a hand-encoded PutRequest
 * ({bytes key = 1; bytes value = 2}; the response is not decoded) and Maintenance.Status (to find
 * the leader; only the fields needed are decoded). No etcd library is involved, so the client
 * side costs about what our own generated client costs.
 */
import * as grpc from "@grpc/grpc-js";

const identity = (bytes: Buffer): Buffer => bytes;

const etcdService = {
  put: {
    path: "/etcdserverpb.KV/Put",
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
  status: {
    path: "/etcdserverpb.Maintenance/Status",
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
} satisfies grpc.ServiceDefinition;

type RawUnary = (
  request: Buffer,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (error: grpc.ServiceError | null, response?: Buffer) => void,
) => grpc.ClientUnaryCall;
type EtcdRawClient = grpc.Client & { put: RawUnary; status: RawUnary };

const EtcdClientConstructor = grpc.makeGenericClientConstructor(etcdService, "etcd") as unknown as new (
  address: string,
  credentials: grpc.ChannelCredentials,
  options?: grpc.ClientOptions,
) => EtcdRawClient;

function writeVarint(out: number[], value: number): void {
  let v = value;
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
}

/** PutRequest { bytes key = 1; bytes value = 2; } */
export function encodePutRequest(key: Uint8Array, value: Uint8Array): Buffer {
  const head: number[] = [];
  head.push(0x0a);
  writeVarint(head, key.length);
  const keyHead = Buffer.from(head);
  const mid: number[] = [0x12];
  writeVarint(mid, value.length);
  return Buffer.concat([keyHead, key, Buffer.from(mid), value]);
}

interface Field {
  readonly number: number;
  readonly varint?: bigint;
  readonly bytes?: Buffer;
}

function readVarint(buf: Buffer, at: number): [bigint, number] {
  let result = 0n;
  let shift = 0n;
  let pos = at;
  for (;;) {
    if (pos >= buf.length) throw new Error("truncated varint");
    const byte = buf[pos++];
    result |= BigInt(byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return [result, pos];
    shift += 7n;
  }
}

/** Top-level fields of a protobuf message (varint and length-delimited only; others skipped). */
function fields(buf: Buffer): Field[] {
  const out: Field[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const [tag, next] = readVarint(buf, pos);
    pos = next;
    const number = Number(tag >> 3n);
    const wire = Number(tag & 7n);
    if (wire === 0) {
      const [value, after] = readVarint(buf, pos);
      pos = after;
      out.push({ number, varint: value });
    } else if (wire === 2) {
      const [length, after] = readVarint(buf, pos);
      const end = after + Number(length);
      out.push({ number, bytes: buf.subarray(after, end) });
      pos = end;
    } else if (wire === 1) {
      pos += 8;
    } else if (wire === 5) {
      pos += 4;
    } else {
      throw new Error(`unsupported wire type ${wire}`);
    }
  }
  return out;
}

export interface EtcdStatus {
  /** Member ids are 64-bit: kept as decimal strings. */
  readonly memberId: string;
  readonly leaderId: string;
  readonly raftTerm: number;
  readonly raftIndex: number;
  readonly raftAppliedIndex: number;
}

/** StatusResponse { ResponseHeader header = 1 {member_id = 2}; uint64 leader = 4; raftIndex = 5; raftTerm = 6; raftAppliedIndex = 7 } */
export function decodeStatusResponse(buf: Buffer): EtcdStatus {
  let memberId = "";
  let leaderId = "";
  let raftTerm = 0;
  let raftIndex = 0;
  let raftAppliedIndex = 0;
  for (const field of fields(buf)) {
    if (field.number === 1 && field.bytes !== undefined) {
      for (const inner of fields(field.bytes))
        if (inner.number === 2 && inner.varint !== undefined) memberId = inner.varint.toString();
    } else if (field.number === 4 && field.varint !== undefined) {
      leaderId = field.varint.toString();
    } else if (field.number === 5 && field.varint !== undefined) {
      raftIndex = Number(field.varint);
    } else if (field.number === 6 && field.varint !== undefined) {
      raftTerm = Number(field.varint);
    } else if (field.number === 7 && field.varint !== undefined) {
      raftAppliedIndex = Number(field.varint);
    }
  }
  return { memberId, leaderId, raftTerm, raftIndex, raftAppliedIndex };
}

/** One gRPC channel (its own TCP connection) to one etcd member. */
export class EtcdChannel {
  private readonly client: EtcdRawClient;

  constructor(
    readonly address: string,
    /** TLS with a client certificate for a cluster started with `tlsDir`; plaintext by default. */
    credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
  ) {
    this.client = new EtcdClientConstructor(address, credentials, {
      // A private subchannel pool gives each EtcdChannel its own connection.
      "grpc.use_local_subchannel_pool": 1,
      "grpc.initial_reconnect_backoff_ms": 50,
      "grpc.max_reconnect_backoff_ms": 500,
    });
  }

  put(request: Buffer, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.client.put(request, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (error) =>
        error === null ? resolve() : reject(error),
      );
    });
  }

  status(timeoutMs: number): Promise<EtcdStatus> {
    return new Promise((resolve, reject) => {
      this.client.status(
        Buffer.alloc(0),
        new grpc.Metadata(),
        { deadline: Date.now() + timeoutMs },
        (error, response) => {
          if (error !== null || response === undefined) reject(error ?? new Error("empty status response"));
          else resolve(decodeStatusResponse(response));
        },
      );
    });
  }

  close(): void {
    this.client.close();
  }
}
