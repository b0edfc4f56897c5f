import cliProgress from "cli-progress";
import type { Session } from "./session.js";

/** Progress of something orchctl waits for: a count towards a total, with a word on where it stands. */
export interface Progress {
  update(value: number, total: number, detail: string): void;
  stop(): void;
}

export interface ProgressLook {
  /** cli-progress format with {bar}, {value}, {total} and {detail}. */
  readonly bar: string;
  /** What {detail} shows in the bar for a detail; the detail itself when absent. */
  readonly barDetail?: (detail: string) => string;
  /** The plain line for pipes, CI and tests: printed once per change. */
  readonly line: (value: number, total: number, detail: string) => string;
}

/** A bar on a terminal (not with -o json); otherwise plain lines on stderr, one per change. */
export function progressOf(session: Session, look: ProgressLook): Progress {
  const terminal = session.io.progressTerminal;
  return terminal !== undefined && !session.out.isJson ? barProgress(terminal, look) : lineProgress(session, look);
}

function barProgress(terminal: NodeJS.WriteStream, look: ProgressLook): Progress {
  const bar = new cliProgress.SingleBar(
    { stream: terminal, format: look.bar, hideCursor: true, clearOnComplete: false, stopOnComplete: false },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(value, total, detail) {
      const payload = { detail: look.barDetail?.(detail) ?? detail };
      if (!started) bar.start(total, value, payload);
      else {
        bar.setTotal(total);
        bar.update(value, payload);
      }
      started = true;
    },
    stop() {
      if (started) bar.stop();
      started = false;
    },
  };
}

function lineProgress(session: Session, look: ProgressLook): Progress {
  let last = "";
  return {
    update(value, total, detail) {
      const line = look.line(value, total, detail);
      if (line !== last) session.io.stderr.write(`${line}\n`);
      last = line;
    },
    stop() {},
  };
}
