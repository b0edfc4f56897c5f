import { assert } from "../lib/assert.js";

/** Bounds of the access check (src/api/access-control.ts). */
export const accessLimits = {
  /** The authorization metadata value ("Bearer " and the secret); longer values are refused unread. */
  authorizationLengthMax: 256,
  /** Random bytes of a token secret: 256 bits. */
  secretBytes: 32,
  /** The shortest time to live a token may be given (0 is no expiry). */
  tokenTtlMsMin: 1_000,
  /** The longest time to live a token may be given: ten years. */
  tokenTtlMsMax: 10 * 365 * 86_400_000,
  /** Calls with a token this replica does not know that may wait at once for it to catch up (then refused). */
  unknownTokenCatchUpsMax: 64,
} as const;

assert(accessLimits.secretBytes * 8 >= 128, "a token secret carries at least 128 random bits");
assert(
  accessLimits.authorizationLengthMax > "Bearer orch_".length + Math.ceil((accessLimits.secretBytes * 4) / 3),
  "the secrets this cluster makes fit the authorization bound",
);
