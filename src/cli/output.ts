import type { TextSink } from "./io.js";

/**
 * Rendering for people (aligned tables, "Key: value" blocks) and for programs (JSON).
 * In json mode stdout carries exactly one JSON document per command (watch: one per line),
 * nothing else; progress and human messages go to stderr.
 */

export type OutputFormat = "table" | "json";

export const OUTPUT_FORMATS: readonly OutputFormat[] = ["table", "json"];

/** Columns are separated by this many spaces, as kubectl does. */
const COLUMN_GAP = 3;

/** Pads every column to its widest cell; the last column is not padded, so no line ends in spaces. */
export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => (row[column] ?? "").length)),
  );
  const renderRow = (cells: readonly string[]): string =>
    headers
      .map((_, column) => {
        const cell = cells[column] ?? "";
        return column === headers.length - 1 ? cell : cell.padEnd(widths[column] + COLUMN_GAP);
      })
      .join("")
      .trimEnd();
  return [renderRow(headers), ...rows.map(renderRow)].map((line) => `${line}\n`).join("");
}

/** "Key:   value" lines with the values aligned, as in `kubectl describe`. */
export function renderFields(fields: readonly (readonly [string, string])[]): string {
  const width = Math.max(0, ...fields.map(([key]) => key.length + 1));
  return fields.map(([key, value]) => `${`${key}:`.padEnd(width + 2)}${value}\n`).join("");
}

/** Indents every non-empty line of a block. */
export function indent(block: string, spaces = 2): string {
  const pad = " ".repeat(spaces);
  return block
    .split("\n")
    .map((line) => (line === "" ? line : `${pad}${line}`))
    .join("\n");
}

/** Seconds, minutes, hours or days since a wall-clock time, the way kubectl prints AGE. */
export function formatAge(sinceMs: number, nowMs: number): string {
  if (sinceMs <= 0) return "-";
  const seconds = Math.max(0, Math.floor((nowMs - sinceMs) / 1000));
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 120) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h`;
  return `${Math.floor(hours / 24)}d`;
}

/** A comma list, or "-" when empty (a blank cell would shift columns for the eye). */
export function listOrDash(items: readonly string[]): string {
  return items.length === 0 ? "-" : items.join(",");
}

export function orDash(text: string): string {
  return text === "" ? "-" : text;
}

export class Output {
  constructor(
    readonly format: OutputFormat,
    private readonly stdout: TextSink,
    private readonly stderr: TextSink,
  ) {}

  get isJson(): boolean {
    return this.format === "json";
  }

  /** One JSON document on stdout. */
  json(value: unknown): void {
    this.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  /** One JSON document on a single line (watch's stream of changes). */
  jsonLine(value: unknown): void {
    this.stdout.write(`${JSON.stringify(value)}\n`);
  }

  /** Human output on stdout (table mode only). */
  text(block: string): void {
    this.stdout.write(block.endsWith("\n") || block === "" ? block : `${block}\n`);
  }

  table(headers: readonly string[], rows: readonly (readonly string[])[], emptyMessage: string): void {
    if (rows.length === 0) this.text(emptyMessage);
    else this.text(renderTable(headers, rows));
  }

  /** A note for people on stderr, in either format. */
  note(line: string): void {
    this.stderr.write(`${line}\n`);
  }
}
