#!/usr/bin/env node
import { OrchClient } from "../../src/cli/client.js";
import { ContainerState, NodeStatus, UpdatePolicy } from "../../src/gen/orchestrator/v1/types.js";
import { localClientCredentials } from "../local-cluster/local-security.js";
import { readDemoState } from "./demo-state.js";

const writeIntervalMs = 20;

function say(line: string): void {
  process.stdout.write(`${new Date().toISOString().slice(11, 23)}  ${line}\n`);
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function post(url: string): Promise<void> {
  const response = await fetch(url, { method: "POST" });
  if (!response.ok) throw new Error(`${url}: ${response.status} ${await response.text()}`);
}

/** Kills the leader under a stream of writes and reports the gap orchctl saw. */
async function leaderKill(client: OrchClient): Promise<void> {
  const state = readDemoState();
  // Right after a start or a previous kill there may be no leader yet: wait for one.
  const status = await until("a leader", 15_000, async () => {
    const s = await client.call("clusterStatus", {});
    return s.leaderId === "" ? undefined : s;
  });
  const leader = readDemoState().replicas.find((r) => r.id === status.leaderId) ?? undefined;
  if (leader === undefined || leader.pid === 0)
    throw new Error(`leader ${status.leaderId} is not one of the demo's replicas (${state.endpoints})`);
  const spec = (await client.call("getDeployment", { name: "web", stale: false })).deployment?.spec;
  if (spec === undefined) throw new Error("the demo's web deployment is missing");
  const acks: number[] = [];
  let writing = true;
  const writer = (async () => {
    while (writing) {
      // Re-deploying the same spec is a no-op for the cluster but a real replicated write.
      await client
        .call("deploy", { header: client.nextHeader(), spec })
        .then(() => acks.push(Date.now()))
        .catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, writeIntervalMs));
    }
  })();
  await until("writes to flow", 5000, async () => (acks.length >= 10 ? true : undefined));
  say(
    `leader is ${leader.id} (pid ${leader.pid}, term ${status.term}); writing every ${writeIntervalMs} ms; SIGKILL ${leader.id} now`,
  );
  const killedAt = Date.now();
  process.kill(leader.pid, "SIGKILL");
  const before = acks.length;
  await until("a write acknowledged by the new leader", 15_000, async () =>
    acks.length > before + 5 ? true : undefined,
  );
  writing = false;
  await writer;
  const lastBefore = Math.max(...acks.filter((t) => t <= killedAt));
  const firstAfter = Math.min(...acks.filter((t) => t > killedAt));
  const now = await client.call("clusterStatus", {});
  say(`new leader ${now.leaderId} in term ${now.term}; orchctl carried on without an error`);
  say(`gap between the last acknowledged write before the kill and the first after it: ${firstAfter - lastBefore} ms`);
}

async function containerCrash(client: OrchClient): Promise<void> {
  const containers = (await client.call("listContainers", { deployment: "web", node: "", stale: false, limit: 100 }))
    .containers;
  const victim = containers.find((c) => c.state === ContainerState.CONTAINER_STATE_RUNNING);
  if (victim === undefined) throw new Error("no running web container to crash");
  const node = (await client.call("listNodes", { stale: false })).nodes.find((n) => n.id === victim.node);
  if (node === undefined) throw new Error(`node ${victim.node} not found`);
  say(`crashing container ${victim.id} on ${victim.node} (restarts so far: ${victim.restartCount})`);
  await post(`http://${node.agentAddress}/faults/containers/${victim.id}/crash`);
  const started = Date.now();
  const after = await until(`${victim.id} to be restarted and running`, 30_000, async () => {
    const c = (
      await client.call("listContainers", { deployment: "web", node: "", stale: false, limit: 100 })
    ).containers.find((x) => x.id === victim.id);
    return c !== undefined && c.restartCount > victim.restartCount && c.state === ContainerState.CONTAINER_STATE_RUNNING
      ? c
      : undefined;
  });
  say(`${victim.id} restarted (restart ${after.restartCount}) and running again after ${Date.now() - started} ms`);
}

async function nodeDeath(client: OrchClient): Promise<void> {
  const containers = (await client.call("listContainers", { deployment: "web", node: "", stale: false, limit: 100 }))
    .containers;
  const onNode = containers.find((c) => c.state === ContainerState.CONTAINER_STATE_RUNNING);
  if (onNode === undefined) throw new Error("no running web container");
  const nodes = (await client.call("listNodes", { stale: false })).nodes;
  const node = nodes.find((n) => n.id === onNode.node);
  if (node === undefined) throw new Error(`node ${onNode.node} not found`);
  const victims = containers
    .filter((c) => c.node === node.id && c.state === ContainerState.CONTAINER_STATE_RUNNING)
    .map((c) => c.id);
  say(`killing node ${node.id} (running ${victims.join(", ")}): it stops heartbeating and serving`);
  await post(`http://${node.agentAddress}/faults/nodes/${node.id}/kill`);
  const started = Date.now();
  await until(`${node.id} to be declared down`, 30_000, async () =>
    (await client.call("listNodes", { stale: false })).nodes.find((n) => n.id === node.id)?.status ===
    NodeStatus.NODE_STATUS_DOWN
      ? true
      : undefined,
  );
  say(`${node.id} declared down after ${Date.now() - started} ms (heartbeat TTL)`);
  await until("web to be fully running elsewhere", 30_000, async () => {
    const d = (await client.call("getDeployment", { name: "web", stale: false })).deployment;
    return d?.status !== undefined && d.status.running >= (d.spec?.replicas ?? 0) ? true : undefined;
  });
  const now = (await client.call("listContainers", { deployment: "web", node: "", stale: false, limit: 100 }))
    .containers;
  const replacements = now.filter(
    (c) => c.state === ContainerState.CONTAINER_STATE_RUNNING && !containers.some((o) => o.id === c.id),
  );
  say(
    `rescheduled: ${replacements.map((c) => `${c.id} on ${c.node}`).join(", ")}; web fully running ${Date.now() - started} ms after the node died`,
  );
  await post(`http://${node.agentAddress}/faults/nodes/${node.id}/revive`);
  say(`revived ${node.id}: it registers again and its agent stops what was moved away`);
}

/**
 * Rolls `web` out to an image whose every instance answers its health check with 500: the new
 * replicas never count healthy, the rollout misses its healthy deadline and goes back by itself to
 * the last version that rolled out, without touching the old replicas that stayed healthy.
 */
async function badRollout(client: OrchClient): Promise<void> {
  const badImage = "nginx:1.29-broken";
  const before = (await client.call("getDeployment", { name: "web", stale: false })).deployment;
  if (before?.spec === undefined) throw new Error("the demo's web deployment is missing");
  if (before.rollout !== undefined && ["running", "paused", "awaiting-promotion"].includes(before.rollout.state))
    throw new Error(`web is still rolling out (v${before.rollout.toVersion}); run this again when it is done`);
  const oldRunning = (
    await client.call("listContainers", { deployment: "web", node: "", stale: false, limit: 100 })
  ).containers
    .filter((c) => c.state === ContainerState.CONTAINER_STATE_RUNNING && c.health === "healthy")
    .map((c) => c.id);
  await client.call("injectFault", { target: "image", id: badImage, action: "unhealthy", seconds: 0 });
  say(`every instance of ${badImage} now answers its health check with HTTP 500 (image fault)`);
  const spec = {
    ...before.spec,
    image: badImage,
    update: UpdatePolicy.fromPartial({
      ...before.spec.update,
      maxParallel: 1,
      minHealthyTimeMs: 1_000,
      healthyDeadlineMs: 8_000,
      autoRevert: true,
    }),
  };
  const deployed = await client.call("deploy", { header: client.nextHeader(), spec });
  const badVersion = Number(deployed.version ?? 0);
  say(`deployed web v${badVersion} (${badImage}), max-parallel 1, healthy deadline 8 s, auto-revert on`);
  const started = Date.now();
  const reverted = await until("the bad version to be reverted", 90_000, async () => {
    const d = (await client.call("getDeployment", { name: "web", stale: false })).deployment;
    return d?.rollout?.isRevert === true && Number(d.rollout.fromVersion) >= badVersion ? d : undefined;
  });
  say(
    `rollout to v${badVersion} failed and reverted after ${Date.now() - started} ms: ${reverted.rollout?.reason ?? ""}`,
  );
  const done = await until("the revert to finish", 90_000, async () => {
    const d = (await client.call("getDeployment", { name: "web", stale: false })).deployment;
    // A finished revert rests in "reverted" (the rollout it undid failed); until then it runs.
    const state = d?.rollout?.state ?? "";
    return d?.rollout?.isRevert === true && !["running", "paused", "awaiting-promotion"].includes(state)
      ? d
      : undefined;
  });
  const now = (
    await client.call("listContainers", { deployment: "web", node: "", stale: false, limit: 100 })
  ).containers
    .filter((c) => c.state === ContainerState.CONTAINER_STATE_RUNNING)
    .map((c) => c.id);
  const kept = oldRunning.filter((id) => now.includes(id));
  say(
    `web is on v${done.version} (${done.spec?.image ?? ""}) again; ${kept.length} of ${oldRunning.length} old replicas ran throughout`,
  );
  await client.call("injectFault", { target: "image", id: badImage, action: "healthy", seconds: 0 });
}

async function main(): Promise<void> {
  const state = readDemoState();
  // The demo's own certificate (and token), whatever the user's current context says.
  const credentials = localClientCredentials(state.security ?? null);
  const client = new OrchClient({
    endpoints: state.endpoints.split(","),
    deadlineMs: Number.POSITIVE_INFINITY,
    log: () => undefined,
    ...(credentials !== undefined ? { credentials } : {}),
  });
  say("1. leader failover under writes");
  await leaderKill(client);
  say("2. a container crash");
  await containerCrash(client);
  say("3. a node death");
  await nodeDeath(client);
  say("4. a bad rollout that reverts by itself");
  await badRollout(client);
  say("done: the demo's live view shows the cluster healthy again");
  process.exit(0);
}

main().catch((error: unknown) => {
  process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
