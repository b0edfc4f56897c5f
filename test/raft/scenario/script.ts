/**
 * The data-driven script format, after etcd-io/raft's testdata: blocks of command lines, a
 * `----` line, the expected output, and a blank line. Lines outside blocks (comments starting
 * with `#`, blank lines) are kept verbatim so that a rewrite changes expected outputs only.
 */

export interface Block {
  /** 1-based line number of the block's first command, for error messages. */
  readonly line: number;
  readonly commands: readonly string[];
  readonly expected: readonly string[];
}

export type Segment =
  { readonly kind: "text"; readonly lines: readonly string[] } | { readonly kind: "block"; readonly block: Block };

const separator = "----";

export class ScriptParseError extends Error {
  constructor(file: string, line: number, problem: string) {
    super(`${file}:${line}: ${problem}`);
    this.name = "ScriptParseError";
  }
}

export function parseScript(text: string, file: string): Segment[] {
  const lines = text.split("\n");
  // A trailing newline leaves one empty string behind; it is not a line of the script.
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  const segments: Segment[] = [];
  let pendingText: string[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (line.trim() === "" || line.startsWith("#")) {
      pendingText.push(line);
      i++;
      continue;
    }
    if (pendingText.length > 0) segments.push({ kind: "text", lines: pendingText });
    pendingText = [];
    const start = i;
    const commands: string[] = [];
    while (i < lines.length && lines[i] !== separator) {
      if (lines[i].trim() === "") throw new ScriptParseError(file, i + 1, `blank line before "${separator}"`);
      commands.push(lines[i].trim());
      i++;
    }
    if (i === lines.length) throw new ScriptParseError(file, start + 1, `block without a "${separator}" line`);
    i++;
    const expected: string[] = [];
    while (i < lines.length && lines[i].trim() !== "") {
      expected.push(lines[i]);
      i++;
    }
    segments.push({ kind: "block", block: { line: start + 1, commands, expected } });
  }
  if (pendingText.length > 0) segments.push({ kind: "text", lines: pendingText });
  return segments;
}

/** Renders segments back to text, with each block's output replaced by `outputs[k]` for the k-th block. */
export function renderScript(segments: readonly Segment[], outputs: readonly (readonly string[])[]): string {
  const lines: string[] = [];
  let blockIndex = 0;
  for (const segment of segments) {
    if (segment.kind === "text") {
      lines.push(...segment.lines);
      continue;
    }
    const output = outputs[blockIndex++];
    lines.push(...segment.block.commands, separator, ...output);
  }
  return lines.join("\n") + "\n";
}
