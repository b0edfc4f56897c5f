import { setTimeout as sleep } from "node:timers/promises";
import type { CliError } from "./errors.js";
import { cliLimits } from "./limits.js";
import type { Session } from "./session.js";

/**
 * Asks `check` every poll interval until it returns a value; when the command's deadline would
 * come before the next answer, throws what `timedOut` makes of the last look instead. Stops at
 * Ctrl-C (the session's signal).
 */
export async function pollUntil<T, Look>(
  session: Session,
  check: () => Promise<{ readonly done: T } | { readonly look: Look }>,
  timedOut: (last: Look) => CliError,
): Promise<T> {
  for (;;) {
    const outcome = await check();
    if ("done" in outcome) return outcome.done;
    if (session.remainingMs() < cliLimits.waitPollIntervalMs + cliLimits.waitPollReserveMs)
      throw timedOut(outcome.look);
    await sleep(cliLimits.waitPollIntervalMs, undefined, { signal: session.io.signal });
  }
}
