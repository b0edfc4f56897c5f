import type { ClusterFsm } from "../fsm/index.js";
import type { Logger } from "../lib/logger.js";
import type { ConfState } from "../raft/core/types.js";
import type { RaftNode } from "../raft/io/raft-node.js";
import type { MembersDirectory } from "./members-directory.js";

/**
 * Keeps the members directory current and the transport's peers with it: the FSM's address
 * table (as entries apply and snapshots restore) and Raft's configuration (as conf changes
 * apply). Returns why this replica may not start (its data's membership does not include it),
 * or null.
 */
export function followMembership(
  node: RaftNode,
  fsm: ClusterFsm,
  directory: MembersDirectory,
  dataDir: string,
  logger: Logger,
): string | null {
  const conf = node.confState();
  const refusal = notAMember(node.id, conf, dataDir);
  if (refusal !== null) return refusal;
  directory.setTable(fsm.memberAddresses());
  if (isKnown(conf)) directory.setConf(conf);
  directory.onChange(() => node.setPeers(directory.raftAddresses()));
  fsm.onMembersChange(() => directory.setTable(fsm.memberAddresses()));
  // A joiner's first snapshot may predate its own addition: only a member that leaves counts as removed.
  let member = conf.voters.includes(node.id) || conf.learners.includes(node.id);
  node.on("membership", (next) => {
    if (!isKnown(next)) return;
    directory.setConf(next);
    const now = next.voters.includes(node.id) || next.learners.includes(node.id);
    // Raft keeps a removed replica from voting or leading; say so once, for the operator.
    if (member && !now)
      logger.warn({ voters: next.voters, learners: next.learners }, "this replica was removed from the cluster");
    member = now;
  });
  node.setPeers(directory.raftAddresses());
  return null;
}

/** An empty configuration is a store that has not learned one yet (a new joiner): not a removal. */
function isKnown(conf: ConfState): boolean {
  return conf.voters.length + conf.learners.length > 0;
}

function notAMember(id: string, conf: ConfState, dataDir: string): string | null {
  if (!isKnown(conf) || conf.voters.includes(id) || conf.learners.includes(id)) return null;
  const members = [...conf.voters, ...conf.learners].sort().join(", ");
  return `replica ${id} is not a member of the cluster whose data is in ${dataDir} (its members: ${members}); it was removed: wipe the directory, run \`orchctl member add ${id} --raft HOST:PORT --api HOST:PORT\`, then start it with --join`;
}
