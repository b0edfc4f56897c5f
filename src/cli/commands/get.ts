import type { Command } from "commander";
import { GetDeploymentRequest } from "../../gen/orchestrator/v1/orchestrator.js";
import type { Container, Deployment, DeploymentSpec, Event } from "../../gen/orchestrator/v1/types.js";
import { cliLimits } from "../limits.js";
import { formatAge, indent, listOrDash, orDash, renderFields, renderTable } from "../output.js";
import { formatCpu, formatMemory } from "../quantity.js";
import type { SessionFor } from "../session.js";
import { containerView, deploymentView, specOf, statusOf, strategyName } from "../views.js";
import { addressesText, CONTAINER_HEADERS, containerRow } from "./containers.js";

const EXAMPLES = `
Examples:
  orchctl get web
  orchctl get web --output json
`;

function healthCheckLine(spec: DeploymentSpec): string {
  const check = spec.healthCheck;
  if (check === undefined) return "defaults";
  return `GET ${orDash(check.path)} every ${check.periodMs}ms, timeout ${check.timeoutMs}ms, unhealthy after ${check.failureThreshold} failures, healthy after ${check.successThreshold} successes`;
}

function describe(deployment: Deployment): string {
  const spec = specOf(deployment);
  const status = statusOf(deployment);
  const fields: [string, string][] = [
    ["Name", spec.name],
    ["Image", spec.image],
    [
      "Version",
      `${deployment.version} (created at revision ${deployment.createdRevision}, updated at revision ${deployment.updatedRevision})`,
    ],
    [
      "Replicas",
      `${status.desired > 0 ? status.desired : spec.replicas} desired | ${status.running} running | ${status.healthy} healthy | ` +
        `${status.scheduled} scheduled | ${status.pending} pending | ${status.failed} failed`,
    ],
    ["Resources", `cpu ${formatCpu(spec.cpuMillicores)}, memory ${formatMemory(spec.memoryMib)} per replica`],
    ["Strategy", strategyName(spec.strategy)],
    ["Regions", spec.regions.length === 0 ? "any" : spec.regions.join(", ")],
    ["Client regions", listOrDash(spec.clientRegions)],
    ["One per node", spec.onePerNode ? "yes" : "no"],
    ["Health check", healthCheckLine(spec)],
  ];
  if (status.pending > 0 || status.pendingReason !== "") fields.push(["Pending reason", orDash(status.pendingReason)]);
  return renderFields(fields);
}

function eventRows(events: readonly Event[], nowMs: number): string[][] {
  return events
    .slice(-cliLimits.eventsShownMax)
    .map((event) => [
      formatAge(event.atMs, nowMs),
      String(event.revision),
      event.kind,
      orDash(event.container || event.node),
      orDash(event.actor),
      event.message,
    ]);
}

function describeContainersAndEvents(deployment: Deployment, containers: readonly Container[], nowMs: number): string {
  const parts: string[] = [];
  parts.push("\nContainers:\n");
  parts.push(containers.length === 0 ? "  <none>\n" : indent(containerTable(containers)));
  parts.push("\nEvents:\n");
  const events = eventRows(deployment.recentEvents, nowMs);
  parts.push(
    events.length === 0
      ? "  <none>\n"
      : indent(renderTable(["AGE", "REVISION", "KIND", "OBJECT", "BY", "MESSAGE"], events)),
  );
  return parts.join("");
}

export function registerGet(parent: Command, sessionFor: SessionFor): void {
  parent
    .command("get")
    .alias("describe")
    .description("show a deployment: spec, replica counts, pending reason, containers and recent events")
    .argument("<name>", "deployment name")
    .option("--stale", "answer from the contacted replica's local state (faster, may lag)")
    .addHelpText("after", EXAMPLES)
    .action(async (name: string, flags: { stale?: boolean }, command: Command) => {
      const session = sessionFor(command);
      const response = await session.client.call(
        "getDeployment",
        GetDeploymentRequest.fromPartial({ name, stale: flags.stale === true }),
      );
      const deployment = response.deployment;
      if (session.out.isJson) {
        session.out.json({
          revision: response.revision,
          deployment: deployment === undefined ? null : deploymentView(deployment),
          containers: response.containers.map(containerView),
        });
        return;
      }
      if (deployment === undefined) {
        session.out.text(`deployment ${name}: the server returned no details (revision ${response.revision})`);
        return;
      }
      session.out.text(describe(deployment) + describeContainersAndEvents(deployment, response.containers, Date.now()));
    });
}

/** The ADDRESSES column appears once some container has addresses (real containers). */
function containerTable(containers: readonly Container[]): string {
  if (!containers.some((c) => (c.addresses?.addresses.length ?? 0) > 0))
    return renderTable(CONTAINER_HEADERS, containers.map(containerRow));
  return renderTable(
    [...CONTAINER_HEADERS, "ADDRESSES"],
    containers.map((c) => [...containerRow(c), addressesText(c)]),
  );
}
