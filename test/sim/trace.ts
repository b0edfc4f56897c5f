import { simLimits } from "./sim-limits.js";

/**
 * A run's story in order: elections, faults, membership, summaries, violations. It holds only
 * logical time, so the same seed always prints the same trace.
 */
export class Trace {
  private readonly lines: string[] = [];
  private droppedLines = 0;

  constructor(private readonly tickNow: () => number) {}

  log(line: string): void {
    if (this.lines.length >= simLimits.traceLinesMax) {
      this.droppedLines++;
      return;
    }
    this.lines.push(`t=${String(this.tickNow()).padStart(5, "0")} ${line}`);
  }

  text(): string {
    const tail = this.droppedLines > 0 ? [`... ${this.droppedLines} more lines not kept`] : [];
    return [...this.lines, ...tail].join("\n");
  }
}
