import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../dev/local-cluster/free-port.js";
import { deploy, place, TestCluster, waitFor } from "./harness.js";

// The node-agent binary (dist/src/agent/main.js, built by `npm run build`) as a real process
// against three in-process replicas.

const entry = resolve(import.meta.dirname, "../../dist/src/agent/main.js");

function agentEntry(): string {
  if (!existsSync(entry)) throw new Error(`${entry} is missing: run npm run build first`);
  return entry;
}

describe("node-agent binary", () => {
  it("prints its usage with --help and exits 0", () => {
    const result = spawnSync(process.execPath, [agentEntry(), "--help"], { encoding: "utf8" });
    expect(result.status).toBe(0);
    for (const flag of [
      "--region",
      "--nodes",
      "--cpu",
      "--memory",
      "--endpoints",
      "--http",
      "--start-delay-ms",
      "--node-prefix",
      "/faults/nodes/<id>/kill|revive",
    ]) {
      expect(result.stdout).toContain(flag);
    }
  });

  it("exits 2 on a usage mistake, saying what is wrong", () => {
    const badRegion = spawnSync(process.execPath, [agentEntry(), "--region", "mars-1"], { encoding: "utf8" });
    expect(badRegion.status).toBe(2);
    expect(badRegion.stderr).toMatch(/mars-1/);
    const badNodes = spawnSync(process.execPath, [agentEntry(), "--region", "eu-west-1", "--nodes", "many"], {
      encoding: "utf8",
    });
    expect(badNodes.status).toBe(2);
    expect(badNodes.stderr).toMatch(/--nodes must be a whole number/);
  });

  describe("against a cluster", () => {
    let cluster: TestCluster;
    let child: ChildProcess | null = null;
    let stderr = "";

    beforeAll(async () => {
      cluster = await TestCluster.start();
      await cluster.waitForLeader();
    });

    afterAll(async () => {
      child?.kill("SIGKILL");
      await cluster?.stop();
    });

    it("registers, runs containers, survives a leader failover and stops on SIGTERM", async () => {
      const http = `127.0.0.1:${await freePort()}`;
      const args = [
        "--region",
        "us-east-1",
        "--nodes",
        "2",
        "--cpu",
        "4000",
        "--memory",
        "8192",
        "--endpoints",
        cluster.endpoints().join(","),
        "--http",
        http,
      ];
      child = spawn(
        process.execPath,
        [agentEntry(), ...args, "--start-delay-ms", "50", "--node-prefix", "proc", "--heartbeat-ms", "100"],
        {
          stdio: ["ignore", "ignore", "pipe"],
        },
      );
      child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
      const exited = new Promise<number | null>((done) => child!.once("exit", (code) => done(code)));

      await waitFor(
        () => ["proc-n1", "proc-n2"].every((id) => cluster.leader()?.fsm.getNode(id)?.agentAddress === http),
        "both nodes registered at the agent's address",
      );
      await deploy(cluster, "bin", 2);
      await place(cluster, "bin", { "bin-0": "proc-n1" });
      await waitFor(() => cluster.leader()?.fsm.getContainer("bin-0")?.state === "running", "bin-0 running");
      expect((await fetch(`http://${http}/containers/bin-0/health`)).status).toBe(200);

      await cluster.kill((await cluster.waitForLeader()).id);
      const next = await cluster.waitForLeader();
      await place(cluster, "bin", { "bin-1": "proc-n2" });
      await waitFor(
        () => next.fsm.getContainer("bin-1")?.state === "running",
        "bin-1 running, placed by the new leader",
        15_000,
      );
      expect(next.fsm.getContainer("bin-0")?.state).toBe("running");
      expect((await fetch(`http://${http}/containers/bin-1/health`)).status).toBe(200);
      const listed = (await (await fetch(`http://${http}/containers`)).json()) as {
        containerId: string;
        incarnation: number;
      }[];
      expect(listed.map((c) => [c.containerId, c.incarnation]).sort()).toEqual([
        ["bin-0", 1],
        ["bin-1", 2],
      ]);

      child.kill("SIGTERM");
      expect(await exited).toBe(0);
      child = null;
      // Logs are pino JSON, one event per line.
      const lines = stderr.trim().split("\n");
      for (const line of lines) expect(() => JSON.parse(line) as unknown).not.toThrow();
      expect(lines.some((l) => (JSON.parse(l) as { msg: string }).msg === "node agent stopped")).toBe(true);
    });
  });
});
