import type { ProbeOutcome } from "./prober.js";

/** Probes to send: [id, origin, path, timeout ms], tuples because thousands cross each second. */
export interface ProbeRequestBatch {
  readonly kind: "probes";
  readonly probes: readonly (readonly [number, string, string, number])[];
}

/** Outcomes of probes sent, by the id they were asked with. */
export interface ProbeResultBatch {
  readonly kind: "results";
  readonly results: (readonly [number, ProbeOutcome])[];
}

/** What the leader's thread and the probe thread say to each other (worker-prober.ts, probe-worker.ts). */
export type ProbeThreadMessage = ProbeRequestBatch | ProbeResultBatch | { readonly kind: "close" | "closed" };
