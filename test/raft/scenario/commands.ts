/**
 * The scenario commands. Each reads its arguments, drives the cluster and prints what a
 * reviewer needs to judge the behaviour; a command with nothing to say prints nothing and its
 * block reads `ok`. Replicas are named r1, r2, ... in the order add-nodes creates them.
 *
 *   add-nodes N [bootstrap=snapshot|log|none] [voters=r1,r2] [learners=r4] [prevote=true]
 *             [checkquorum=true] [readonly=safe|lease] [max-msg-bytes=N] [bugs=name,...] [seed=N]
 *       Starts N replicas. What their disks hold at first depends on bootstrap=:
 *         snapshot (default)  the configuration voters=/learners= in the index-0 snapshot, for
 *                             fixed-membership tests (default: the new replicas are the
 *                             voters; a later, joining replica must say voters=);
 *         log                 MemoryLogStorage.bootstrap(voters): committed entries 1/1..1/n
 *                             conf(add-voter ...), hard state term 1 commit n; the replicas
 *                             learn the configuration by applying them (first Ready);
 *         none                an empty disk and no configuration: a replica joining a running
 *                             cluster, which learns the membership from the leader's log.
 *       seed= only on the first call.
 *   campaign rX                 tick rX alone until it starts a (pre-)election; prints the ticks
 *   tick rX [rY ...] [N]        tick the replicas N times (default 1), interleaved
 *   tick-heartbeat rX ...       tick by the heartbeat interval (5)
 *   tick-election rX ...        tick by the base election timeout (30)
 *   propose rX data             prints the index and term, or why it was refused
 *   propose-conf-change rX add-learner|promote-learner|remove|add-voter rY
 *       (add-voter exists only in bootstrap entries; the core refuses it as a proposal)
 *   read-index rX ctx           the ReadState appears in a later Ready
 *   transfer-leadership rX to=rY
 *   report-connection-lost rX ...   the transport lost the connection to the leader
 *   report-unreachable rX rY    report-snapshot rX rY ok|fail
 *   process-ready rX ...        handle one Ready: persist, send, apply, advance
 *   deliver-msgs [rX ...] [from=rY] [type=T] [drop]   deliver (or drop) queued messages
 *   stabilize [rX ...]          handle Readies and deliver messages until nothing moves
 *   partition rX ... [/ rY ...] | heal     split into groups; unnamed replicas form one more
 *   crash rX / restart rX       restart rebuilds the replica from its disk alone
 *   compact rX index            snapshot the applied state at index and truncate the log
 *   status rX ... | raft-log rX ... | raft-state | inbox [rX ...]
 *
 * Lines the cluster's checks print: `dropped <message> (<why>)`, `ERROR rX: ...` (a broken
 * invariant; the replica crashes), `SAFETY rX: ...` (replicas applied different entries at one
 * index, or two leaders in one term), and `script error: ...` for a mistake in the script.
 */
import { raftLimits } from "../../../src/lib/limits.js";
import type { DeliberateBugs } from "../../../src/raft/core/config.js";
import { MemoryLogStorage } from "../../../src/raft/core/log-storage.js";
import type { ProposeResult, ReadIndexResult } from "../../../src/raft/core/results.js";
import type { ConfChange, Message, ReplicaId } from "../../../src/raft/core/types.js";
import { Args } from "./args.js";
import { Cluster } from "./cluster.js";
import {
  formatConf,
  formatEntries,
  formatHardState,
  formatMessage,
  formatReplica,
  formatSnapshot,
  formatStatus,
} from "./format.js";

type Handler = (cluster: Cluster, args: Args) => void;

const messageTypes: readonly Message["type"][] = [
  "vote",
  "vote-resp",
  "pre-vote",
  "pre-vote-resp",
  "append",
  "append-resp",
  "heartbeat",
  "heartbeat-resp",
  "snapshot",
  "timeout-now",
  "read-index",
  "read-index-resp",
];

function isMessageType(value: string): value is Message["type"] {
  return (messageTypes as readonly string[]).includes(value);
}

function replicaArg(cluster: Cluster, args: Args, index: number): ReplicaId {
  const id = args.at(index, "replica");
  if (!cluster.has(id)) throw new Error(`unknown replica ${id}`);
  return id;
}

/** All positional arguments as replicas; all replicas when there are none. */
function replicasArg(cluster: Cluster, args: Args, from = 0): ReplicaId[] {
  const ids = args.positionals.slice(from);
  for (const id of ids) if (!cluster.has(id)) throw new Error(`unknown replica ${id}`);
  return ids.length === 0 ? cluster.ids() : ids;
}

function addNodes(cluster: Cluster, args: Args): void {
  const count = args.intAt(0, "count");
  const seed = args.intOption("seed");
  if (seed !== undefined) cluster.reseed(seed);
  const first = cluster.ids().length + 1;
  const newIds = Array.from({ length: count }, (_, i) => `r${first + i}`);
  const newDisk = initialDisk(cluster, args, newIds);
  const readOnly = args.option("readonly") ?? "safe";
  if (readOnly !== "safe" && readOnly !== "lease") throw new Error(`readonly must be safe or lease, got ${readOnly}`);
  const options = {
    preVote: args.boolOption("prevote", true),
    checkQuorum: args.boolOption("checkquorum", true),
    readOnly: readOnly as "safe" | "lease",
    messageBytesMax: args.intOption("max-msg-bytes"),
    bugs: deliberateBugs(args.listOption("bugs") ?? []),
  };
  args.done();
  for (const id of newIds) {
    cluster.addReplica(id, newDisk(), options);
    const st = cluster.node(id).status();
    cluster.print(`${id}: ${st.role} term=${st.term} log=${st.firstIndex}..${st.lastIndex} ${formatConf(st.conf)}`);
  }
}

/** Reads bootstrap=, voters= and learners=; returns a maker of each new replica's first disk. */
function initialDisk(cluster: Cluster, args: Args, newIds: readonly ReplicaId[]): () => MemoryLogStorage {
  const bootstrap = args.option("bootstrap") ?? "snapshot";
  const votersOption = args.listOption("voters");
  const learnersOption = args.listOption("learners");
  const firstNodes = cluster.ids().length === 0;
  switch (bootstrap) {
    case "snapshot": {
      const voters = votersOption ?? (firstNodes ? newIds : undefined);
      if (voters === undefined) {
        throw new Error("add-nodes: a joining replica needs voters= (its initial configuration) or bootstrap=none");
      }
      const conf = { voters, learners: learnersOption ?? [] };
      return () => new MemoryLogStorage(conf);
    }
    case "log": {
      if (learnersOption !== undefined)
        throw new Error("add-nodes: bootstrap=log starts voters only; add learners by conf change");
      const voters = votersOption ?? (firstNodes ? newIds : undefined);
      if (voters === undefined || voters.length === 0) throw new Error("add-nodes: bootstrap=log needs voters=");
      return () => MemoryLogStorage.bootstrap(voters);
    }
    case "none":
      if (votersOption !== undefined || learnersOption !== undefined) {
        throw new Error("add-nodes: bootstrap=none starts with an empty disk; voters= and learners= do not apply");
      }
      return () => new MemoryLogStorage();
    default:
      throw new Error(`bootstrap must be snapshot, log or none, got ${bootstrap}`);
  }
}

/** `bugs=commit-previous-term-by-counting`: switches on one of the core's deliberate bugs, to show the checks catch it. */
function deliberateBugs(names: readonly string[]): DeliberateBugs {
  const bugs: { -readonly [K in keyof DeliberateBugs]: DeliberateBugs[K] } = {};
  for (const name of names) {
    if (name === "commit-without-quorum") bugs.commitWithoutQuorum = true;
    else if (name === "commit-previous-term-by-counting") bugs.commitPreviousTermByCounting = true;
    else if (name === "vote-twice-per-term") bugs.voteTwicePerTerm = true;
    else throw new Error(`unknown deliberate bug ${name}`);
  }
  return bugs;
}

function campaign(cluster: Cluster, args: Args): void {
  const id = replicaArg(cluster, args, 0);
  args.done();
  const ticks = cluster.campaign(id);
  if (!cluster.isUp(id)) return;
  const st = cluster.node(id).status();
  cluster.print(`${id} campaigns after ${ticks} tick${ticks === 1 ? "" : "s"}: ${st.role} term=${st.term}`);
}

/** `tick r1 r2 5`: ticks each listed replica, interleaved, the trailing number of times (default 1). */
function tick(cluster: Cluster, args: Args): void {
  const words = [...args.positionals];
  const ticks = words.length > 0 && /^\d+$/.test(words[words.length - 1]) ? Number(words.pop()) : 1;
  for (const id of words) if (!cluster.has(id)) throw new Error(`unknown replica ${id}`);
  args.done();
  cluster.tick(words.length === 0 ? cluster.ids() : words, ticks);
}

function tickBy(ticks: number): Handler {
  return (cluster, args) => {
    const ids = replicasArg(cluster, args);
    args.done();
    cluster.tick(ids, ticks);
  };
}

function printProposeResult(
  cluster: Cluster,
  id: ReplicaId,
  result: ProposeResult | ReadIndexResult | undefined,
): void {
  if (result === undefined) return;
  if (!result.ok) cluster.print(`${id}: refused ${result.error} (leader=${formatReplica(result.leader)})`);
  else if ("index" in result) cluster.print(`${id}: ok index=${result.index} term=${result.term}`);
}

function propose(cluster: Cluster, args: Args): void {
  const id = replicaArg(cluster, args, 0);
  const data = args.at(1, "data");
  args.done();
  let result: ProposeResult | undefined;
  cluster.guard(id, (node) => (result = node.propose(new TextEncoder().encode(data))));
  printProposeResult(cluster, id, result);
}

function proposeConfChange(cluster: Cluster, args: Args): void {
  const id = replicaArg(cluster, args, 0);
  const type = args.at(1, "change type");
  const replica = args.at(2, "replica to change");
  args.done();
  if (type !== "add-learner" && type !== "promote-learner" && type !== "remove" && type !== "add-voter") {
    throw new Error(`unknown conf change ${type}`);
  }
  const change: ConfChange = { type, replica };
  let result: ProposeResult | undefined;
  cluster.guard(id, (node) => (result = node.proposeConfigChange(change)));
  printProposeResult(cluster, id, result);
}

function readIndex(cluster: Cluster, args: Args): void {
  const id = replicaArg(cluster, args, 0);
  const context = args.at(1, "context");
  args.done();
  let result: ReadIndexResult | undefined;
  cluster.guard(id, (node) => (result = node.readIndex(context)));
  printProposeResult(cluster, id, result);
}

function transferLeadership(cluster: Cluster, args: Args): void {
  const id = replicaArg(cluster, args, 0);
  const to = args.option("to");
  args.done();
  if (to === undefined || !cluster.has(to)) throw new Error("transfer-leadership needs to=<replica>");
  cluster.guard(id, (node) => node.transferLeadership(to));
}

function reportConnectionLost(cluster: Cluster, args: Args): void {
  const ids = replicasArg(cluster, args);
  args.done();
  for (const id of ids) cluster.guard(id, (node) => node.reportLeaderConnectionLost());
}

function reportUnreachable(cluster: Cluster, args: Args): void {
  const id = replicaArg(cluster, args, 0);
  const peer = replicaArg(cluster, args, 1);
  args.done();
  cluster.guard(id, (node) => node.reportUnreachable(peer));
}

function reportSnapshot(cluster: Cluster, args: Args): void {
  const id = replicaArg(cluster, args, 0);
  const peer = replicaArg(cluster, args, 1);
  const outcome = args.at(2, "ok or fail");
  args.done();
  if (outcome !== "ok" && outcome !== "fail") throw new Error("report-snapshot: outcome must be ok or fail");
  cluster.guard(id, (node) => node.reportSnapshot(peer, outcome === "ok"));
}

function stabilize(cluster: Cluster, args: Args): void {
  const ids = replicasArg(cluster, args);
  args.done();
  cluster.stabilize(ids);
}

/** `deliver-msgs r2 [from=r1] [type=append] [drop]`. */
function deliverMsgs(cluster: Cluster, args: Args): void {
  const words = args.positionals;
  const drop = words[words.length - 1] === "drop";
  const ids = (drop ? words.slice(0, -1) : words).map((id) => {
    if (!cluster.has(id)) throw new Error(`unknown replica ${id}`);
    return id;
  });
  const from = args.option("from");
  const type = args.option("type");
  args.done();
  if (type !== undefined && !isMessageType(type)) throw new Error(`unknown message type ${type}`);
  const filter = { ...(from === undefined ? {} : { from }), ...(type === undefined ? {} : { type }) };
  let delivered = 0;
  for (const id of ids.length === 0 ? cluster.ids() : ids)
    delivered += cluster.deliver(id, filter, { drop, echo: true });
  if (delivered === 0) cluster.print("no messages");
}

function processReady(cluster: Cluster, args: Args): void {
  const ids = replicasArg(cluster, args);
  args.done();
  for (const id of ids) {
    if (cluster.node(id).hasReady()) cluster.processReady(id);
    else cluster.print(`${id}: no Ready`);
  }
}

/** `partition r1 / r2 r3`: groups split by `/`; replicas not named form one more group. */
function partition(cluster: Cluster, args: Args): void {
  args.done();
  const groups: ReplicaId[][] = [[]];
  for (const word of args.positionals) {
    if (word === "/") groups.push([]);
    else groups[groups.length - 1].push(word);
  }
  cluster.partition(groups.filter((g) => g.length > 0));
}

function heal(cluster: Cluster, args: Args): void {
  args.done();
  cluster.heal();
}

function crash(cluster: Cluster, args: Args): void {
  const ids = replicasArg(cluster, args);
  args.done();
  for (const id of ids) cluster.crash(id);
}

function restart(cluster: Cluster, args: Args): void {
  const ids = replicasArg(cluster, args);
  args.done();
  for (const id of ids) {
    cluster.restart(id);
    cluster.print(...formatStatus(cluster.node(id).status()));
  }
}

/** Takes a snapshot of the applied state at `index` and drops the log up to it, as the application would. */
function compact(cluster: Cluster, args: Args): void {
  const id = replicaArg(cluster, args, 0);
  const index = args.intAt(1, "index");
  args.done();
  const applied = cluster.appliedIndex(id);
  if (index > applied) throw new Error(`compact ${id} ${index}: only ${applied} is applied`);
  const disk = cluster.disk(id);
  disk.createSnapshot(index, cluster.confAt(id, index), new TextEncoder().encode(`state of ${id} at ${index}`));
  disk.compact(index);
  printDisk(cluster, id);
}

function status(cluster: Cluster, args: Args): void {
  const ids = replicasArg(cluster, args);
  args.done();
  for (const id of ids) {
    if (cluster.isUp(id)) cluster.print(...formatStatus(cluster.node(id).status()));
    else cluster.print(`${id}: down`);
  }
}

function printDisk(cluster: Cluster, id: ReplicaId): void {
  const disk = cluster.disk(id);
  const first = disk.firstIndex();
  const last = disk.lastIndex();
  const entries = last >= first ? disk.entries(first, last + 1, Number.MAX_SAFE_INTEGER) : [];
  cluster.print(
    `${id} disk: hardState ${formatHardState(disk.persistedHardState())} | snapshot ${formatSnapshot(disk.snapshot())}`,
  );
  cluster.print(`  log: ${entries.length === 0 ? "empty" : formatEntries(entries)}`);
}

/** What each replica persisted: hard state, snapshot and log. */
function raftLog(cluster: Cluster, args: Args): void {
  const ids = replicasArg(cluster, args);
  args.done();
  for (const id of ids) printDisk(cluster, id);
}

/** One line per replica: who it thinks leads, and where its log and commit index are. */
function raftState(cluster: Cluster, args: Args): void {
  args.done();
  for (const id of cluster.ids()) {
    if (!cluster.isUp(id)) {
      cluster.print(`${id}: down`);
      continue;
    }
    const st = cluster.node(id).status();
    cluster.print(
      `${id}: ${st.role} term=${st.term} leader=${formatReplica(st.leader)} commit=${st.commit} last=${st.lastIndex}`,
    );
  }
}

/** The messages in flight to each replica, in delivery order. */
function inbox(cluster: Cluster, args: Args): void {
  const ids = replicasArg(cluster, args);
  args.done();
  let any = false;
  for (const id of ids) {
    for (const m of cluster.inbox(id)) {
      cluster.print(formatMessage(m));
      any = true;
    }
  }
  if (!any) cluster.print("no messages");
}

const handlers: Record<string, Handler> = {
  "add-nodes": addNodes,
  campaign,
  tick,
  "tick-heartbeat": tickBy(raftLimits.heartbeatIntervalTicks),
  "tick-election": tickBy(raftLimits.electionTimeoutTicks),
  propose,
  "propose-conf-change": proposeConfChange,
  "read-index": readIndex,
  "transfer-leadership": transferLeadership,
  "report-connection-lost": reportConnectionLost,
  "report-unreachable": reportUnreachable,
  "report-snapshot": reportSnapshot,
  stabilize,
  "deliver-msgs": deliverMsgs,
  "process-ready": processReady,
  partition,
  heal,
  crash,
  restart,
  compact,
  status,
  "raft-log": raftLog,
  "raft-state": raftState,
  inbox,
};

export function runCommand(cluster: Cluster, line: string): void {
  const args = new Args(line);
  const handler = handlers[args.command];
  if (handler === undefined) throw new Error(`unknown command ${args.command}`);
  handler(cluster, args);
}
