import { assert } from "../../src/lib/assert.js";

/**
 * Every queue, loop and retry in the simulator has a named maximum here, and the relations
 * between them are checked when the module loads (TigerBeetle style: a limit on everything).
 */
export const simLimits = {
  /** Replicas in the initial configuration the simulator supports. */
  replicasMin: 3,
  replicasMax: 5,
  /** Replicas that start outside the configuration, for membership changes to add. */
  spareReplicas: 1,
  /** Logical sub-steps within one tick; history times are tick * stampsPerTickMax + step. */
  stampsPerTickMax: 1_000_000,
  /** Readies one replica handles in one tick before yielding to the rest of the cluster. */
  readiesPerTickMax: 16,
  /** Messages the simulated network holds in flight at once. */
  messagesInFlightMax: 200_000,
  /** Proposals and reads a replica tracks for clients at once. */
  pendingReadsPerReplicaMax: 1_000,
  /** Lines kept in one run's trace; later lines are counted, not stored. */
  traceLinesMax: 20_000,
  /** Violations recorded per run; later ones are counted, not stored. */
  violationsPerRunMax: 50,
  /** Client operations per run (bounds the history and the state machine's dedup set). */
  historyEventsMax: 50_000,
  /** Clients of one run. */
  clientsMax: 16,
  /** Proposal attempts a client makes within one tick (redirect, redirect, ...). */
  clientAttemptsPerTickMax: 3,
  /** Ticks one run may take in total, whatever the options say. */
  runTicksMax: 100_000,
  /** Scheduled fault actions (heals, restarts, reports) pending at once. */
  scheduledActionsMax: 10_000,
  /** Explored configurations the linearizability check may spend per run. */
  linearizabilityStatesMax: 2_000_000,
} as const;

assert(simLimits.replicasMin >= 3, "membership changes keep at least three voters");
assert(simLimits.replicasMax + simLimits.spareReplicas <= 9, "replica ids r1..r9 sort as strings");
assert(
  simLimits.clientsMax * simLimits.clientAttemptsPerTickMax < simLimits.stampsPerTickMax / 100,
  "a tick's stamps outnumber its events",
);
