import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAgent, type AgentHandle } from "../../src/agent/agent.js";
import { createLogger } from "../../src/lib/logger.js";
import { deploy, place, TestCluster, waitFor } from "./harness.js";

// The leader the agent talks to dies (no leadership transfer). The agent must find the new
// leader, keep every container it runs (no restart, no duplicate), deliver a report it made
// during the outage (a crash: the container stays assigned and down), and take new work,
// including the restart of the crashed container, from the new leader.

let cluster: TestCluster;
let agent: AgentHandle;

beforeAll(async () => {
  cluster = await TestCluster.start();
  await cluster.waitForLeader();
  agent = await startAgent({
    region: "ap-southeast-1",
    nodeCount: 3,
    cpuMillicores: 4000,
    memoryMib: 8192,
    endpoints: cluster.endpoints(),
    httpAddress: "127.0.0.1:0",
    startDelayMs: 50,
    nodePrefix: "fo",
    agentId: "agent-fo",
    heartbeatIntervalMs: 100,
    logger: createLogger({ agent: "fo" }, process.env["LOG_LEVEL"] ?? "silent"),
  });
});

afterAll(async () => {
  await agent?.stop();
  await cluster?.stop();
});

describe("node agent across a leader failover", () => {
  it("keeps its containers without duplicates, re-delivers reports and follows the new leader", async () => {
    await waitFor(
      () => agent.nodeIds.every((id) => cluster.leader()?.fsm.getNode(id)?.status === "ready"),
      "nodes registered",
    );
    await deploy(cluster, "shop", 4);
    await place(cluster, "shop", { "shop-0": "fo-n1", "shop-1": "fo-n2", "shop-2": "fo-n3", "shop-3": "fo-n1" });
    const ids = ["shop-0", "shop-1", "shop-2", "shop-3"];
    await waitFor(
      () => ids.every((id) => cluster.leader()?.fsm.getContainer(id)?.state === "running"),
      "four running containers",
    );
    const incarnations = new Map(agent.containers().map((c) => [c.containerId, c.incarnation]));
    expect(incarnations.size).toBe(4);

    const old = await cluster.waitForLeader();
    await cluster.kill(old.id);
    // A crash while there is no leader: the report must survive the election.
    const crash = await fetch(`http://${agent.httpAddress}/faults/containers/shop-3/crash`, { method: "POST" });
    expect(crash.status).toBe(200);

    const next = await cluster.waitForLeader();
    expect(next.id).not.toBe(old.id);
    await waitFor(
      () => next.fsm.getContainer("shop-3")?.state === "failed",
      "the crash reported to the new leader",
      15_000,
    );
    await waitFor(
      () => agent.connected() && agent.revision() >= next.fsm.revision,
      "the agent watching the new leader",
      15_000,
    );
    await waitFor(
      () => agent.nodeIds.every((id) => next.heartbeats.lastSeen(id) !== undefined),
      "heartbeats on the new leader",
    );

    // New work comes from the new leader.
    await cluster.propose({ kind: "scale", scale: { name: "shop", replicas: 5 } }, "scale");
    expect(await place(cluster, "shop", { "shop-4": "fo-n2" })).toBe(1);
    await waitFor(() => next.fsm.getContainer("shop-4")?.state === "running", "shop-4 running");

    for (const id of ["shop-0", "shop-1", "shop-2"]) expect(next.fsm.getContainer(id)?.state).toBe("running");
    // The crash keeps shop-3 assigned to fo-n1 and down on the agent: the same crashed instance,
    // not restarted by the agent, until the leader decides to.
    expect(next.fsm.getContainer("shop-3")).toMatchObject({ node: "fo-n1", state: "failed", restartCount: 0 });
    expect(agent.containers().find((c) => c.containerId === "shop-3")).toMatchObject({
      state: "failed",
      generation: 0,
      incarnation: incarnations.get("shop-3"),
    });
    // The new leader restarts it (as its health controller would), with a short back-off.
    const notBeforeMs = Date.now() + 300;
    await cluster.propose(
      {
        kind: "restart-container",
        restartContainer: { containerId: "shop-3", delayMs: 300, notBeforeMs, backoffStep: 1, reason: "test: crashed" },
      },
      "restart-container",
    );
    await waitFor(() => next.fsm.getContainer("shop-3")?.state === "running", "shop-3 running again after its restart");
    expect(Date.now()).toBeGreaterThanOrEqual(notBeforeMs);
    expect(next.fsm.getContainer("shop-3")).toMatchObject({ node: "fo-n1", restartCount: 1 });
    const restarted = agent.containers().find((c) => c.containerId === "shop-3");
    expect(restarted).toMatchObject({ nodeId: "fo-n1", state: "running", generation: 1, notBeforeMs });
    expect(restarted?.incarnation).not.toBe(incarnations.get("shop-3"));
    const local = agent.containers();
    expect(local.map((c) => c.containerId).sort()).toEqual(["shop-0", "shop-1", "shop-2", "shop-3", "shop-4"]);
    // The same instances as before the failover: nothing was restarted or started twice.
    for (const id of ["shop-0", "shop-1", "shop-2"])
      expect(local.find((c) => c.containerId === id)?.incarnation).toBe(incarnations.get(id));
    for (const c of local) expect(c.state).toBe("running");
    // The cluster's view agrees: each running container is assigned once, on the node that runs it.
    for (const c of local) expect(next.fsm.getContainer(c.containerId)?.node).toBe(c.nodeId);
    const metrics = await (await fetch(`http://${agent.httpAddress}/metrics`)).text();
    const opened = Number(/orchestrator_agent_watch_streams_opened_total\{[^}]*\} (\d+)/.exec(metrics)?.[1]);
    expect(opened).toBeGreaterThanOrEqual(2);
  });
});
