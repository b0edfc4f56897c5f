import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../cluster/harness.js";
import { DeployRequest } from "../../src/gen/orchestrator/v1/orchestrator.js";
import { DeploymentSpec, Strategy } from "../../src/gen/orchestrator/v1/types.js";
import { SchedulerCluster, allocationOf, perRegion, type AgentContainerJson, type ContainerJson } from "./harness.js";

/**
 * The scheduler's leader dies by SIGKILL while deployments of every strategy run. A new leader
 * takes over; the containers keep running where they were (same nodes, same instances on the
 * agents, no duplicates); the agents reconnect to the new leader; a deployment made after the
 * failover is placed and runs; and the killed replica, restarted, catches up.
 */

let c: SchedulerCluster;

beforeAll(async () => {
  c = await SchedulerCluster.start({
    name: "sched-failover",
    nodesPerRegion: 3,
    cpuMillicores: 8000,
    memoryMib: 16384,
  });
}, 90_000);

afterEach(async (context) => {
  if (c === undefined) return;
  if (context.task.result?.state === "fail") await c.dumpLogs();
}, 90_000);

afterAll(async () => {
  await c?.close();
}, 90_000);

const deployments = ["fo-pack", "fo-spread", "fo-near"] as const;

/** Every container every agent runs, and a check that no container runs twice anywhere. */
async function everythingAgentsRun(): Promise<Map<string, AgentContainerJson>> {
  const all = (await Promise.all(c.agentAddresses().map((address) => c.agentContainers(address)))).flat();
  const byId = new Map<string, AgentContainerJson>();
  for (const x of all) {
    expect(byId.has(x.containerId), `${x.containerId} runs on more than one node`).toBe(false);
    byId.set(x.containerId, x);
  }
  return byId;
}

async function containersOf(names: readonly string[]): Promise<ContainerJson[]> {
  return (await Promise.all(names.map((name) => c.containers(name)))).flat();
}

describe("leader SIGKILL", () => {
  it("keeps every container where it runs, reconnects the agents, places new work and lets the old leader catch up", async () => {
    await c.deploy("fo-pack", { replicas: 8, cpu: "1", memory: "512Mi", strategy: "binpack", wait: true });
    await c.deploy("fo-spread", { replicas: 6, cpu: "500m", memory: "512Mi", strategy: "spread", wait: true });
    await c.deploy("fo-near", {
      replicas: 4,
      cpu: "1",
      memory: "1Gi",
      strategy: "latency",
      clientRegions: ["eu-west-1"],
      wait: true,
    });
    await c.waitForContainers("fo-pack", { running: 8 });
    await c.waitForContainers("fo-spread", { running: 6 });
    expect(Object.fromEntries(perRegion(await c.waitForContainers("fo-near", { running: 4 })))).toEqual({
      "eu-west-1": 4,
    });
    const before = await containersOf(deployments);
    const placedBefore = new Map(before.map((x) => [x.id, x.node]));
    const nodesBefore = await c.nodes();
    const runningBefore = await waitFor("the agents to run all 18 containers", async () => {
      const local = await everythingAgentsRun();
      return local.size === 18 && [...local.values()].every((x) => x.state === "running") ? local : undefined;
    });
    const streamsBefore = new Map<string, number>();
    for (const address of c.agentAddresses())
      streamsBefore.set(address, await c.agentMetric(address, "orchestrator_agent_watch_streams_opened_total"));

    // SIGKILL the leader.
    const old = await c.cluster.waitForLeader();
    expect(await c.cluster.kill(old.leaderId, "SIGKILL")).toBeNull();
    const survivors = c.cluster.running();
    const next = await c.cluster.waitForLeader({ among: survivors, notId: old.leaderId, minTerm: old.term + 1 });
    expect(next.leaderId).not.toBe(old.leaderId);

    // Every agent opens a new assignment stream, to the new leader, and is connected.
    for (const address of c.agentAddresses()) {
      await waitFor(
        `agent ${address} to reconnect`,
        async () =>
          (await c.agentMetric(address, "orchestrator_agent_watch_streams_opened_total")) >
            (streamsBefore.get(address) ?? 0) && (await c.agentMetric(address, "orchestrator_agent_connected")) === 1,
        { timeoutMs: 20_000, intervalMs: 100 },
      );
    }

    // A deployment made after the failover is placed by the new leader and runs.
    await c.deploy("fo-after", { replicas: 3, cpu: "500m", memory: "256Mi", strategy: "spread", wait: true });
    const after = await c.waitForContainers("fo-after", { running: 3 });
    expect(Object.fromEntries(perRegion(after))).toEqual({ "us-east-1": 1, "eu-west-1": 1, "ap-southeast-1": 1 });
    for (const x of after)
      await waitFor(`${x.id} healthy`, async () => (await c.healthStatus(x)) === 200, { timeoutMs: 10_000 });

    // The old containers: still running on the same nodes, the same instances (nothing restarted
    // or started twice), and no extra containers appeared.
    const now = await containersOf(deployments);
    expect(now.map((x) => [x.id, x.node, x.state]).sort()).toEqual(
      before.map((x) => [x.id, placedBefore.get(x.id), "running"]).sort(),
    );
    const local = await everythingAgentsRun();
    expect(local.size).toBe(18 + 3);
    for (const [id, was] of runningBefore) {
      const is = local.get(id);
      expect(is?.nodeId, `${id} on its node`).toBe(was.nodeId);
      expect(is?.incarnation, `${id} not restarted`).toBe(was.incarnation);
      expect(is?.state).toBe("running");
    }
    for (const x of now) expect(x.restartCount).toBe(0);
    // Capacity accounting survived too: the new leader's view equals the old plus fo-after.
    const nodesNow = await c.nodes();
    expect(nodesNow.every((n) => n.status === "ready")).toBe(true);
    const added = new Map<string, number>();
    for (const x of after) added.set(x.node, (added.get(x.node) ?? 0) + 1);
    for (const n of nodesNow) {
      const was = nodesBefore.find((m) => m.id === n.id);
      expect(n.allocated.cpuMillicores, n.id).toBe((was?.allocated.cpuMillicores ?? 0) + 500 * (added.get(n.id) ?? 0));
      expect(n.containers, n.id).toBe((was?.containers ?? 0) + (added.get(n.id) ?? 0));
    }

    // The killed replica comes back and catches up: it follows the new leader and its own state
    // (read locally, --stale) holds the post-failover deployment with the same placements.
    c.cluster.restart(old.leaderId);
    const leaderStatus = await c.cluster.status(next.leaderId);
    await c.cluster.waitForLeader({ among: c.cluster.ids() });
    await waitFor(
      `${old.leaderId} to apply past the new leader's commit index ${leaderStatus.commitIndex}`,
      async () => (await c.cluster.status(old.leaderId)).appliedIndex >= leaderStatus.commitIndex,
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    const stale = await c.cluster.orchctl(
      ["--output", "json", "containers", "--stale", "--deployment", "fo-after"],
      c.cluster.apiAddress(old.leaderId),
    );
    expect(stale.code, stale.stderr).toBe(0);
    const seen = (JSON.parse(stale.stdout) as { containers: ContainerJson[] }).containers;
    expect(seen.map((x) => [x.id, x.node]).sort()).toEqual(after.map((x) => [x.id, x.node]).sort());
    const staleNodes = await c.cluster.orchctl(
      ["--output", "json", "nodes", "--stale"],
      c.cluster.apiAddress(old.leaderId),
    );
    expect(staleNodes.code, staleNodes.stderr).toBe(0);
    const restartedView = (
      JSON.parse(staleNodes.stdout) as { nodes: { id: string; allocated: { cpuMillicores: number } }[] }
    ).nodes;
    expect(restartedView.map((n) => [n.id, n.allocated.cpuMillicores]).sort()).toEqual(
      nodesNow.map((n) => [n.id, n.allocated.cpuMillicores]).sort(),
    );
  });

  it("a leader killed right after acknowledging a deployment: the new leader places it exactly once, from caught-up state", async () => {
    // Five rounds: each kill lands at a slightly different point of the old leader's plan
    // (not yet proposed, replicated but not known committed, applied), the middle one being the
    // case that matters: a new leader planning before it applied the old leader's last plan.
    for (let round = 1; round <= 5; round++) await killRightAfterDeploy(`fo-burst-${round}`, round);
  });
});

async function killRightAfterDeploy(name: string, round: number): Promise<void> {
  const old = await c.cluster.waitForLeader({ among: c.cluster.ids() });
  const rejectionsBefore = new Map<string, number>();
  for (const id of c.cluster.ids())
    rejectionsBefore.set(id, await c.cluster.metric(id, "orchestrator_scheduler_plan_rejections_total"));
  const nodesBefore = await c.nodes();
  // Straight to the leader, so the kill lands while its plan for the new replicas is in flight.
  const spec = DeploymentSpec.fromPartial({
    name,
    image: "nginx:latest",
    replicas: 8,
    cpuMillicores: 250,
    memoryMib: 128,
    strategy: Strategy.STRATEGY_BINPACK,
  });
  await c.cluster.call(
    old.leaderId,
    "deploy",
    DeployRequest.fromPartial({ header: { clientId: "sched-e2e-burst", seq: round }, spec }),
  );
  expect(await c.cluster.kill(old.leaderId, "SIGKILL")).toBeNull();
  const next = await c.cluster.waitForLeader({
    among: c.cluster.running(),
    notId: old.leaderId,
    minTerm: old.term + 1,
  });

  const placed = await c.waitForContainers(name, { running: 8 }, 30_000);
  const local = await waitFor(`the agents to run the 8 containers of ${name}`, async () => {
    const mine = [...(await everythingAgentsRun()).values()].filter((x) => x.deployment === name);
    return mine.length === 8 && mine.every((x) => x.state === "running") ? mine : undefined;
  });
  for (const x of local) expect(placed.find((y) => y.id === x.containerId)?.node).toBe(x.nodeId);
  // Accounting: what was there plus exactly the 8 new replicas.
  const added = allocationOf([{ containers: placed, cpuMillicores: 250, memoryMib: 128 }]);
  await c.waitForAllocation(
    new Map(
      nodesBefore.map((n) => {
        const more = added.get(n.id) ?? { cpuMillicores: 0, memoryMib: 0, containers: 0 };
        return [
          n.id,
          {
            cpuMillicores: n.allocated.cpuMillicores + more.cpuMillicores,
            memoryMib: n.allocated.memoryMib + more.memoryMib,
            containers: n.containers + more.containers,
          },
        ];
      }),
    ),
  );
  // The new leader did not plan from a state that lagged its own log: none of its plans was
  // refused at apply for containers the old leader had already placed.
  const rejections =
    (await c.cluster.metric(next.leaderId, "orchestrator_scheduler_plan_rejections_total")) -
    (rejectionsBefore.get(next.leaderId) ?? 0);
  const refused = (await c.cluster.logLines(next.leaderId)).filter(
    (l) => l.msg === "plan partly rejected at apply; replanning",
  );
  expect(rejections, `round ${round}: ${JSON.stringify(refused.map((l) => [l.plan, l.rejections]))}`).toBe(0);

  c.cluster.restart(old.leaderId);
  await c.cluster.waitForLeader({ among: c.cluster.ids() });
}
