/**
 * One compact, stable line per entry, message, Ready part and status. The formats are the
 * scripts' vocabulary, so they change only on purpose: every change rewrites expected outputs.
 *
 * Entries and log positions are written term/index, as in etcd-io/raft's testdata.
 */
import { assertNever } from "../../../src/lib/assert.js";
import { decodeConfChange } from "../../../src/raft/core/conf-change-codec.js";
import type { ProgressStatus, Status } from "../../../src/raft/core/results.js";
import type { Ready } from "../../../src/raft/core/ready.js";
import type { ConfState, Entry, HardState, Message, ReplicaId, Snapshot } from "../../../src/raft/core/types.js";
import { NO_REPLICA } from "../../../src/raft/core/types.js";

const decoder = new TextDecoder();

export function formatReplica(id: ReplicaId): string {
  return id === NO_REPLICA ? "none" : id;
}

function formatIds(ids: readonly ReplicaId[]): string {
  return ids.length === 0 ? "none" : ids.join(",");
}

export function formatConf(conf: ConfState): string {
  const learners = conf.learners.length === 0 ? "" : ` learners=${formatIds(conf.learners)}`;
  return `voters=${formatIds(conf.voters)}${learners}`;
}

/** `2/6` for a no-op, `2/6 "x"` for a command, `2/6 conf(add-learner r4)` for a membership change. */
export function formatEntry(entry: Entry): string {
  const position = `${entry.term}/${entry.index}`;
  if (entry.type === "conf-change") {
    const change = decodeConfChange(entry.data);
    return change === undefined
      ? `${position} conf(undecodable)`
      : `${position} conf(${change.type} ${change.replica})`;
  }
  if (entry.data.byteLength === 0) return position;
  return `${position} ${JSON.stringify(decoder.decode(entry.data))}`;
}

export function formatEntries(entries: readonly Entry[]): string {
  return entries.map(formatEntry).join(", ");
}

export function formatSnapshot(snapshot: Snapshot): string {
  return `${snapshot.meta.term}/${snapshot.meta.index} ${formatConf(snapshot.meta.conf)}`;
}

export function formatHardState(hs: HardState): string {
  return `term=${hs.term} vote=${formatReplica(hs.vote)} commit=${hs.commit}`;
}

/** The fields each message type uses; any other field that is not at its zero value is printed as `extra:`. */
const fieldsByType: Record<Message["type"], readonly (keyof Message)[]> = {
  vote: ["logIndex", "logTerm", "force"],
  "pre-vote": ["logIndex", "logTerm", "force"],
  "vote-resp": ["reject"],
  "pre-vote-resp": ["reject"],
  append: ["logIndex", "logTerm", "commit", "entries"],
  "append-resp": ["index", "reject", "rejectHint", "logTerm"],
  heartbeat: ["commit", "context", "logIndex"],
  "heartbeat-resp": ["context", "logIndex"],
  snapshot: ["snapshot"],
  "timeout-now": [],
  "read-index": ["context"],
  "read-index-resp": ["index", "context"],
};

/** `r1->r2 append term=2 log=1/5 commit=5 entries=[2/6 "x"]`. */
export function formatMessage(m: Message): string {
  const parts = [`${m.from}->${m.to}`, m.type, `term=${m.term}`];
  switch (m.type) {
    case "vote":
    case "pre-vote":
      parts.push(`log=${m.logTerm}/${m.logIndex}`);
      if (m.force) parts.push("force");
      break;
    case "vote-resp":
    case "pre-vote-resp":
      if (m.reject) parts.push("reject");
      break;
    case "append":
      parts.push(`log=${m.logTerm}/${m.logIndex}`, `commit=${m.commit}`);
      if (m.entries.length > 0) parts.push(`entries=[${formatEntries(m.entries)}]`);
      break;
    case "append-resp":
      if (m.reject) parts.push("reject", `index=${m.index}`, `hint=${m.logTerm}/${m.rejectHint}`);
      else parts.push(`index=${m.index}`);
      break;
    case "heartbeat":
      parts.push(`commit=${m.commit}`, `tick=${m.logIndex}`);
      break;
    case "snapshot":
      parts.push(`snap=${m.snapshot === null ? "none" : formatSnapshot(m.snapshot)}`);
      break;
    case "read-index-resp":
      parts.push(`index=${m.index}`);
      break;
    case "heartbeat-resp":
      parts.push(`tick=${m.logIndex}`);
      break;
    case "timeout-now":
    case "read-index":
      break;
    default:
      assertNever(m.type, "message type");
  }
  if (fieldsByType[m.type].includes("context") && m.context !== "") parts.push(`ctx=${m.context}`);
  parts.push(...unexpectedFields(m));
  return parts.join(" ");
}

function unexpectedFields(m: Message): string[] {
  const used = fieldsByType[m.type];
  const extras: string[] = [];
  const scalar: (keyof Message)[] = ["logIndex", "logTerm", "commit", "index", "rejectHint"];
  for (const field of scalar)
    if (!used.includes(field) && m[field] !== 0) extras.push(`extra:${field}=${String(m[field])}`);
  if (!used.includes("reject") && m.reject) extras.push("extra:reject");
  if (!used.includes("force") && m.force) extras.push("extra:force");
  if (!used.includes("context") && m.context !== "") extras.push(`extra:ctx=${m.context}`);
  if (!used.includes("entries") && m.entries.length > 0) extras.push(`extra:entries=[${formatEntries(m.entries)}]`);
  if (!used.includes("snapshot") && m.snapshot !== null) extras.push(`extra:snap=${formatSnapshot(m.snapshot)}`);
  return extras;
}

/** `Ready r1: role=leader leader=r1 | hardState ... | entries ... | committed ... | sync`, then one indented line per message. */
export function formatReady(id: ReplicaId, rd: Ready): string[] {
  const parts: string[] = [];
  if (rd.softState !== null) parts.push(`role=${rd.softState.role} leader=${formatReplica(rd.softState.leader)}`);
  if (rd.hardState !== null) parts.push(`hardState ${formatHardState(rd.hardState)}`);
  if (rd.snapshot !== null) parts.push(`snapshot ${formatSnapshot(rd.snapshot)}`);
  if (rd.entries.length > 0) parts.push(`entries ${formatEntries(rd.entries)}`);
  if (rd.committedEntries.length > 0) parts.push(`committed ${formatEntries(rd.committedEntries)}`);
  if (rd.readStates.length > 0)
    parts.push(`readStates ${rd.readStates.map((r) => `index=${r.index} ctx=${r.context}`).join(", ")}`);
  if (rd.mustSync) parts.push("sync");
  const header = parts.length === 0 ? `Ready ${id}:` : `Ready ${id}: ${parts.join(" | ")}`;
  return [header, ...rd.messages.map((m) => `  ${formatMessage(m)}`)];
}

function formatProgress(id: ReplicaId, pr: ProgressStatus): string {
  return `  ${id}: match=${pr.match} next=${pr.next} ${pr.state}${pr.recentActive ? " active" : ""}`;
}

/** The replica's own view, then (on a leader) one line per replica's progress. */
export function formatStatus(st: Status): string[] {
  const transfer = st.leadTransferee === NO_REPLICA ? "" : ` transferee=${st.leadTransferee}`;
  const head =
    `${st.id}: ${st.role} term=${st.term} vote=${formatReplica(st.vote)} leader=${formatReplica(st.leader)} ` +
    `commit=${st.commit} applied=${st.applied} log=${st.firstIndex}..${st.lastIndex} ${formatConf(st.conf)}${transfer}`;
  const lines = [head];
  for (const id of [...st.progress.keys()].sort()) {
    const pr = st.progress.get(id);
    if (pr !== undefined) lines.push(formatProgress(id, pr));
  }
  return lines;
}
