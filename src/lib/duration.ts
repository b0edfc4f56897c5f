import { err, ok, type Result } from "./errors.js";

/** The forms a duration takes on the command line and in files. */
export const DURATION_FORMS = "a duration like 500ms, 10s, 2m, 1h or 1m30s";

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/y;
/** Durations past this are a typo, not a policy (and would overflow the proto's uint32 milliseconds). */
export const durationMsMax = 0xffff_ffff;

/**
 * Parses "10s", "2m", "1m30s", "500ms" into milliseconds (Go's time.ParseDuration forms, which
 * Nomad and Kubernetes users type). A bare number is refused: "10" could mean seconds or ms.
 */
export function parseDuration(text: string): Result<number, string> {
  const input = text.trim();
  const refuse = (why: string): Result<number, string> =>
    err(`invalid duration "${text}": ${why}; use ${DURATION_FORMS}`);
  if (input === "") return refuse("empty");
  if (input === "0") return ok(0);
  if (/^\d+(\.\d+)?$/.test(input)) return refuse("a unit is needed");
  let totalMs = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < input.length) {
    const at = PART.lastIndex;
    const match = PART.exec(input);
    if (match === null || match.index !== at) return refuse("not a duration");
    totalMs += Number(match[1]) * UNIT_MS[match[2]];
  }
  if (!Number.isFinite(totalMs) || totalMs > durationMsMax) return refuse("too long");
  if (!Number.isInteger(totalMs)) return refuse("finer than a millisecond");
  return ok(totalMs);
}

/** Milliseconds the way people read them back: 1500 -> "1.5s", 120000 -> "2m", 90000 -> "1m30s". */
export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${ms}ms`;
  if (ms < 60_000) return `${ms / 1_000}s`;
  const hours = Math.floor(ms / 3_600_000);
  const minutes = Math.floor((ms % 3_600_000) / 60_000);
  const seconds = (ms % 60_000) / 1_000;
  return `${hours > 0 ? `${hours}h` : ""}${minutes > 0 ? `${minutes}m` : ""}${seconds > 0 ? `${seconds}s` : ""}`;
}
