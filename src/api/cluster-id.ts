import type { RaftNode } from "../raft/io/raft-node.js";

/**
 * The cluster's identity as MemberList reports it (a joining replica compares it with its own).
 * A placeholder: the identity is kept in the log store by the snapshot work; until it is wired
 * here, every cluster answers "" and a joiner checks nothing.
 */
export function clusterIdOf(_node: RaftNode): string {
  return "";
}
