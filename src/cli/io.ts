/**
 * What a command may touch of the outside world. `run` takes it as a parameter so tests can run
 * orchctl in-process and read what it printed; main.ts binds it to the real process.
 */
export interface TextSink {
  write(text: string): unknown;
}

export interface CliIo {
  readonly stdout: TextSink;
  readonly stderr: TextSink;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Aborted on Ctrl-C: watch stops cleanly, retries and waits give up. */
  readonly signal?: AbortSignal;
  /** A terminal for the deploy --wait progress bar; without one, progress is printed as plain lines on stderr. */
  readonly progressTerminal?: NodeJS.WriteStream;
}

/** Collects output in memory (tests, and anything that wants to inspect what a command printed). */
export class BufferSink implements TextSink {
  private readonly chunks: string[] = [];

  write(text: string): boolean {
    this.chunks.push(text);
    return true;
  }

  text(): string {
    return this.chunks.join("");
  }
}
