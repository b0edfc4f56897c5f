import { assert } from "../../src/lib/assert.js";

/** A client's write as it travels through the log. (clientId, seq) names it for deduplication. */
export interface KvWrite {
  readonly clientId: number;
  readonly seq: number;
  readonly key: string;
  readonly value: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeKvWrite(write: KvWrite): Uint8Array {
  return encoder.encode(JSON.stringify([write.clientId, write.seq, write.key, write.value]));
}

/** Entries only ever hold what encodeKvWrite produced, so anything else is a bug. */
export function decodeKvWrite(data: Uint8Array): KvWrite {
  const value: unknown = JSON.parse(decoder.decode(data));
  assert(Array.isArray(value) && value.length === 4, "malformed kv write");
  const [clientId, seq, key, text] = value as unknown[];
  assert(typeof clientId === "number" && typeof seq === "number", "kv write ids must be numbers");
  assert(typeof key === "string" && typeof text === "string", "kv write key and value must be strings");
  return { clientId, seq, key, value: text };
}

/** The dedup key of a client operation. */
export function writeId(clientId: number, seq: number): string {
  return `${clientId}:${seq}`;
}
