import type { Logger } from "../../lib/logger.js";
import type { ReplicaId } from "../core/types.js";
import { randomClusterId } from "./cluster-id.js";
import type { LevelDbLogStore } from "./leveldb-log-store.js";
import type { StateMachine } from "./state-machine.js";

/** Refusals of --force-new-cluster a person can act on. */
export class ForceNewClusterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ForceNewClusterError";
  }
}

/**
 * Rebuilds a cluster of one from a surviving replica's store, after a majority of the voters is
 * lost for good (etcd's --force-new-cluster). The state machine replays the snapshot and EVERY
 * entry in the log, and the result becomes the new snapshot at the last index, with this replica
 * as the only voter and a fresh cluster id; the operator then adds members back one at a time.
 *
 * Why every entry, not only those up to the stored commit index (etcd drops the rest):
 * - Our commit index reaches the disk lazily (leveldb-log-store.ts), and a follower learns it a
 *   heartbeat late, so entries beyond it may well be committed and acknowledged to clients.
 *   Dropping them would lose acknowledged writes this replica still holds.
 * - An entry beyond the commit index that was NOT committed was never acknowledged: its client
 *   saw a timeout, whose outcome Raft never promised either way, so applying it is allowed (and
 *   client sessions still deduplicate a retry of it).
 * - Raft's Log Matching property makes this log a prefix-consistent history: every entry was
 *   written by the leader of its term, so applying the whole log is a history some run of the
 *   old cluster could have committed. What the lost majority committed and this replica never
 *   received is gone whichever choice is made; that is the price of losing a majority, which is
 *   why this is an operator's decision and never automatic.
 * - Safety of the new cluster rests on the new identity: the old members, should they return,
 *   carry the old cluster id and are refused by the transport, so two histories never mix.
 */
export async function forceNewCluster(
  store: LevelDbLogStore,
  stateMachine: StateMachine,
  self: ReplicaId,
  logger: Logger,
): Promise<void> {
  const storage = store.storage;
  const snapshot = storage.snapshot();
  const lastIndex = storage.lastIndex();
  if (lastIndex === 0)
    throw new ForceNewClusterError(
      `--force-new-cluster: the data directory of ${self} holds no log; start it on the directory of a surviving replica`,
    );
  if (snapshot.meta.index > 0) stateMachine.restore(snapshot.data);
  const first = snapshot.meta.index + 1;
  const entries = first <= lastIndex ? storage.entries(first, lastIndex + 1, Number.POSITIVE_INFINITY) : [];
  for (const entry of entries)
    if (entry.type === "normal" && entry.data.byteLength > 0) stateMachine.apply(entry.index, entry.data);
  const term = storage.term(lastIndex) ?? snapshot.meta.term;
  const hardState = storage.initialState().hardState;
  const clusterId = randomClusterId();
  await store.resetToSnapshot({
    snapshot: {
      meta: { index: lastIndex, term, conf: { voters: [self], learners: [] } },
      data: stateMachine.snapshot(),
    },
    term: Math.max(hardState.term, term),
    clusterId,
  });
  logger.warn(
    {
      previousCommit: hardState.commit,
      keptThrough: lastIndex,
      previousVoters: snapshot.meta.conf.voters,
      clusterId,
    },
    "force-new-cluster: every entry this replica held is kept; it is now the only voter of a new cluster (remove the flag before the next restart)",
  );
}
