/**
 * Assertions catch programmer errors. A failed assertion is a bug: it throws a
 * BugIndicatingError and the process is expected to crash and restart from disk,
 * never to "handle" it.
 */
export class BugIndicatingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BugIndicatingError";
  }
}

export function assert(condition: boolean, message = "assertion failed"): asserts condition {
  if (!condition) throw new BugIndicatingError(message);
}

/** Closes an exhaustive switch: the compiler proves it unreachable, the runtime crashes if not. */
export function assertNever(value: never, what = "value"): never {
  throw new BugIndicatingError(`unexpected ${what}: ${JSON.stringify(value)}`);
}
