/**
 * What the process-starting test harnesses share: a set of live child PIDs that an exit hook
 * SIGKILLs if the test worker itself dies, and signals that tolerate an already-gone process.
 */

/** A set of PIDs SIGKILLed when this process exits (delete a PID once it is seen to exit). */
export function pidsKilledOnExit(): Set<number> {
  const pids = new Set<number>();
  process.once("exit", () => {
    for (const pid of pids) killQuietly(pid, "SIGKILL");
  });
  return pids;
}

export function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
