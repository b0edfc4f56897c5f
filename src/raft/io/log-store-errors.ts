/**
 * The two ways opening a replica's raft store is refused. Both are expected failures an
 * operator must act on, so their messages say what is wrong, where, and what to do.
 */

/**
 * The store on disk is damaged: a checksum fails, entries are missing, a record contradicts
 * another, or a snapshot file is gone or truncated. The replica must not start from it.
 */
export class CorruptStoreError extends Error {
  /** The file, directory or LevelDB key location that failed the check. */
  readonly path: string;
  /** What is wrong, without the advice; for logs and tests. */
  readonly problem: string;

  /** `where` describes `path` for people, e.g. "LevelDB at ./data/r1/raft-log". */
  constructor(dataDir: string, problem: string, path: string, where: string = path) {
    super(
      `replica data in ${dataDir} is corrupt: ${problem} (${where}). Not starting, so no bad data is served. ` +
        `Keep it for inspection (mv ${dataDir} ${dataDir}.corrupt). Do not restart this replica with an empty directory ` +
        `under the same id: it would forget its vote and entries it acknowledged, which can lose committed writes. ` +
        `Restore the directory from a backup taken while the replica was stopped, or replace the replica through a ` +
        `membership change while the other replicas keep serving.`,
    );
    this.name = "CorruptStoreError";
    this.path = path;
    this.problem = problem;
  }
}

/** Another process (or another store in this process) holds the LevelDB lock on the directory. */
export class StoreInUseError extends Error {
  readonly path: string;

  constructor(dataDir: string, lockPath: string) {
    super(
      `replica data in ${dataDir} is in use by another replica process (it holds the lock ${lockPath}). ` +
        `Stop that process first, or give this replica its own --data-dir.`,
    );
    this.name = "StoreInUseError";
    this.path = lockPath;
  }
}

/** Writing failed earlier (disk full, IO error): what is on disk is no longer known, so restart. */
export class StoreFailedError extends Error {
  constructor(dataDir: string, cause: unknown) {
    super(
      `raft store in ${dataDir} failed an earlier write and refuses further use; restart the replica to recover from disk`,
      { cause },
    );
    this.name = "StoreFailedError";
  }
}

/** The store belongs to another cluster than the one this replica was told to be part of. */
export class ClusterIdMismatchError extends Error {
  constructor(
    dataDir: string,
    readonly stored: string,
    readonly expected: string,
  ) {
    super(
      `replica data in ${dataDir} belongs to cluster ${stored}, not to cluster ${expected}. Not starting: ` +
        `a replica never joins a cluster with a log from another one. Give this replica an empty --data-dir ` +
        `to join cluster ${expected}, or start it without the other cluster's identity.`,
    );
    this.name = "ClusterIdMismatchError";
  }
}
