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

/**
 * Throws the BugIndicatingError at once: for hot paths, as `if (!ok) fail(\`...\`)`, where
 * assert(ok, \`...\`) would build its message on every call, not only on failure.
 */
export function fail(message: string): never {
  throw new BugIndicatingError(message);
}

/** Closes an exhaustive switch: the compiler proves it unreachable, the runtime crashes if not. */
export function assertNever(value: never, what = "value"): never {
  throw new BugIndicatingError(`unexpected ${what}: ${JSON.stringify(value)}`);
}
