/** What a probe learned: the container answered healthy, answered unhealthy, or the node did not answer. */
export const probeOutcomes = ["healthy", "unhealthy", "no-answer"] as const;
export type ProbeOutcome = (typeof probeOutcomes)[number];

/**
 * The health controller's port to the containers' health endpoints. HttpProber is the real
 * one; a test may answer from a table instead, or point HttpProber at its own HTTP servers.
 */
export interface Prober {
  /**
   * GET `path` at `origin` ("http://host:port") within `timeoutMs`. `dispatch` runs when the
   * probe is about to leave (it may wait for a slot first); if it returns false the probe is
   * dropped and the answer is null.
   */
  probe(origin: string, path: string, timeoutMs: number, dispatch?: () => boolean): Promise<ProbeOutcome | null>;
  /** Releases connections; no probe is sent afterwards. */
  close(): Promise<void>;
}
