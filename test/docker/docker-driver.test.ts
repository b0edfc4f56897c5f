/**
 * The Docker driver end to end, on a real engine: three replicas, a node-agent with --driver
 * docker, and busybox httpd containers built offline (engine.ts). Skipped with SKIP_DOCKER=1.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../cluster/harness.js";
import { skipDocker, startEngine, testImage, type DockerEngine } from "./engine.js";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DockerCluster, EngineRelay, type ContainerJson } from "./harness.js";

const httpd = 'echo "hello from $HOSTNAME on port $PORT"; exec httpd -f -v -p "$PORT" -h /www';

function deployArgs(name: string, replicas: number, image = testImage): string[] {
  return [
    "deploy",
    name,
    "--image",
    image,
    "--replicas",
    String(replicas),
    "--cpu",
    "100m",
    "--memory",
    "64Mi",
    "--command",
    "/bin/sh",
    "--arg",
    "-c",
    "--arg",
    httpd,
    "--port",
    "http=8080",
    "--health-port",
    "http",
    "--env",
    "GREETING=hi",
  ];
}

async function body(address: string): Promise<string> {
  const response = await fetch(`http://${address}/`);
  return response.text();
}

describe.skipIf(skipDocker)("the Docker driver", () => {
  let engine: DockerEngine;
  let cluster: DockerCluster;
  let relay: EngineRelay;
  let relayDir: string;

  beforeAll(async () => {
    engine = await startEngine();
    // The agent reaches the engine through a relay the outage test can cut.
    relayDir = await mkdtemp(join(tmpdir(), "orch-relay-"));
    relay = new EngineRelay(join(relayDir, "docker.sock"), engine.host.replace(/^unix:\/\//, ""));
    await relay.up();
    cluster = await DockerCluster.start("docker-driver", engine, 1, relay.host);
  });

  afterAll(async () => {
    await cluster?.close();
    await relay?.down();
    await engine?.stop();
    if (relayDir !== undefined) await rm(relayDir, { recursive: true, force: true });
  });

  async function healthy(name: string, count: number): Promise<ContainerJson[]> {
    return waitFor(
      `${count} healthy replicas of ${name} with addresses`,
      async () => {
        // Containers lost with a node stay listed as history, wanted stopped.
        const containers = (await cluster.containers(name)).filter((c) => c.desiredState === "running");
        const ok = containers.filter(
          (c) => c.state === "running" && c.health === "healthy" && c.addresses["http"] !== undefined,
        );
        return ok.length === count && containers.length === count ? ok : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );
  }

  it("runs 3 replicas, each reachable at its reported address, listed by endpoints, with limits and logs", async () => {
    await cluster.ctl(deployArgs("hello", 3));
    const containers = await healthy("hello", 3);
    const addresses = containers.map((c) => c.addresses["http"]);
    expect(new Set(addresses).size).toBe(3);
    for (const address of addresses) expect(await body(address)).toBe("hello from busybox\n");

    const endpoints = await cluster.ctl<{ endpoints: { address: string }[] }>(["endpoints", "hello"]);
    expect(endpoints.endpoints.map((e) => e.address).sort()).toEqual([...addresses].sort());

    const ps = await cluster.dockerPs("hello");
    expect(ps.filter((p) => p.state === "running")).toHaveLength(3);
    const inspect = JSON.parse(await engine.docker(["inspect", ps[0].id])) as {
      HostConfig: { Memory: number; NanoCpus: number; RestartPolicy: { Name: string }; NetworkMode: string };
      Config: { Env: string[] };
    }[];
    expect(inspect[0].HostConfig.Memory).toBe(64 * 1024 * 1024);
    expect(inspect[0].HostConfig.NanoCpus).toBe(100_000_000);
    expect(inspect[0].HostConfig.RestartPolicy.Name).toBe("no");
    expect(inspect[0].Config.Env).toContain("GREETING=hi");
    expect(inspect[0].Config.Env.some((e) => /^PORT_HTTP=\d+$/.test(e))).toBe(true);

    const logs = await cluster.cluster.orchctl(["logs", containers[0].id, "--tail", "5"]);
    expect(logs.code, logs.stderr).toBe(0);
    expect(logs.stdout).toMatch(/hello from \S+ on port \d+/);
  });

  it("restarts a container killed behind its back as a new Docker container, after its backoff", async () => {
    const before = await cluster.dockerPs("hello");
    const victim = before.find((p) => p.state === "running" && p.containerId !== "");
    expect(victim).toBeDefined();
    await engine.docker(["kill", victim!.id]);
    const restarted = await waitFor(
      `${victim!.containerId} restarted and healthy again`,
      async () => {
        const c = (await cluster.containers("hello")).find((x) => x.id === victim!.containerId);
        return c !== undefined && c.restartCount >= 1 && c.health === "healthy" ? c : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    expect(await body(restarted.addresses["http"])).toBe("hello from busybox\n");
    const after = await cluster.dockerPs("hello");
    const fresh = after.filter((p) => p.containerId === victim!.containerId);
    expect(fresh).toHaveLength(1);
    expect(fresh[0].id).not.toBe(victim!.id);
    expect(fresh[0].restartCount).toBeGreaterThanOrEqual(1);
    const get = await cluster.ctl<{ deployment: { recentEvents: { kind: string; message: string }[] } }>([
      "get",
      "hello",
    ]);
    const messages = get.deployment.recentEvents.map((e) => `${e.kind}: ${e.message}`).join("\n");
    expect(messages).toMatch(/exited with code 137/);
    expect(messages).toMatch(/restart/);
  });

  it("adopts its containers after being SIGKILLed, without duplicates", async () => {
    const before = (await cluster.dockerPs("hello")).map((p) => p.id).sort();
    expect(before).toHaveLength(3);
    await cluster.killAgent("SIGKILL");
    cluster.startAgent();
    await waitFor("the restarted agent to adopt its containers", async () =>
      (await cluster.agentLog()).includes("Docker containers adopted") ? true : undefined,
    );
    await healthy("hello", 3);
    // A few reconciliations later, still the same three containers.
    await new Promise((r) => setTimeout(r, 2_000));
    expect((await cluster.dockerPs("hello")).map((p) => p.id).sort()).toEqual(before);
  });

  it("removes the Docker containers on scale down and delete", async () => {
    await cluster.ctl(["scale", "hello", "1"]);
    await waitFor("two containers removed from the engine", async () =>
      (await cluster.dockerPs("hello")).length === 1 ? true : undefined,
    );
    await cluster.ctl(["delete", "hello"]);
    await waitFor("every container removed from the engine", async () =>
      (await cluster.dockerPs("hello")).length === 0 ? true : undefined,
    );
  });

  it("fails a container whose image cannot be had with the reason, and backs off", async () => {
    await cluster.ctl(deployArgs("ghost", 1, "orch-test/missing:1"));
    const failed = await waitFor(
      "the missing image to fail the container twice",
      async () => {
        const get = await cluster.ctl<{ deployment: { recentEvents: { message: string }[] } }>(["get", "ghost"]);
        const c = (await cluster.containers("ghost"))[0];
        const reason = get.deployment.recentEvents.some((e) => e.message.includes("image not found"));
        return reason && c !== undefined && c.restartCount >= 2 ? c : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    // A hot loop would restart it dozens of times in a few seconds; the backoff (0.5 s doubling) a handful.
    await new Promise((r) => setTimeout(r, 4_000));
    const later = (await cluster.containers("ghost"))[0];
    expect(later.restartCount - failed.restartCount).toBeLessThanOrEqual(4);
    expect(await cluster.dockerPs("ghost")).toHaveLength(0);
    await cluster.ctl(["delete", "ghost"]);
  });

  it("reports a container the kernel OOM-kills at once, with its exit code and the reason", async () => {
    await cluster.ctl([
      "deploy",
      "hog",
      "--image",
      testImage,
      "--memory",
      "16Mi",
      "--command",
      "/bin/sh",
      "--arg",
      "-c",
      "--arg",
      "exec dd if=/dev/zero of=/dev/null bs=64M count=1",
    ]);
    await waitFor(
      "an OOM-killed exit in hog's events",
      async () => {
        const get = await cluster.ctl<{ deployment: { recentEvents: { message: string }[] } }>(["get", "hog"]);
        return get.deployment.recentEvents.some((e) => /exited with code 137 \(OOM-killed\)/.test(e.message))
          ? true
          : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    await cluster.ctl(["delete", "hog"]);
  });

  it("reports its node not ready while the engine is unreachable, keeps heartbeating, and recovers without duplicates", async () => {
    await cluster.ctl(deployArgs("steady", 2));
    await healthy("steady", 2);
    await relay.down();
    const nodes = await waitFor("the agent to say its node is not ready", async () => {
      const view = await cluster.agentNodes();
      return view.every((n) => !n.ready && n.reason.includes("unavailable")) ? view : undefined;
    });
    expect(nodes[0].reason).toMatch(/Docker engine at unix:\/\/.* unavailable/);
    type NodesJson = { nodes: { id: string; status: string; notReadyReason: string; notReadySinceMs: number }[] };
    const ours = async () =>
      (await cluster.ctl<NodesJson>(["nodes"])).nodes.filter((n) => n.id.startsWith(cluster.nodePrefix));
    // The cluster's record says so at once, with the reason, while the node is still alive (not down).
    const recorded = await waitFor("the node record to say not ready, with the reason", async () => {
      const view = await ours();
      return view.length === 1 && view[0].status === "ready" && view[0].notReadyReason.includes("unavailable")
        ? view[0]
        : undefined;
    });
    expect(recorded.notReadyReason).toMatch(/Docker engine at unix:\/\/.* unavailable/);
    expect(recorded.notReadySinceMs).toBeGreaterThan(0);
    expect(await cluster.ctlText(["nodes"])).toMatch(/not ready: Docker engine at unix:\/\//);
    const get = await cluster.ctl<{ deployment: { recentEvents: { kind: string; node: string }[] } }>([
      "get",
      "steady",
    ]);
    expect(get.deployment.recentEvents.some((e) => e.kind === "node-not-ready" && e.node === recorded.id)).toBe(true);
    // Nothing new is placed on it: a new deployment stays pending, saying why.
    await cluster.ctl(deployArgs("late", 1));
    const pending = await waitFor("late to be pending on the not-ready node", async () => {
      const late = await cluster.ctl<{ deployment: { status: { pending: number; pendingReason: string } } }>([
        "get",
        "late",
      ]);
      return late.deployment.status.pending === 1 && late.deployment.status.pendingReason.includes("not ready")
        ? late.deployment.status
        : undefined;
    });
    expect(pending.pendingReason).toMatch(/1 not ready/);
    // Alive but unable to run containers for too long: the leader declares it down (its containers are replaced).
    const down = await waitFor(
      "the node to be down in the cluster",
      async () => {
        const view = await ours();
        return view.some((n) => n.status === "down") ? view[0] : undefined;
      },
      { timeoutMs: 40_000 },
    );
    expect(down.notReadyReason).toMatch(/unavailable/);
    const log = await cluster.agentLog();
    expect(log).not.toMatch(/heartbeat failed/);
    await relay.up();
    await healthy("steady", 2);
    await healthy("late", 1);
    await waitFor("exactly two containers of steady in the engine", async () => {
      const ps = await cluster.dockerPs("steady");
      return ps.length === 2 && ps.every((p) => p.state === "running") ? true : undefined;
    });
    const back = await ours();
    expect(back.map((n) => [n.status, n.notReadyReason])).toEqual([["ready", ""]]);
    await cluster.ctl(["delete", "steady"]);
    await cluster.ctl(["delete", "late"]);
  });
});
