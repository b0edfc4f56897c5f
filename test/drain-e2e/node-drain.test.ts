import { randomUUID } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { DeployRequest, ListContainersRequest, ListNodesRequest } from "../../src/gen/orchestrator/v1/orchestrator.js";
import { DeploymentSpec, Strategy, type Node } from "../../src/gen/orchestrator/v1/types.js";
import { waitFor } from "../cluster/harness.js";
import { HealthCluster, containerView, sleep, type ContainerView } from "../health-e2e/harness.js";

/**
 * A node drain on real processes: three replicas and three node agents (test/health-e2e). Three
 * deployments run replicas on one node; orchctl drains it, the leader is SIGKILLed in the middle,
 * and a sampler reads every container of the cluster every ~100 ms all along: no deployment may
 * ever go below its disruption budget (replicas - max_unavailable healthy, max_unavailable 1).
 */

let h: HealthCluster;
const clientId = `drain-e2e-${randomUUID()}`;
let seq = 0;

beforeAll(async () => {
  h = await HealthCluster.start("drain-e2e", 2);
}, 120_000);

afterEach(async (context) => {
  if (h === undefined) return;
  if (context.task.result?.state === "fail") await h.dumpLogs(150);
}, 90_000);

afterAll(async () => {
  await h?.close();
}, 90_000);

const deployments = { a: 3, b: 4, c: 2 } as const;
type Name = keyof typeof deployments;
const names = Object.keys(deployments) as Name[];

async function deploy(name: Name, maxParallel: number): Promise<void> {
  seq += 1;
  const spec = DeploymentSpec.fromPartial({
    name,
    image: `${name}:1`,
    replicas: deployments[name],
    cpuMillicores: 250,
    memoryMib: 128,
    // Binpack fills one node first: every deployment has replicas on it.
    strategy: Strategy.STRATEGY_BINPACK,
    // A generous probe timeout: on a loaded machine a 200 ms one opens a node's breaker (health unknown).
    healthCheck: { periodMs: 1_000, timeoutMs: 1_000, failureThreshold: 3, successThreshold: 1 },
    update: { maxParallel, minHealthyTimeMs: 1_000, healthyDeadlineMs: 20_000, progressDeadlineMs: 120_000 },
  });
  await h.call("deploy", DeployRequest.fromPartial({ header: { clientId, seq }, spec }));
}

type Replica = ContainerView & { readonly deployment: string };

async function allContainers(): Promise<Replica[]> {
  const response = await h.call("listContainers", ListContainersRequest.fromPartial({ limit: 10_000 }));
  return response.containers.map((c) => ({ ...containerView(c), deployment: c.deployment }));
}

async function nodeOf(id: string): Promise<Node> {
  const response = await h.call("listNodes", ListNodesRequest.fromPartial({}));
  const node = response.nodes.find((n) => n.id === id);
  if (node === undefined) throw new Error(`node ${id} not listed`);
  return node;
}

function healthyOf(containers: readonly Replica[], name: string): number {
  return containers.filter(
    (c) => c.deployment === name && c.desired === "running" && c.state === "running" && c.health === "healthy",
  ).length;
}

describe("node drain on real processes", () => {
  it("refuses an unknown node and a bad deadline, changing nothing", async () => {
    const unknown = await h.cluster.orchctl(["node", "drain", "no-such-node"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/NOT_FOUND|not registered/);
    const badDeadline = await h.cluster.orchctl(["node", "drain", "no-such-node", "--deadline", "soon"]);
    expect(badDeadline.code).toBe(2);
    expect(badDeadline.stderr).toMatch(/duration/);
    const badEligibility = await h.cluster.orchctl(["node", "eligibility", "no-such-node"]);
    expect(badEligibility.code).toBe(2);
    const nodes = await h.call("listNodes", ListNodesRequest.fromPartial({}));
    expect(nodes.nodes.every((n) => !n.ineligible && n.drain === undefined)).toBe(true);
  });

  it("drains a node running three deployments through a leader SIGKILL, never below any budget, until it is empty", async () => {
    await deploy("a", 1);
    await deploy("b", 2);
    await deploy("c", 1);
    for (const name of names) await h.waitHealthy(name, deployments[name], 60_000);
    const before = await allContainers();
    const counts = new Map<string, Set<string>>();
    for (const c of before.filter((c) => c.desired === "running")) {
      const set = counts.get(c.node) ?? new Set<string>();
      set.add(c.deployment);
      counts.set(c.node, set);
    }
    const target = [...counts.entries()].find(([, set]) => set.size === 3)?.[0];
    expect(target, `a node running all three deployments: ${JSON.stringify([...counts])}`).toBeDefined();
    const nodeId = target as string;
    const onNodeBefore = before.filter((c) => c.node === nodeId && c.desired === "running").length;

    // Sample all along: the least healthy each deployment ever had.
    const minHealthy = new Map<string, number>(names.map((n) => [n, Infinity]));
    let sampling = true;
    let samples = 0;
    const low: string[] = [];
    const sampler = (async () => {
      while (sampling) {
        try {
          const containers = await allContainers();
          samples += 1;
          for (const name of names)
            minHealthy.set(name, Math.min(minHealthy.get(name) ?? 0, healthyOf(containers, name)));
          if (names.some((n) => healthyOf(containers, n) < deployments[n] - 1))
            low.push(
              `LOW ${Date.now()} n=${containers.length}: ${containers
                .filter((c) => c.deployment === "a")
                .map((c) => `${c.id}@${c.node}:${c.desired}/${c.state}/${c.health}`)
                .join(" ")}`,
            );
        } catch {
          // An election in progress: the next sample comes after it.
        }
        await sleep(100);
      }
    })();

    const started = await h.cluster.orchctl(["node", "drain", nodeId, "--deadline", "5m"]);
    expect(started.code, started.stderr).toBe(0);
    expect(started.stdout).toContain(`drain of node ${nodeId} started`);
    const nodes = await h.cluster.orchctl(["nodes", "-o", "json"]);
    expect(JSON.parse(nodes.stdout).nodes.find((n: { id: string }) => n.id === nodeId)).toMatchObject({
      status: "draining",
      eligible: false,
      drain: { state: "draining" },
    });
    const refused = await h.cluster.orchctl(["node", "eligibility", nodeId, "--enable"]);
    expect(refused.code).toBe(1);

    // Part-way through, the leader dies; the new one continues from the log.
    await waitFor("a first migration done", async () => ((await nodeOf(nodeId)).drain?.migrated ?? 0) >= 1, {
      timeoutMs: 60_000,
      intervalMs: 100,
    });
    const old = await h.cluster.waitForLeader();
    expect(await h.cluster.kill(old.leaderId, "SIGKILL")).toBeNull();
    const migratedAtKill = (await nodeOf(nodeId)).drain?.migrated ?? 0;
    expect(migratedAtKill).toBeLessThan(onNodeBefore);

    const survivors = h.cluster
      .running()
      .map((id) => h.cluster.apiAddress(id))
      .join(",");
    const monitored = await h.cluster.orchctl(["--timeout", "180", "node", "drain", nodeId, "--monitor"], survivors);
    sampling = false;
    await sampler;
    expect(monitored.code, monitored.stderr).toBe(0);
    expect(monitored.stdout).toContain(`node ${nodeId} drained`);
    expect(monitored.stderr).toContain("complete");

    const node = await nodeOf(nodeId);
    expect(node.containers).toBe(0);
    expect(node.ineligible).toBe(true);
    expect(node.drain).toMatchObject({ state: "complete", migrated: onNodeBefore, stoppedAtDeadline: 0 });
    const after = await allContainers();
    expect(after.filter((c) => c.node === nodeId && c.desired === "running")).toEqual([]);
    for (const name of names) {
      expect(healthyOf(after, name), name).toBe(deployments[name]);
      expect(
        minHealthy.get(name),
        `${name} never below its budget; low samples:\n${low.slice(0, 5).join("\n")}`,
      ).toBeGreaterThanOrEqual(deployments[name] - 1);
    }
    expect(samples).toBeGreaterThan(20);
    // The agent runs nothing there any more (it reported every container stopped).
    const agent = await h.agentInstances(node.agentAddress);
    expect(agent.filter((i) => i.nodeId === nodeId && i.state !== "stopped" && i.state !== "failed")).toEqual([]);
  });
});
