import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../cluster/harness.js";
import { SchedulerCluster, type GetJson } from "./harness.js";

/**
 * Capacity that arrives later: replicas that fit nowhere stay pending with their reason, and a
 * second node-agent joining an existing region (its own --node-prefix and HTTP port) gets them
 * placed, without anyone touching the deployments.
 */

let c: SchedulerCluster;

beforeAll(async () => {
  c = await SchedulerCluster.start({ name: "sched-join", nodesPerRegion: 3, cpuMillicores: 8000, memoryMib: 16384 });
}, 90_000);

afterEach(async (context) => {
  if (c === undefined) return;
  if (context.task.result?.state === "fail") await c.dumpLogs();
}, 90_000);

afterAll(async () => {
  await c?.close();
}, 90_000);

async function waitForReason(name: string, reason: string, pending: number): Promise<GetJson> {
  return waitFor(
    `${name} to report ${pending} pending: ${reason}`,
    async () => {
      const view = await c.get(name);
      const status = view.deployment?.status;
      return status?.pending === pending && status.pendingReason === reason ? view : undefined;
    },
    { timeoutMs: 15_000, intervalMs: 100 },
  );
}

describe("a node joining", () => {
  it("places replicas that were pending for lack of a node once an extra agent registers its nodes", async () => {
    // Three quarters of a node each: one per node, so the tenth has nowhere to go. (A request
    // larger than any registered node is refused outright, so "cannot fit" means "no room left".)
    await c.deploy("wide", { replicas: 10, cpu: "6", memory: "4Gi", strategy: "binpack" });
    await waitForReason("wide", "0/9 nodes: 9 insufficient cpu", 1);
    const wideBefore = await c.waitForContainers("wide", { running: 9, pending: 1 });
    expect(new Set(wideBefore.filter((x) => x.state === "running").map((x) => x.node))).toEqual(
      new Set(c.baseNodeIds()),
    );
    // One per node in eu-west-1: three run, two wait for more eu-west-1 nodes.
    await c.deploy("edge", {
      replicas: 5,
      cpu: "100m",
      memory: "128Mi",
      strategy: "spread",
      regions: ["eu-west-1"],
      onePerNode: true,
    });
    await waitForReason("edge", "0/9 nodes: 6 region constraint, 3 already running a replica (one per node)", 2);
    await c.waitForContainers("edge", { running: 3, pending: 2 });

    // A second agent in eu-west-1 with two more nodes: extra-n1, extra-n2, on its own HTTP port.
    const extra = await c.startExtraAgent({ region: "eu-west-1", nodePrefix: "extra", nodes: 2 });
    const extraAddress = extra.agents[0].httpAddress;
    const nodes = await c.waitForNodes(11);
    const joined = nodes.filter((n) => n.id.startsWith("extra-"));
    expect(joined.map((n) => [n.id, n.region, n.agentAddress])).toEqual([
      ["extra-n1", "eu-west-1", extraAddress],
      ["extra-n2", "eu-west-1", extraAddress],
    ]);

    // Nobody redeploys anything: the new nodes' arrival alone gets the pending replicas placed.
    const wideAll = await c.waitForContainers("wide", { running: 10 });
    // The nine that ran before stay where they were; the tenth went to a new node.
    for (const x of wideBefore.filter((y) => y.state === "running"))
      expect(wideAll.find((y) => y.id === x.id)?.node).toBe(x.node);
    const wide = wideAll.filter((x) => x.node.startsWith("extra-"));
    expect(wide).toHaveLength(1);
    const edge = await c.waitForContainers("edge", { running: 5 });
    expect(new Set(edge.map((x) => x.node)).size, "one per node still holds").toBe(5);
    expect(
      edge
        .filter((x) => x.node.startsWith("extra-"))
        .map((x) => x.node)
        .sort(),
    ).toEqual(["extra-n1", "extra-n2"]);
    for (const name of ["wide", "edge"]) {
      const view = await c.get(name);
      expect(view.deployment?.status.pending).toBe(0);
      expect(view.deployment?.status.pendingReason).toBe("");
    }

    // The extra agent runs them and serves their health endpoints.
    for (const container of [...wide, ...edge.filter((x) => x.node.startsWith("extra-"))]) {
      expect(await c.agentAddressOf(container.node)).toBe(extraAddress);
      await waitFor(
        `${container.id} healthy on the extra agent`,
        async () => (await c.healthStatus(container)) === 200,
        { timeoutMs: 10_000 },
      );
    }
    const local = await c.agentContainers(extraAddress);
    expect(local.map((x) => x.containerId).sort()).toEqual(
      [...wide, ...edge.filter((x) => x.node.startsWith("extra-"))].map((x) => x.id).sort(),
    );

    // Accounting on the new nodes: one edge (100m, 128Mi) each, and the wide one (6 cores, 4 GiB) on one of them.
    const after = await c.nodes();
    for (const id of ["extra-n1", "extra-n2"]) {
      const hasWide = wide[0].node === id;
      expect(after.find((n) => n.id === id)).toMatchObject({
        status: "ready",
        allocated: { cpuMillicores: 100 + (hasWide ? 6000 : 0), memoryMib: 128 + (hasWide ? 4096 : 0) },
        containers: hasWide ? 2 : 1,
      });
    }
  });
});
