import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { RaftNode, RoleChange } from "../raft/io/raft-node.js";

/**
 * The Raft metrics of docs/architecture.md, registered on `registry` and fed by the node's events.
 * Gauges are read from the node's status at scrape time, so every replica reports its own
 * view whether it leads or not.
 */
export function registerRaftMetrics(registry: Registry, node: RaftNode): void {
  const status = () => node.status();
  new Gauge({
    name: "orchestrator_raft_term",
    help: "Current Raft term of this replica.",
    registers: [registry],
    collect() {
      this.set(status().term);
    },
  });
  new Gauge({
    name: "orchestrator_raft_is_leader",
    help: "1 if this replica is the Raft leader, else 0.",
    registers: [registry],
    collect() {
      this.set(status().role === "leader" ? 1 : 0);
    },
  });
  new Gauge({
    name: "orchestrator_raft_has_leader",
    help: "1 if this replica knows a leader, else 0.",
    registers: [registry],
    collect() {
      this.set(status().leader === "" ? 0 : 1);
    },
  });
  new Gauge({
    name: "orchestrator_raft_commit_index",
    help: "Highest log index known to be committed.",
    registers: [registry],
    collect() {
      this.set(status().commit);
    },
  });
  new Gauge({
    name: "orchestrator_raft_applied_index",
    help: "Highest log index applied to the cluster state.",
    registers: [registry],
    collect() {
      this.set(status().applied);
    },
  });
  new Gauge({
    name: "orchestrator_raft_snapshot_index",
    help: "Log index covered by the latest snapshot on disk.",
    registers: [registry],
    collect() {
      this.set(node.storeStats().snapshotIndex);
    },
  });
  const leaderChanges = new Counter({
    name: "orchestrator_raft_leader_changes_seen_total",
    help: "Leader changes seen by this replica.",
    registers: [registry],
  });
  const committed = new Counter({
    name: "orchestrator_raft_proposals_committed_total",
    help: "Proposals made on this replica that were committed and applied.",
    registers: [registry],
  });
  const failed = new Counter({
    name: "orchestrator_raft_proposals_failed_total",
    help: "Proposals made on this replica that were lost to a leadership change.",
    registers: [registry],
  });
  const fsync = new Histogram({
    name: "orchestrator_raft_log_fsync_duration_seconds",
    help: "Duration of synced writes of the Raft log (one per Ready).",
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [registry],
  });
  const roundTrip = new Histogram({
    name: "orchestrator_raft_peer_round_trip_seconds",
    help: "Round trip of Raft message batches to each peer.",
    labelNames: ["peer"],
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [registry],
  });
  // Every peer's series exists from the start: a follower may never send to another follower,
  // and per-peer panels and alerts should see a flat 0, not a missing series.
  for (const peer of node.peers().keys()) if (peer !== node.id) roundTrip.zero({ peer });
  let lastLeader = "";
  node.on("role-change", (change: RoleChange) => {
    if (change.leader !== "" && change.leader !== lastLeader) {
      leaderChanges.inc();
      lastLeader = change.leader;
    }
  });
  node.on("proposal", (outcome: "committed" | "failed") => (outcome === "committed" ? committed.inc() : failed.inc()));
  node.on("fsync", (seconds: number) => fsync.observe(seconds));
  node.on("round-trip", (peer: string, seconds: number) => roundTrip.observe({ peer }, seconds));
}
