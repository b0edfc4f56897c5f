/** A thrown value as an Error, for logs and the fatal event. */
export function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
