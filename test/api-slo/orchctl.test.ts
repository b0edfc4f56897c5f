import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../cli/fake-server.js";
import { FixedClock, FsmFeeder, minuteStartMs, serve, stubNode, type ServedService } from "./harness.js";

/**
 * orchctl slo and orchctl fault end to end: the CLI against the real service, whose FSM holds
 * 9,999 successes and one failure in the last 5 minutes, and whose node's agent is a small
 * HTTP server. One replica plays the leader, another a follower that knows it.
 */

const nowMs = minuteStartMs + 30_000;
const feeder = new FsmFeeder();
let leader: ServedService;
let follower: ServedService;
let agent: Server;
let agentAddress = "";
const received: string[] = [];

beforeAll(async () => {
  agent = createServer((req, res) => {
    received.push(`${req.method} ${req.url}`);
    res.writeHead(200, { "content-type": "application/json" });
    res.end('{"ok":true}\n');
  });
  await new Promise<void>((resolve) => agent.listen(0, "127.0.0.1", resolve));
  const bound = agent.address();
  if (bound === null || typeof bound === "string") throw new Error("no port");
  agentAddress = `127.0.0.1:${bound.port}`;

  let atMs = nowMs - 100_000;
  const step = () => (atMs += 5);
  feeder.registerNode("us-east-1-n1", agentAddress, step());
  feeder.outcome(feeder.deploy("web", step()), true, step());
  for (let i = 1; i < 10_000; i += 1)
    feeder.outcome(feeder.scale("web", i % 2 === 1 ? 2 : 1, step()), i !== 7, step(), i === 7 ? "deadline passed" : "");
  feeder.place("web", [["web-0", "us-east-1-n1"]], step());
  feeder.scale("web", 3, step()); // left open

  leader = await serve(feeder.fsm, stubNode("r1"), { clock: new FixedClock(nowMs) });
  // The follower names the leader's address when asked for a linearizable read.
  const followerNode = stubNode("r2", leader.address);
  followerNode.leader = false;
  follower = await serve(feeder.fsm, followerNode, { clock: new FixedClock(nowMs) });
});

afterAll(async () => {
  leader.stop();
  follower.stop();
  await new Promise<void>((resolve) => agent.close(() => resolve()));
});

describe("orchctl against the real service", () => {
  it("slo: 9,999 of 10,000 is 99.99%, burn rate 1, no budget left", async () => {
    const result = await runCli(["--endpoints", leader.address, "slo"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("Objective:     99.99% of deployment operations succeed\n");
    expect(result.stdout).toContain("Error budget:  0% remaining (1 of 1 allowed failures spent over 30d)\n");
    expect(result.stdout).toContain(
      [
        "WINDOW   SUCCEEDED   FAILED   SUCCESS-RATIO   BURN-RATE",
        "5m       9999        1        99.99%          1.00",
        "1h       9999        1        99.99%          1.00",
        "30d      9999        1        99.99%          1.00",
      ].join("\n"),
    );
    expect(result.stdout).toMatch(
      /Open operations:\n {2}DEPLOYMENT +OPERATION +KIND +AGE +DEADLINE\n {2}web +web-\d+ +scale +0s +in 60s\n/,
    );
    expect(result.stdout).toMatch(/Recent outcomes:\n.*\n {2}web +web-\d+ +scale +succeeded/);
  });

  it("slo on a follower follows the leader for a linearizable read, or answers itself with --stale", async () => {
    const linearizable = await runCli(["--endpoints", follower.address, "slo", "-o", "json"]);
    expect(linearizable.code).toBe(0);
    expect((JSON.parse(linearizable.stdout) as { replicaId: string }).replicaId).toBe("r1");
    const stale = await runCli(["--endpoints", follower.address, "slo", "--stale", "-o", "json"]);
    expect(stale.code).toBe(0);
    const body = JSON.parse(stale.stdout) as {
      replicaId: string;
      errorBudget: { remainingRatio: number };
      windows: { successRatio: number }[];
    };
    expect(body.replicaId).toBe("r2");
    expect(body.errorBudget.remainingRatio).toBe(0);
    expect(body.windows.map((w) => w.successRatio)).toEqual([0.9999, 0.9999, 0.9999]);
  });

  it("fault: any replica (a follower here) posts the hook to the agent of the container's node", async () => {
    received.length = 0;
    const container = await runCli(["--endpoints", follower.address, "fault", "container", "web-0", "hang"]);
    expect(container.code).toBe(0);
    expect(container.stdout).toBe(`hang injected into container web-0 on node us-east-1-n1 (agent ${agentAddress})\n`);
    const node = await runCli(["--endpoints", leader.address, "fault", "node", "us-east-1-n1", "kill"]);
    expect(node.code).toBe(0);
    expect(received).toEqual(["POST /faults/containers/web-0/hang", "POST /faults/nodes/us-east-1-n1/kill"]);
  });

  it("fault: unknown targets exit 1 with NOT_FOUND, a pending container with FAILED_PRECONDITION", async () => {
    const missing = await runCli([
      "--endpoints",
      leader.address,
      "fault",
      "container",
      "nope-0",
      "crash",
      "-o",
      "json",
    ]);
    expect(missing.code).toBe(1);
    expect((JSON.parse(missing.stdout) as { error: { code: string } }).error.code).toBe("NOT_FOUND");
    const unplaced = feeder.fsm.pendingContainers("web")[0].id;
    const pending = await runCli(["--endpoints", leader.address, "fault", "container", unplaced, "crash"]);
    expect(pending.code).toBe(1);
    expect(pending.stderr).toContain(`error: container ${unplaced} is not placed on a node yet`);
  });
});
