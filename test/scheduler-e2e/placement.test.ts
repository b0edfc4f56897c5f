import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../cluster/harness.js";
import { allocationOf, perNode, perRegion, SchedulerCluster, type ContainerJson, type NodeJson } from "./harness.js";

/**
 * The scheduler end to end on real processes: three replicas, three regional node-agents of
 * three 8-core / 16 GiB nodes each. Every deployment is placed by the leader's scheduler worker
 * through Raft, started by a real agent, and reported running; each test starts from an empty
 * cluster (afterEach deletes everything and waits until every node's allocation is back to 0).
 */

const nodeCpuMillicores = 8000;
const nodeMemoryMib = 16384;
const nodesPerRegion = 3;
const nodeCount = 3 * nodesPerRegion;

let c: SchedulerCluster;

beforeAll(async () => {
  c = await SchedulerCluster.start({
    name: "sched-placement",
    nodesPerRegion,
    cpuMillicores: nodeCpuMillicores,
    memoryMib: nodeMemoryMib,
  });
}, 90_000);

afterEach(async (context) => {
  if (c === undefined) return;
  if (context.task.result?.state === "fail") await c.dumpLogs();
  await c.deleteAll();
}, 90_000);

afterAll(async () => {
  await c?.close();
}, 90_000);

function regionOf(nodeId: string, nodes: readonly NodeJson[]): string {
  return nodes.find((n) => n.id === nodeId)?.region ?? "?";
}

/** How many more containers of this size the node can take. */
function room(node: NodeJson, cpuMillicores: number, memoryMib: number): number {
  return Math.min(
    Math.floor((node.capacity.cpuMillicores - node.allocated.cpuMillicores) / cpuMillicores),
    Math.floor((node.capacity.memoryMib - node.allocated.memoryMib) / memoryMib),
  );
}

describe("scheduler end to end", () => {
  it("binpack: small replicas land on as few nodes as possible, best fit first, and all run", async () => {
    // 8 x 1 core fit one 8-core node exactly: one node, full on cpu.
    await c.deploy("packed", { replicas: 8, cpu: "1", memory: "512Mi", strategy: "binpack", wait: true });
    const packed = await c.waitForContainers("packed", { running: 8 });
    const packedNodes = perNode(packed);
    expect([...packedNodes.values()]).toEqual([8]);
    const full = [...packedNodes.keys()][0];

    // 10 x 1 core: ceil(10 / 8) = 2 more nodes at least; binpack uses exactly that many (8 + 2).
    await c.deploy("packed-more", { replicas: 10, cpu: "1", memory: "1Gi", strategy: "binpack", wait: true });
    const more = await c.waitForContainers("packed-more", { running: 10 });
    const moreNodes = perNode(more);
    expect(moreNodes.has(full), "nothing fits on the full node").toBe(false);
    expect([...moreNodes.values()].sort((a, b) => b - a)).toEqual([8, 2]);

    // 6 x 1 core fit exactly into the node holding 2: best fit picks it over an empty node.
    const partial = [...moreNodes.entries()].find(([, n]) => n === 2)?.[0];
    await c.deploy("packed-fill", { replicas: 6, cpu: "1", memory: "256Mi", strategy: "binpack", wait: true });
    const fill = await c.waitForContainers("packed-fill", { running: 6 });
    expect([...perNode(fill).entries()]).toEqual([[partial, 6]]);

    // 24 cores on three 8-core nodes: the minimum, with every other node untouched.
    const used = new Set([...packed, ...more, ...fill].map((x) => x.node));
    expect(used.size).toBe(Math.ceil(24_000 / nodeCpuMillicores));
    const nodes = await c.waitForAllocation(
      allocationOf([
        { containers: packed, cpuMillicores: 1000, memoryMib: 512 },
        { containers: more, cpuMillicores: 1000, memoryMib: 1024 },
        { containers: fill, cpuMillicores: 1000, memoryMib: 256 },
      ]),
    );
    for (const id of used) expect(nodes.find((n) => n.id === id)?.allocated.cpuMillicores).toBe(nodeCpuMillicores);
    expect(nodes.filter((n) => n.containers === 0)).toHaveLength(nodeCount - 3);
  });

  it("spread: 6 replicas land 2 per region on 6 distinct nodes, all running and healthy", async () => {
    await c.deploy("spread", { replicas: 6, cpu: "500m", memory: "512Mi", strategy: "spread", wait: true });
    const containers = await c.waitForContainers("spread", { running: 6 });
    expect(Object.fromEntries(perRegion(containers))).toEqual({ "us-east-1": 2, "eu-west-1": 2, "ap-southeast-1": 2 });
    expect(perNode(containers).size, "one replica per node while every node has room").toBe(6);

    // The agent that runs each container serves its health endpoint; the cluster counts it healthy.
    for (const container of containers) {
      await waitFor(
        `${container.id}'s health endpoint on its agent to answer 200`,
        async () => (await c.healthStatus(container)) === 200,
        { timeoutMs: 10_000 },
      );
    }
    const view = await waitFor(
      "all 6 replicas reported healthy",
      async () => {
        const got = await c.get("spread");
        return got.deployment?.status.healthy === 6 ? got : undefined;
      },
      { timeoutMs: 15_000 },
    );
    expect(view.containers.every((x) => x.health === "healthy")).toBe(true);
    expect(view.deployment?.status.pendingReason).toBe("");
    // A container no agent runs has no endpoint: the probe above was not answering for anything.
    const ghost: ContainerJson = { ...containers[0], id: "spread-999" };
    expect(await c.healthStatus(ghost)).toBe(404);
  });

  it("latency: replicas go to the client region while it has room, the overflow to the next nearest region", async () => {
    // All in eu-west-1: it has room for all of them.
    await c.deploy("near", {
      replicas: 6,
      cpu: "1",
      memory: "1Gi",
      strategy: "latency",
      clientRegions: ["eu-west-1"],
      wait: true,
    });
    const near = await c.waitForContainers("near", { running: 6 });
    expect(Object.fromEntries(perRegion(near))).toEqual({ "eu-west-1": 6 });

    // Replicas of half a node: eu-west-1 takes what it still has room for, and the rest go to
    // us-east-1 (eu<->us 75 ms, eu<->ap 160 ms), none to ap-southeast-1.
    const nodes = await c.waitForAllocation(allocationOf([{ containers: near, cpuMillicores: 1000, memoryMib: 1024 }]));
    const euRoom = nodes.filter((n) => n.region === "eu-west-1").reduce((sum, n) => sum + room(n, 4000, 4096), 0);
    const replicas = euRoom + 3;
    expect(euRoom).toBeGreaterThan(0);
    await c.deploy("near-big", {
      replicas,
      cpu: "4",
      memory: "4Gi",
      strategy: "latency",
      clientRegions: ["eu-west-1"],
      wait: true,
    });
    const big = await c.waitForContainers("near-big", { running: replicas });
    expect(Object.fromEntries(perRegion(big))).toEqual({ "eu-west-1": euRoom, "us-east-1": 3 });
    const after = await c.nodes();
    for (const n of after.filter((x) => x.region === "eu-west-1"))
      expect(room(n, 4000, 4096), `${n.id} is full for this size`).toBe(0);
    expect(after.filter((n) => n.region === "ap-southeast-1").every((n) => n.containers === 0)).toBe(true);
    expect(big.every((x) => regionOf(x.node, after) === x.region)).toBe(true);
  });

  it("region constraint + one per node: 3 run, 2 stay pending with the reasons, and deploy --wait fails with them", async () => {
    const expectedReason = `0/${nodeCount} nodes: 6 region constraint, 3 already running a replica (one per node)`;
    const result = await c.cluster.orchctl([
      "deploy",
      "apac",
      "--image",
      "nginx:latest",
      "--replicas",
      "5",
      "--regions",
      "ap-southeast-1",
      "--one-per-node",
      "--wait",
      "--timeout",
      "8",
    ]);
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toContain("waiting for apac");
    expect(result.stderr).toContain(`2 pending: ${expectedReason}`);

    const containers = await c.waitForContainers("apac", { running: 3, pending: 2 });
    const running = containers.filter((x) => x.state === "running");
    expect(new Set(running.map((x) => x.node))).toEqual(new Set(c.baseNodeIds("ap-southeast-1")));
    expect(containers.filter((x) => x.state === "pending").every((x) => x.node === "")).toBe(true);

    const view = await c.get("apac");
    expect(view.deployment?.status).toMatchObject({
      desired: 5,
      running: 3,
      pending: 2,
      pendingReason: expectedReason,
    });
    const table = await c.cluster.orchctl(["get", "apac"]);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(
      /Pending reason:?\s+0\/9 nodes: 6 region constraint, 3 already running a replica \(one per node\)/,
    );

    // --output json carries the same reason as a field scripts can read.
    const json = await c.ctlRaw([
      "deploy",
      "apac",
      "--image",
      "nginx:latest",
      "--replicas",
      "5",
      "--regions",
      "ap-southeast-1",
      "--one-per-node",
      "--wait",
      "--timeout",
      "2",
    ]);
    expect(json.code).toBe(1);
    const error = (
      JSON.parse(json.stdout) as {
        error: { code: string; details: { pendingReason: string; running: number; pending: number } };
      }
    ).error;
    expect(error.code).toBe("DEADLINE_EXCEEDED");
    expect(error.details).toMatchObject({ pendingReason: expectedReason, running: 3, pending: 2 });
  });

  it("scale up and down: spread holds, and node capacity returns to the right numbers once agents report containers stopped", async () => {
    const cpu = 500;
    const memory = 512;
    await c.deploy("web", { replicas: 6, cpu: "500m", memory: "512Mi", strategy: "spread", wait: true });
    const six = await c.waitForContainers("web", { running: 6 });
    await c.waitForAllocation(allocationOf([{ containers: six, cpuMillicores: cpu, memoryMib: memory }]));

    // Up to 12: 4 per region, and within a region no node more than one replica ahead of another.
    await c.ctl(["scale", "web", "12"]);
    const twelve = await c.waitForContainers("web", { running: 12 });
    expect(Object.fromEntries(perRegion(twelve))).toEqual({ "us-east-1": 4, "eu-west-1": 4, "ap-southeast-1": 4 });
    const counts = perNode(twelve);
    for (const region of ["us-east-1", "eu-west-1", "ap-southeast-1"] as const) {
      const inRegion = c.baseNodeIds(region).map((id) => counts.get(id) ?? 0);
      expect(
        Math.max(...inRegion) - Math.min(...inRegion),
        `replicas per node in ${region}: ${inRegion.join(",")}`,
      ).toBeLessThanOrEqual(1);
    }
    // The six already running stayed where they were.
    for (const x of six) expect(twelve.find((y) => y.id === x.id)?.node).toBe(x.node);
    await c.waitForAllocation(allocationOf([{ containers: twelve, cpuMillicores: cpu, memoryMib: memory }]));

    // Down to 3: the surplus is stopped by the agents, and only then is its capacity released.
    // (Which replicas go is the FSM's choice, newest first, not spread-aware: the survivors may
    // sit in two regions. Scaling up again restores the spread, checked below.)
    await c.ctl(["scale", "web", "3"]);
    const three = await c.waitForContainers("web", { running: 3 });
    const nodes = await c.waitForAllocation(
      allocationOf([{ containers: three, cpuMillicores: cpu, memoryMib: memory }]),
    );
    expect(nodes.reduce((sum, n) => sum + n.allocated.cpuMillicores, 0)).toBe(3 * cpu);
    expect(nodes.reduce((sum, n) => sum + n.containers, 0)).toBe(3);
    // The agents agree: they run exactly the three survivors.
    const survivors = new Set(three.map((x) => x.id));
    await waitFor("the agents to run only the survivors", async () => {
      const running = (await Promise.all(c.agentAddresses().map((a) => c.agentContainers(a))))
        .flat()
        .filter((x) => x.deployment === "web");
      return running.length === 3 && running.every((x) => survivors.has(x.containerId) && x.state === "running");
    });

    // Back up to 6: the freed capacity is used again, spread across the regions.
    await c.ctl(["scale", "web", "6"]);
    const again = await c.waitForContainers("web", { running: 6 });
    expect(Object.fromEntries(perRegion(again))).toEqual({ "us-east-1": 2, "eu-west-1": 2, "ap-southeast-1": 2 });
    await c.waitForAllocation(allocationOf([{ containers: again, cpuMillicores: cpu, memoryMib: memory }]));

    // Delete: everything back to zero.
    await c.deleteAndWait("web");
    await c.waitForAllocation(new Map());
  });
});
