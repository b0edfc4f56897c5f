import { InvalidArgumentError } from "commander";
import { cliLimits } from "./limits.js";
import { parseCpu, parseMemory } from "./quantity.js";

/**
 * Parsers for option and argument values. Each throws commander's InvalidArgumentError, which
 * commander reports as a usage error naming the flag; run() turns it into exit status 2.
 */

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export function deploymentNameArg(text: string): string {
  if (!DNS_LABEL.test(text)) {
    throw new InvalidArgumentError(
      `"${text}" is not a valid deployment name: use lowercase letters, digits and '-', start and end with a letter or digit, at most 63 characters`,
    );
  }
  return text;
}

export function replicasArg(text: string): number {
  if (!/^\d+$/.test(text.trim()))
    throw new InvalidArgumentError(`replicas must be a whole number (0 or more), got "${text}"`);
  const replicas = Number(text.trim());
  if (replicas > cliLimits.replicasMax)
    throw new InvalidArgumentError(`replicas must be at most ${cliLimits.replicasMax}`);
  return replicas;
}

export function cpuArg(text: string): number {
  const parsed = parseCpu(text);
  if (!parsed.ok) throw new InvalidArgumentError(parsed.error);
  return parsed.value;
}

export function memoryArg(text: string): number {
  const parsed = parseMemory(text);
  if (!parsed.ok) throw new InvalidArgumentError(parsed.error);
  return parsed.value;
}

/** "a, b,,c" -> ["a", "b", "c"]. */
export function splitList(text: string): string[] {
  return text
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item !== "");
}

export function regionListArg(text: string): string[] {
  const regions = splitList(text);
  if (regions.length === 0) throw new InvalidArgumentError("give at least one region, e.g. us-east-1,eu-west-1");
  return regions;
}

export function timeoutSecondsArg(text: string): number {
  const seconds = Number(text);
  if (!/^\d*\.?\d+$/.test(text.trim()) || !Number.isFinite(seconds) || seconds <= 0) {
    throw new InvalidArgumentError(`--timeout takes seconds greater than 0, e.g. 15 or 2.5; got "${text}"`);
  }
  if (seconds > cliLimits.commandTimeoutSecondsMax) {
    throw new InvalidArgumentError(`--timeout must be at most ${cliLimits.commandTimeoutSecondsMax} seconds`);
  }
  return seconds;
}

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
const DURATION_UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/** "500ms", "10s", "1.5m", "2h" -> milliseconds (the server checks the ranges and names the field). */
export function durationMsArg(text: string): number {
  const match = DURATION.exec(text.trim());
  const ms = match === null ? Number.NaN : Math.round(Number(match[1]) * DURATION_UNIT_MS[match[2]]);
  if (!Number.isSafeInteger(ms) || ms > 0xffff_ffff)
    throw new InvalidArgumentError(`a duration is a number with ms, s, m or h, e.g. 10s or 2m; got "${text}"`);
  return ms;
}

/** A whole number of replicas for a policy flag (0 or more). */
export function countArg(text: string): number {
  if (!/^\d+$/.test(text.trim()) || Number(text) > cliLimits.replicasMax)
    throw new InvalidArgumentError(`give a whole number from 0 to ${cliLimits.replicasMax}, got "${text}"`);
  return Number(text);
}

export function revisionArg(text: string): number {
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(Number(text))) {
    throw new InvalidArgumentError(`a revision is a whole number (0 or more), got "${text}"`);
  }
  return Number(text);
}

export function limitArg(text: string): number {
  if (!/^\d+$/.test(text.trim()) || Number(text) > 0xffff_ffff)
    throw new InvalidArgumentError(`--limit takes a whole number, got "${text}"`);
  return Number(text);
}

const HOST_PORT = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

/** "host:port,host:port" -> addresses, or the reason they are not usable. */
export function parseEndpoints(text: string): { ok: true; value: string[] } | { ok: false; error: string } {
  const endpoints = splitList(text);
  if (endpoints.length === 0) return { ok: false, error: "--endpoints is empty; give host:port[,host:port...]" };
  if (endpoints.length > cliLimits.endpointsMax)
    return { ok: false, error: `--endpoints takes at most ${cliLimits.endpointsMax} addresses` };
  for (const endpoint of endpoints) {
    const match = HOST_PORT.exec(endpoint);
    const port = match === null ? 0 : Number(match[1]);
    if (match === null || port < 1 || port > 65_535) {
      return { ok: false, error: `invalid endpoint "${endpoint}": use host:port, e.g. 127.0.0.1:50051` };
    }
  }
  return { ok: true, value: [...new Set(endpoints)] };
}
