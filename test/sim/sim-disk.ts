import { MemoryLogStorage } from "../../src/raft/core/log-storage.js";
import type { Ready } from "../../src/raft/core/ready.js";

/**
 * A replica's simulated disk: the MemoryLogStorage the core reads, written only when a Ready's
 * write completes, all at once, as one synced batch would. It survives crashes; everything
 * else of the replica does not. A slow disk makes each write take up to persistDelayTicksMax.
 */
export class SimDisk {
  readonly storage: MemoryLogStorage;
  persistDelayTicksMax = 0;
  /** Writes completed, for the trace's summary. */
  writes = 0;

  /** Initial voters get the cluster's bootstrap log; a replica that joins later starts empty. */
  constructor(bootstrapVoters: readonly string[] | null) {
    this.storage = bootstrapVoters === null ? new MemoryLogStorage() : MemoryLogStorage.bootstrap(bootstrapVoters);
  }

  /** Makes the Ready's snapshot, entries and hard state durable, in that order, atomically. */
  write(ready: Ready): void {
    if (ready.snapshot !== null) this.storage.applySnapshot(ready.snapshot);
    this.storage.append(ready.entries);
    if (ready.hardState !== null) this.storage.setHardState(ready.hardState);
    this.writes++;
  }
}

/** Whether handling the Ready needs the disk at all; a Ready of messages alone does not wait for it. */
export function readyHasWrites(ready: Ready): boolean {
  return ready.snapshot !== null || ready.entries.length > 0 || ready.hardState !== null;
}
