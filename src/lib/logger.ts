import { pino, type Logger } from "pino";

export type { Logger };

/**
 * One JSON line per event on stderr (stdout stays free for a CLI's output). Every line of a
 * replica carries `replica`; Raft-related lines add `term` and `role` through child loggers
 * or per-call fields.
 */
export function createLogger(
  fields: Record<string, string | number>,
  level = process.env["LOG_LEVEL"] ?? "info",
): Logger {
  return pino({ level, base: { ...fields }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination(2));
}
