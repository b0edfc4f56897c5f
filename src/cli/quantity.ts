import type { Result } from "../lib/errors.js";
import { err, ok } from "../lib/errors.js";

/**
 * Resource quantities in the Kubernetes notation.
 *
 * CPU: a plain number is cores, "m" is millicores. "2" = 2000m, "0.5" = 500m, "500m" = 500m.
 * Precision finer than 1m is refused (as Kubernetes does), not rounded.
 *
 * Memory: a plain number is MiB (orchctl's unit, as in the seed's -memory flag). Binary suffixes
 * Ki, Mi, Gi, Ti, Pi, Ei are powers of 1024; decimal suffixes k, M, G, T, P, E are powers of 1000.
 * A quantity that is not a whole number of MiB is rounded UP to the next MiB, so a container gets
 * at least what was asked: "1G" = 10^9 bytes = 953.67 MiB -> 954, "256M" -> 245, "1k" -> 1.
 * Suffixes are case-sensitive as in Kubernetes ("1g", "1GB" are refused: Docker reads "1g" as
 * GiB, Kubernetes does not accept it at all, so guessing would be wrong for someone).
 *
 * Zero, negative numbers, exponents ("1e3") and anything else are refused with a message listing
 * the accepted forms. Arithmetic is exact (BigInt), so "0.1" is 100m, never 100.00000000000001m.
 */

export const CPU_FORMS = 'cores ("2", "0.5") or millicores ("500m")';
export const MEMORY_FORMS =
  'MiB ("512"), binary units ("512Mi", "1Gi") or decimal units ("256M", "1G"; rounded up to whole MiB)';

/** Both fields are uint32 on the wire. */
const UINT32_MAX = 0xffff_ffffn;
const MIB_BYTES = 1n << 20n;

const BYTES_PER_SUFFIX: Readonly<Record<string, bigint>> = {
  Ki: 1n << 10n,
  Mi: 1n << 20n,
  Gi: 1n << 30n,
  Ti: 1n << 40n,
  Pi: 1n << 50n,
  Ei: 1n << 60n,
  k: 10n ** 3n,
  M: 10n ** 6n,
  G: 10n ** 9n,
  T: 10n ** 12n,
  P: 10n ** 15n,
  E: 10n ** 18n,
};

/** A non-negative decimal as an exact fraction: digits / 10^places. */
interface Decimal {
  readonly digits: bigint;
  readonly scale: bigint;
}

const DECIMAL_WITH_SUFFIX = /^(?:(\d+)(?:\.(\d*))?|\.(\d+))([A-Za-z]*)$/;

function splitQuantity(text: string): { decimal: Decimal; suffix: string } | undefined {
  const match = DECIMAL_WITH_SUFFIX.exec(text);
  if (match === null) return undefined;
  const whole = match[1] ?? "";
  const fraction = match[2] ?? match[3] ?? "";
  // "1." is not a number a person means; "0.5" and ".5" are.
  if (match[2] !== undefined && match[2] === "") return undefined;
  const digits = BigInt(`${whole}${fraction}` || "0");
  return { decimal: { digits, scale: 10n ** BigInt(fraction.length) }, suffix: match[4] };
}

/** Parses a CPU quantity into millicores. */
export function parseCpu(text: string): Result<number, string> {
  const refuse = (why: string): Result<number, string> => err(`invalid cpu "${text}": ${why}; use ${CPU_FORMS}`);
  const parts = splitQuantity(text.trim());
  if (parts === undefined || (parts.suffix !== "" && parts.suffix !== "m")) return refuse("not a quantity");
  const { digits, scale } = parts.decimal;
  const perUnitMillicores = parts.suffix === "m" ? 1n : 1000n;
  const numerator = digits * perUnitMillicores;
  if (numerator % scale !== 0n) return refuse("finer than 1m (one millicore)");
  const millicores = numerator / scale;
  if (millicores === 0n) return refuse("must be more than 0");
  if (millicores > UINT32_MAX) return refuse("too large");
  return ok(Number(millicores));
}

/** Parses a memory quantity into MiB, rounding up to a whole MiB. */
export function parseMemory(text: string): Result<number, string> {
  const refuse = (why: string): Result<number, string> => err(`invalid memory "${text}": ${why}; use ${MEMORY_FORMS}`);
  const parts = splitQuantity(text.trim());
  if (parts === undefined) return refuse("not a quantity");
  const bytesPerUnit = parts.suffix === "" ? MIB_BYTES : BYTES_PER_SUFFIX[parts.suffix];
  if (bytesPerUnit === undefined) return refuse(`unknown unit "${parts.suffix}"`);
  const { digits, scale } = parts.decimal;
  if (digits === 0n) return refuse("must be more than 0");
  const numerator = digits * bytesPerUnit;
  const denominator = scale * MIB_BYTES;
  const mib = (numerator + denominator - 1n) / denominator;
  if (mib > UINT32_MAX) return refuse("too large");
  return ok(Number(mib));
}

/** Millicores the way Kubernetes prints them: whole cores as "2", the rest as "500m". */
export function formatCpu(millicores: number): string {
  if (millicores % 1000 === 0) return String(millicores / 1000);
  return `${millicores}m`;
}

/** MiB as "1Gi" when a whole number of GiB, else "512Mi". */
export function formatMemory(mib: number): string {
  if (mib === 0) return "0";
  if (mib % 1024 === 0) return `${mib / 1024}Gi`;
  return `${mib}Mi`;
}

/** Cores with at most two decimals, for capacity columns: 1500 -> "1.5". */
export function formatCores(millicores: number): string {
  return String(Math.round(millicores / 10) / 100);
}
