import type { Command } from "commander";
import { WatchRequest, WatchResponse } from "../../gen/orchestrator/v1/orchestrator.js";
import { revisionArg } from "../args.js";
import { orDash } from "../output.js";
import { formatCores, formatMemory } from "../quantity.js";
import type { SessionFor } from "../session.js";
import {
  containerStateName,
  containerView,
  deploymentView,
  eventView,
  nodeStatusName,
  nodeView,
  specOf,
  statusOf,
} from "../views.js";

const EXAMPLES = `
Examples:
  orchctl watch                         # current state as puts, then every change
  orchctl watch --deployment web
  orchctl watch --from 1200 --output json   # changes after revision 1200, one JSON object per line

Runs until Ctrl-C. When the replica it reads from fails, it reconnects (to the leader, or the
next endpoint) and resumes after the last revision it printed; each reconnection may take up
to --timeout.
`;

function subjectAndDetails(change: WatchResponse): [string, string] {
  if (change.deployment !== undefined) {
    const spec = specOf(change.deployment);
    const status = statusOf(change.deployment);
    if (change.action === "delete") return [spec.name, ""];
    const pending = status.pendingReason === "" ? "" : ` pending: ${status.pendingReason}`;
    return [
      spec.name,
      `v${change.deployment.version} ${spec.image} ${status.running}/${status.desired > 0 ? status.desired : spec.replicas} running${pending}`,
    ];
  }
  if (change.container !== undefined) {
    const c = change.container;
    const where = c.node === "" ? "unplaced" : `on ${c.node} (${orDash(c.region)})`;
    return [
      c.id,
      `${c.deployment} ${where} ${containerStateName(c.state)} health=${orDash(c.health)} restarts=${c.restartCount}`,
    ];
  }
  if (change.node !== undefined) {
    const n = change.node;
    const cpu = `${formatCores(n.allocated?.cpuMillicores ?? 0)}/${formatCores(n.capacity?.cpuMillicores ?? 0)} cpu`;
    const memory = `${formatMemory(n.allocated?.memoryMib ?? 0)}/${formatMemory(n.capacity?.memoryMib ?? 0)} memory`;
    return [n.id, `${n.region} ${nodeStatusName(n.status)} ${cpu} ${memory} ${n.containers} containers`];
  }
  if (change.event !== undefined) {
    const e = change.event;
    const subject = [e.deployment, e.container, e.node].filter((part) => part !== "").join("/");
    return [orDash(subject), `${e.kind}: ${e.message}${e.actor === "" ? "" : ` (by ${e.actor})`}`];
  }
  return ["-", ""];
}

/** One line per change, columns padded to fixed widths (a stream cannot be aligned afterwards). */
export function watchLine(change: WatchResponse): string {
  const [subject, details] = subjectAndDetails(change);
  return `${String(change.revision).padStart(6)}  ${change.kind.padEnd(10)}  ${change.action.padEnd(6)}  ${subject}  ${details}`.trimEnd();
}

export function watchJson(change: WatchResponse) {
  return {
    revision: change.revision,
    kind: change.kind,
    action: change.action,
    deployment: change.deployment === undefined ? undefined : deploymentView(change.deployment),
    container: change.container === undefined ? undefined : containerView(change.container),
    node: change.node === undefined ? undefined : nodeView(change.node),
    event: change.event === undefined ? undefined : eventView(change.event),
  };
}

/**
 * Resumes after a reconnection without losing or repeating lines. Several changes can share a
 * revision, so a reconnection asks for the changes from the last revision seen on and drops
 * those of that revision it already printed. The first connection is taken as it comes: its
 * initial state dump (--from 0) need not be in revision order.
 */
class ResumePoint {
  private connections = 0;
  private lastRevision = 0;
  private printedAtLast = new Set<string>();

  constructor(private readonly fromRevision: number) {}

  /** The from_revision of the next connection. */
  nextFrom(): number {
    this.connections += 1;
    if (this.connections === 1 || this.lastRevision === 0) return this.fromRevision;
    return this.lastRevision - 1;
  }

  /** True when the change is new and should be printed. */
  admit(change: WatchResponse): boolean {
    const resumed = this.connections > 1;
    if (change.revision < this.lastRevision) return !resumed;
    if (change.revision > this.lastRevision) {
      this.lastRevision = change.revision;
      this.printedAtLast = new Set();
    }
    const key = JSON.stringify(WatchResponse.toJSON(change));
    if (this.printedAtLast.has(key)) return false;
    this.printedAtLast.add(key);
    return true;
  }
}

export function registerWatch(parent: Command, sessionFor: SessionFor): void {
  parent
    .command("watch")
    .description("print one line per change to deployments, containers, nodes and events, until Ctrl-C")
    .option("--deployment <name>", "only changes of this deployment")
    .option("--from <revision>", "start after this revision (0: current state first)", revisionArg, 0)
    .addHelpText("after", EXAMPLES)
    .action(async (flags: { deployment?: string; from: number }, command: Command) => {
      const session = sessionFor(command);
      const resume = new ResumePoint(flags.from);
      await session.client.follow(
        "watch",
        () => WatchRequest.fromPartial({ fromRevision: resume.nextFrom(), deployment: flags.deployment ?? "" }),
        (change) => {
          if (!resume.admit(change)) return;
          if (session.out.isJson) session.out.jsonLine(watchJson(change));
          else session.out.text(watchLine(change));
        },
        session.options.timeoutSeconds * 1000,
      );
    });
}
