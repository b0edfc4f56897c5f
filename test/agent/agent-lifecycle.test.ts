import * as grpc from "@grpc/grpc-js";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startAgent, type AgentHandle } from "../../src/agent/agent.js";
import { ContainerState as PbContainerState } from "../../src/gen/orchestrator/v1/types.js";
import { HealthState } from "../../src/gen/orchestrator/v1/fsm.js";
import { OrchestratorServiceClient, type ListNodesResponse } from "../../src/gen/orchestrator/v1/orchestrator.js";
import { createLogger } from "../../src/lib/logger.js";
import { deploy, place, TestCluster, waitFor } from "./harness.js";

// A real node agent (in-process) against three real replicas on 127.0.0.1. Every wait is for a
// condition with a deadline, never a sleep.

let cluster: TestCluster;
const agents: AgentHandle[] = [];

beforeAll(async () => {
  cluster = await TestCluster.start();
  await cluster.waitForLeader();
});

afterAll(async () => {
  await cluster?.stop();
});

afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.stop()));
});

async function agent(prefix: string, nodes = 2): Promise<AgentHandle> {
  const handle = await startAgent({
    region: "eu-west-1",
    nodeCount: nodes,
    cpuMillicores: 4000,
    memoryMib: 8192,
    endpoints: cluster.endpoints(),
    httpAddress: "127.0.0.1:0",
    startDelayMs: 100,
    nodePrefix: prefix,
    agentId: `agent-${prefix}`,
    heartbeatIntervalMs: 100,
    logger: createLogger({ agent: prefix }, process.env["LOG_LEVEL"] ?? "silent"),
  });
  agents.push(handle);
  return handle;
}

function leaderFsm() {
  const leader = cluster.leader();
  if (leader === undefined) throw new Error("no leader right now");
  return leader.fsm;
}

async function health(handle: AgentHandle, containerId: string, path = "/health"): Promise<number> {
  const response = await fetch(`http://${handle.httpAddress}/containers/${containerId}${path}`);
  await response.text();
  return response.status;
}

async function post(handle: AgentHandle, path: string): Promise<number> {
  const response = await fetch(`http://${handle.httpAddress}${path}`, { method: "POST" });
  await response.text();
  return response.status;
}

function listNodes(address: string): Promise<ListNodesResponse> {
  const client = new OrchestratorServiceClient(address, grpc.credentials.createInsecure());
  return new Promise((resolve, reject) =>
    client.listNodes({ stale: false }, (error, response) => {
      client.close();
      if (error !== null) reject(error);
      else resolve(response);
    }),
  );
}

describe("node agent against a three-replica cluster", () => {
  it("registers its nodes: ready in ListNodes with its address, and heartbeats are recorded on the leader", async () => {
    const handle = await agent("reg", 3);
    expect(handle.nodeIds).toEqual(["reg-n1", "reg-n2", "reg-n3"]);
    await waitFor(() => handle.nodeIds.every((id) => leaderFsm().getNode(id)?.status === "ready"), "three ready nodes");
    const leader = await cluster.waitForLeader();
    const nodes = (await listNodes(leader.apiAddress)).nodes.filter((n) => n.id.startsWith("reg-"));
    expect(nodes.map((n) => n.id)).toEqual(["reg-n1", "reg-n2", "reg-n3"]);
    for (const node of nodes) {
      expect(node.region).toBe("eu-west-1");
      expect(node.capacity).toEqual({ cpuMillicores: 4000, memoryMib: 8192 });
      expect(node.agentAddress).toBe(handle.advertiseAddress);
    }
    const before = leader.heartbeats.lastSeen("reg-n1");
    expect(before).toBeDefined();
    await waitFor(() => (leader.heartbeats.lastSeen("reg-n1") ?? 0) > before!, "a later heartbeat");
    expect(Date.now() - leader.heartbeats.lastSeen("reg-n3")!).toBeLessThan(2_000);
  });

  it("runs assigned containers: health endpoint 200, FSM running (health left to probes), no duplicates", async () => {
    const handle = await agent("run");
    await waitFor(() => leaderFsm().getNode("run-n2")?.status === "ready", "nodes registered");
    await deploy(cluster, "web", 3);
    expect(await place(cluster, "web", { "web-0": "run-n1", "web-1": "run-n2", "web-2": "run-n1" })).toBe(3);
    await waitFor(
      () => ["web-0", "web-1", "web-2"].every((id) => leaderFsm().getContainer(id)?.state === "running"),
      "three running containers",
    );
    // The agent reports what runs, not whether it is healthy: only the leader's probes (no health
    // controller runs in this harness) turn a container healthy.
    expect(leaderFsm().getContainer("web-0")?.health).toBe("unknown");
    expect(await health(handle, "web-0")).toBe(200);
    expect(await health(handle, "web-1", "/healthz")).toBe(200); // the deployment's default health-check path
    expect(await health(handle, "nope-0")).toBe(404);
    const local = handle.containers();
    expect(local.map((c) => c.containerId).sort()).toEqual(["web-0", "web-1", "web-2"]);
    expect(local.find((c) => c.containerId === "web-1")?.nodeId).toBe("run-n2");
    const metrics = await (await fetch(`http://${handle.httpAddress}/metrics`)).text();
    expect(metrics).toMatch(/orchestrator_agent_containers\{state="running",agent="agent-run",region="eu-west-1"\} 3/);
    expect(metrics).toMatch(/orchestrator_agent_nodes\{status="alive",agent="agent-run",region="eu-west-1"\} 2/);
    expect(metrics).toMatch(
      /orchestrator_agent_reports_total\{outcome="applied",agent="agent-run",region="eu-west-1"\} \d+/,
    );
    expect(await (await fetch(`http://${handle.httpAddress}/healthz`)).text()).toBe("ok\n");
  });

  it("stops containers that are scaled away or deleted, reports them stopped, and the cluster forgets them", async () => {
    const handle = await agent("stop");
    await waitFor(() => leaderFsm().getNode("stop-n2")?.status === "ready", "nodes registered");
    await deploy(cluster, "api", 2);
    await place(cluster, "api", { "api-0": "stop-n1", "api-1": "stop-n2" });
    await waitFor(() => leaderFsm().getContainer("api-1")?.state === "running", "api-1 running");
    await cluster.propose({ kind: "scale", scale: { name: "api", replicas: 1 } }, "scale");
    // The surplus is the highest ordinal: wanted stopped, stopped by the agent, then removed.
    await waitFor(() => leaderFsm().getContainer("api-1") === undefined, "api-1 forgotten by the cluster");
    await waitFor(() => handle.containers().every((c) => c.containerId !== "api-1"), "api-1 gone from the agent");
    expect(await health(handle, "api-1")).toBe(404);
    expect(leaderFsm().getNode("stop-n2")?.allocated).toEqual({ cpuMillicores: 0, memoryMib: 0 });
    expect(handle.containers().find((c) => c.containerId === "api-0")?.state).toBe("running");
    await cluster.propose({ kind: "delete", delete: { name: "api" } }, "delete");
    await waitFor(() => leaderFsm().getContainer("api-0") === undefined, "api-0 forgotten by the cluster");
    await waitFor(() => handle.containers().length === 0, "nothing left on the agent");
  });

  it("starts a fresh instance when the cluster records a restart", async () => {
    const handle = await agent("rst", 1);
    await waitFor(() => leaderFsm().getNode("rst-n1")?.status === "ready", "node registered");
    await deploy(cluster, "job", 1);
    await place(cluster, "job", { "job-0": "rst-n1" });
    await waitFor(() => leaderFsm().getContainer("job-0")?.state === "running", "job-0 running");
    const first = handle.containers()[0];
    expect(first.generation).toBe(0);
    // What the health controller will do: mark it restarting (restart count 1).
    await cluster.propose(
      {
        kind: "container-status",
        containerStatus: {
          containerId: "job-0",
          nodeId: "rst-n1",
          state: PbContainerState.CONTAINER_STATE_RESTARTING,
          health: HealthState.HEALTH_STATE_UNSPECIFIED,
          message: "test",
        },
      },
      "container-status",
    );
    await waitFor(() => handle.containers()[0]?.generation === 1, "a new instance");
    await waitFor(() => leaderFsm().getContainer("job-0")?.state === "running", "job-0 running again");
    expect(leaderFsm().getContainer("job-0")?.restartCount).toBe(1);
    expect(handle.containers()).toHaveLength(1);
  });

  it("fault hooks: unhealthy, healthy, hang and crash on a container", async () => {
    const handle = await agent("flt", 1);
    await waitFor(() => leaderFsm().getNode("flt-n1")?.status === "ready", "node registered");
    await deploy(cluster, "svc", 1);
    await place(cluster, "svc", { "svc-0": "flt-n1" });
    await waitFor(() => leaderFsm().getContainer("svc-0")?.state === "running", "svc-0 running");
    expect(await post(handle, "/faults/containers/svc-0/unhealthy")).toBe(200);
    expect(await health(handle, "svc-0")).toBe(500);
    expect(await post(handle, "/faults/containers/svc-0/healthy")).toBe(200);
    expect(await health(handle, "svc-0")).toBe(200);
    expect(await post(handle, "/faults/containers/svc-0/hang")).toBe(200);
    await expect(
      fetch(`http://${handle.httpAddress}/containers/svc-0/health`, { signal: AbortSignal.timeout(300) }),
    ).rejects.toThrow();
    expect(await post(handle, "/faults/containers/svc-0/healthy")).toBe(200);
    expect(await health(handle, "svc-0")).toBe(200);
    const crashedInstance = handle.containers()[0].incarnation;
    expect(await post(handle, "/faults/containers/svc-0/crash")).toBe(200);
    await waitFor(() => leaderFsm().getContainer("svc-0")?.state === "failed", "svc-0 reported failed");
    // A crash keeps its place: still assigned to its node, holding its room, and down on the
    // agent (no process: its endpoint answers 503) until the leader decides a restart.
    const failedAt = leaderFsm().revision;
    await waitFor(() => handle.revision() >= failedAt, "the agent to see svc-0 failed");
    expect(leaderFsm().getContainer("svc-0")).toMatchObject({ node: "flt-n1", state: "failed", restartCount: 0 });
    expect(leaderFsm().getNode("flt-n1")?.allocated).toEqual({ cpuMillicores: 500, memoryMib: 256 });
    expect(handle.containers()).toMatchObject([
      { containerId: "svc-0", state: "failed", generation: 0, incarnation: crashedInstance },
    ]);
    expect(await health(handle, "svc-0")).toBe(503);
    expect(await post(handle, "/faults/containers/svc-0/crash")).toBe(409);
    expect(await post(handle, "/faults/containers/svc-0/reboot")).toBe(404);
    expect((await fetch(`http://${handle.httpAddress}/faults/containers/svc-0/crash`)).status).toBe(405);
    // What the health controller does: restart it in place (here at once).
    const restart = await cluster.propose(
      {
        kind: "restart-container",
        restartContainer: {
          containerId: "svc-0",
          delayMs: 0,
          notBeforeMs: Date.now(),
          backoffStep: 1,
          reason: "test: crashed",
        },
      },
      "restart-container",
    );
    expect(restart.restartCount).toBe(1);
    await waitFor(() => leaderFsm().getContainer("svc-0")?.state === "running", "svc-0 running again");
    expect(leaderFsm().getContainer("svc-0")).toMatchObject({ node: "flt-n1", restartCount: 1, health: "unknown" });
    expect(handle.containers()).toMatchObject([{ containerId: "svc-0", state: "running", generation: 1 }]);
    expect(handle.containers()[0].incarnation).not.toBe(crashedInstance);
    expect(await health(handle, "svc-0")).toBe(200);
  });

  it("honours a restart's not-before time: the fresh instance waits, down, until then", async () => {
    const handle = await agent("nbf", 1);
    await waitFor(() => leaderFsm().getNode("nbf-n1")?.status === "ready", "node registered");
    await deploy(cluster, "cron", 1);
    await place(cluster, "cron", { "cron-0": "nbf-n1" });
    await waitFor(() => leaderFsm().getContainer("cron-0")?.state === "running", "cron-0 running");
    const old = handle.containers()[0];
    // A restart of a running container (as for one that failed its health checks), with a back-off.
    const notBeforeMs = Date.now() + 1_500;
    await cluster.propose(
      {
        kind: "restart-container",
        restartContainer: {
          containerId: "cron-0",
          delayMs: 1_500,
          notBeforeMs,
          backoffStep: 2,
          reason: "test: unhealthy",
        },
      },
      "restart-container",
    );
    expect(leaderFsm().getContainer("cron-0")).toMatchObject({
      state: "restarting",
      restartCount: 1,
      nextRestartAtMs: notBeforeMs,
    });
    // The old instance goes at once; the new one waits, unreported and not serving, until then.
    await waitFor(() => handle.containers()[0]?.generation === 1, "the agent to take the restart");
    const waiting = handle.containers()[0];
    expect(waiting).toMatchObject({ containerId: "cron-0", state: "waiting", notBeforeMs });
    expect(waiting.incarnation).not.toBe(old.incarnation);
    // Observe it until the not-before time; only observations completed before then count.
    let checks = 0;
    for (;;) {
      const local = handle.containers()[0]?.state;
      const recorded = leaderFsm().getContainer("cron-0")?.state;
      const status = await health(handle, "cron-0");
      if (Date.now() >= notBeforeMs) break;
      expect({ local, recorded, status }).toEqual({ local: "waiting", recorded: "restarting", status: 503 });
      checks += 1;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(checks).toBeGreaterThan(5);
    await waitFor(() => leaderFsm().getContainer("cron-0")?.state === "running", "cron-0 running after its back-off");
    expect(handle.containers()).toMatchObject([
      { containerId: "cron-0", state: "running", generation: 1, incarnation: waiting.incarnation },
    ]);
    expect(leaderFsm().getContainer("cron-0")).toMatchObject({
      restartCount: 1,
      nextRestartAtMs: 0,
      health: "unknown",
    });
    expect(await health(handle, "cron-0")).toBe(200);
  });

  it("an agent that restarts does not start a container recorded failed until the leader restarts it", async () => {
    const first = await agent("crs", 1);
    await waitFor(() => leaderFsm().getNode("crs-n1")?.status === "ready", "node registered");
    await deploy(cluster, "batch", 1);
    await place(cluster, "batch", { "batch-0": "crs-n1" });
    await waitFor(() => leaderFsm().getContainer("batch-0")?.state === "running", "batch-0 running");
    expect(await post(first, "/faults/containers/batch-0/crash")).toBe(200);
    await waitFor(() => leaderFsm().getContainer("batch-0")?.state === "failed", "batch-0 reported failed");
    await first.stop();
    // The agent's replacement runs the same nodes and finds batch-0 assigned, recorded failed.
    const second = await agent("crs", 1);
    const failedAt = leaderFsm().revision;
    await waitFor(() => second.connected() && second.revision() >= failedAt, "the new agent watching");
    expect(second.containers()).toEqual([]);
    expect(leaderFsm().getContainer("batch-0")).toMatchObject({ state: "failed", node: "crs-n1", restartCount: 0 });
    expect(await health(second, "batch-0")).toBe(404);
    await cluster.propose(
      {
        kind: "restart-container",
        restartContainer: {
          containerId: "batch-0",
          delayMs: 0,
          notBeforeMs: Date.now(),
          backoffStep: 1,
          reason: "test: crashed",
        },
      },
      "restart-container",
    );
    await waitFor(() => leaderFsm().getContainer("batch-0")?.state === "running", "batch-0 running after the restart");
    expect(second.containers()).toMatchObject([{ containerId: "batch-0", state: "running", generation: 1 }]);
  });

  it("fault hooks: a killed node goes silent and keeps its containers; revived, it stops what it lost", async () => {
    const handle = await agent("kil", 2);
    await waitFor(() => leaderFsm().getNode("kil-n2")?.status === "ready", "nodes registered");
    await deploy(cluster, "db", 3);
    await place(cluster, "db", { "db-0": "kil-n1", "db-1": "kil-n2", "db-2": "kil-n2" });
    await waitFor(
      () => ["db-0", "db-1", "db-2"].every((id) => leaderFsm().getContainer(id)?.state === "running"),
      "db running",
    );
    expect(await post(handle, "/faults/nodes/kil-n2/kill")).toBe(200);
    expect(await post(handle, "/faults/nodes/kil-n2/kill")).toBe(409);
    expect(await post(handle, "/faults/nodes/nope-n9/kill")).toBe(404);
    await expect(fetch(`http://${handle.httpAddress}/containers/db-1/health`)).rejects.toThrow();
    expect(await health(handle, "db-0")).toBe(200);
    // Silent: the killed node's last heartbeat stops moving while the other's keeps moving.
    const leader = await cluster.waitForLeader();
    const killedAt = leader.heartbeats.lastSeen("kil-n2")!;
    const aliveAt = leader.heartbeats.lastSeen("kil-n1")!;
    await waitFor(() => leader.heartbeats.lastSeen("kil-n1")! > aliveAt + 300, "the live node heartbeating on");
    expect(leader.heartbeats.lastSeen("kil-n2")).toBeLessThanOrEqual(killedAt + 150);
    // While it is away the cluster scales db-2 away; the dead node cannot learn of it.
    await cluster.propose({ kind: "scale", scale: { name: "db", replicas: 2 } }, "scale");
    await waitFor(() => leaderFsm().getContainer("db-2")?.desired === "stopped", "db-2 wanted stopped");
    // Once the agent has reconciled a snapshot that wants db-2 stopped, a (wrong) stop would have happened.
    const scaledAt = leaderFsm().revision;
    await waitFor(() => handle.revision() >= scaledAt, "the agent to see the scale-down");
    expect(handle.containers().find((c) => c.containerId === "db-2")?.state).toBe("running");
    expect(await post(handle, "/faults/nodes/kil-n2/revive")).toBe(200);
    await waitFor(() => leaderFsm().getContainer("db-2") === undefined, "db-2 stopped and forgotten after the revival");
    expect(await health(handle, "db-1")).toBe(200);
    await waitFor(() => (leader.heartbeats.lastSeen("kil-n2") ?? 0) > killedAt, "heartbeats from the revived node");
    await waitFor(() => handle.containers().length === 2, "db-2 dropped by the agent");
    expect(
      handle
        .containers()
        .map((c) => c.containerId)
        .sort(),
    ).toEqual(["db-0", "db-1"]);
  });
});
