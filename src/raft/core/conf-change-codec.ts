import type { ConfChange } from "./types.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Conf-change entries carry a small JSON document; they are rare, so clarity beats compactness. */
export function encodeConfChange(change: ConfChange): Uint8Array {
  return encoder.encode(JSON.stringify(change));
}

export function decodeConfChange(data: Uint8Array): ConfChange | undefined {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(data));
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const record = value as Record<string, unknown>;
  const replica = record["replica"];
  const type = record["type"];
  if (typeof replica !== "string" || replica === "") return undefined;
  if (type === "add-voter" || type === "add-learner" || type === "promote-learner" || type === "remove")
    return { type, replica };
  return undefined;
}
