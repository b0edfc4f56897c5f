import type { OrchClient } from "../../src/cli/client.js";
import { ContainerState, NodeStatus } from "../../src/gen/orchestrator/v1/types.js";

const containerStateNames: Record<number, string> = {
  [ContainerState.CONTAINER_STATE_PENDING]: "pending",
  [ContainerState.CONTAINER_STATE_SCHEDULED]: "scheduled",
  [ContainerState.CONTAINER_STATE_STARTING]: "starting",
  [ContainerState.CONTAINER_STATE_RUNNING]: "running",
  [ContainerState.CONTAINER_STATE_UNHEALTHY]: "unhealthy",
  [ContainerState.CONTAINER_STATE_RESTARTING]: "restarting",
  [ContainerState.CONTAINER_STATE_STOPPED]: "stopped",
  [ContainerState.CONTAINER_STATE_FAILED]: "failed",
  [ContainerState.CONTAINER_STATE_LOST]: "lost",
};

/** One screen of the demo's live status: leader, nodes per region, containers by state, deployments, recent events. */
export async function renderStatus(client: OrchClient): Promise<string> {
  const cluster = await client.call("clusterStatus", {});
  const nodes = await client.call("listNodes", { stale: true });
  const containers = await client.call("listContainers", { deployment: "", node: "", stale: true, limit: 100_000 });
  const deployments = await client.call("listDeployments", { stale: true });
  const lines: string[] = [];
  lines.push(`MicroOrchestrator demo — ${new Date().toISOString().slice(11, 19)}   (Ctrl-C stops everything)`);
  lines.push("");
  lines.push(
    `Leader: ${cluster.leaderId || "none (election under way)"}   term ${cluster.term}   commit ${cluster.commitIndex}   applied ${cluster.appliedIndex}`,
  );
  // Reachability is the leader's view; a follower's answer cannot tell.
  const leaderView = cluster.replicaId === cluster.leaderId;
  lines.push(
    `Replicas: ${cluster.members.map((m) => `${m.id}=${m.role}${leaderView && !m.reachable ? "(unreachable)" : ""}`).join("  ")}`,
  );
  lines.push("");
  const regions = new Map<string, { ready: number; down: number; cpu: number; cap: number }>();
  for (const n of nodes.nodes) {
    const r = regions.get(n.region) ?? { ready: 0, down: 0, cpu: 0, cap: 0 };
    if (n.status === NodeStatus.NODE_STATUS_READY) r.ready++;
    else r.down++;
    r.cpu += n.allocated?.cpuMillicores ?? 0;
    r.cap += n.capacity?.cpuMillicores ?? 0;
    regions.set(n.region, r);
  }
  lines.push("Nodes per region:");
  for (const [region, r] of [...regions].sort()) {
    lines.push(
      `  ${region.padEnd(16)} ${r.ready} ready, ${r.down} down   cpu ${(r.cpu / 1000).toFixed(1)}/${(r.cap / 1000).toFixed(0)} cores`,
    );
  }
  const byState = new Map<string, number>();
  for (const c of containers.containers) {
    const name = containerStateNames[c.state] ?? "unknown";
    byState.set(name, (byState.get(name) ?? 0) + 1);
  }
  lines.push("");
  lines.push(`Containers: ${[...byState].map(([s, n]) => `${n} ${s}`).join(", ") || "none"}`);
  lines.push("");
  lines.push("Deployments:");
  for (const d of deployments.deployments) {
    const s = d.status;
    lines.push(
      `  ${(d.spec?.name ?? "").padEnd(10)} ${String(s?.running ?? 0).padStart(2)}/${s?.desired ?? 0} running  ${s?.healthy ?? 0} healthy  ${s?.pending ?? 0} pending`,
    );
  }
  const rollouts = await rolloutLines(
    client,
    deployments.deployments.map((d) => d.spec?.name ?? ""),
  );
  if (rollouts.length > 0) {
    lines.push("");
    lines.push("Rollouts:");
    lines.push(...rollouts);
  }
  const slo = await client.call("getSlo", { stale: true });
  lines.push("");
  lines.push(
    `Success rate (objective ${(slo.objective * 100).toFixed(2)}%): ` +
      slo.windows
        .map((w) => `${w.name} ${(w.successRatio * 100).toFixed(2)}% (${w.succeeded} ok, ${w.failed} failed)`)
        .join("   "),
  );
  lines.push(`Error budget remaining: ${(slo.errorBudgetRemainingRatio * 100).toFixed(1)}%`);
  return lines.join("\n");
}

/** One line per deployment that has rolled out a version: where it stands, or how its last one ended. */
async function rolloutLines(client: OrchClient, names: readonly string[]): Promise<string[]> {
  const lines: string[] = [];
  for (const name of names) {
    const deployment = (await client.call("getDeployment", { name, stale: true })).deployment;
    const rollout = deployment?.rollout;
    if (deployment === undefined || rollout === undefined) continue;
    const target = deployment.history.find((v) => Number(v.version) === Number(rollout.toVersion));
    const image = target?.spec?.image ?? "";
    const containers = (await client.call("listContainers", { deployment: name, node: "", stale: true, limit: 1_000 }))
      .containers;
    const onTarget = containers.filter(
      (c) => Number(c.version) === Number(rollout.toVersion) && c.state === ContainerState.CONTAINER_STATE_RUNNING,
    );
    const healthyOnTarget = onTarget.filter((c) => c.health === "healthy").length;
    const how = rollout.isRevert ? " (automatic revert)" : "";
    const why = rollout.reason === "" ? "" : `: ${rollout.reason}`;
    lines.push(
      `  ${name.padEnd(10)} v${rollout.fromVersion} -> v${rollout.toVersion} ${image}${how}  ${rollout.state}` +
        `  ${healthyOnTarget}/${deployment.spec?.replicas ?? 0} new healthy, step ${rollout.stepSeq}${why}`,
    );
  }
  return lines;
}
