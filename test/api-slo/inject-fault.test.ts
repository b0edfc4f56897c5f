import { createServer, type Server } from "node:http";
import * as grpc from "@grpc/grpc-js";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { faultActions } from "../../src/api/fault-handlers.js";
import { FAULT_ACTIONS } from "../../src/cli/commands/fault.js";
import { deadAddress } from "../cli/fake-server.js";
import { callError, FsmFeeder, minuteStartMs, serve, stubNode, type ServedService } from "./harness.js";

/**
 * InjectFault over the real service: the replica resolves the target's node from its FSM and
 * POSTs the fault hook to a small real HTTP server standing in for that node's agent.
 */

interface Received {
  readonly method: string;
  readonly url: string;
}

interface FakeAgent {
  readonly address: string;
  readonly received: Received[];
  /** The next answers (status, JSON body); 200 {"ok":true} when none is queued. */
  readonly answers: { status: number; body: unknown }[];
  /** Never answer (the request is held open). */
  hang: boolean;
  close(): Promise<void>;
}

async function startFakeAgent(): Promise<FakeAgent> {
  const held: import("node:http").ServerResponse[] = [];
  const agent: Omit<FakeAgent, "address" | "close"> = { received: [], answers: [], hang: false };
  const server: Server = createServer((req, res) => {
    agent.received.push({ method: req.method ?? "", url: req.url ?? "" });
    if (agent.hang) {
      held.push(res);
      return;
    }
    const answer = agent.answers.shift() ?? { status: 200, body: { ok: true } };
    res.writeHead(answer.status, { "content-type": "application/json" });
    res.end(`${JSON.stringify(answer.body)}\n`);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const bound = server.address();
  if (bound === null || typeof bound === "string") throw new Error("no port");
  return Object.assign(agent, {
    address: `127.0.0.1:${bound.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of held) res.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  });
}

let agent: FakeAgent;
let service: ServedService;
let deadAgent: string;
const feeder = new FsmFeeder();

beforeAll(async () => {
  agent = await startFakeAgent();
  deadAgent = await deadAddress();
  const t = minuteStartMs;
  feeder.registerNode("us-east-1-n1", agent.address, t);
  feeder.registerNode("eu-west-1-n1", deadAgent, t, "eu-west-1");
  feeder.deploy("web", t, 3);
  feeder.place(
    "web",
    [
      ["web-0", "us-east-1-n1"],
      ["web-1", "eu-west-1-n1"],
    ],
    t,
  ); // web-2 stays pending
  // A follower serves faults too: no ReadIndex, no leader needed.
  const stub = stubNode("r2");
  stub.leader = false;
  service = await serve(feeder.fsm, stub, { agentTimeoutMs: 300 });
});

afterEach(() => {
  agent.received.length = 0;
  agent.answers.length = 0;
  agent.hang = false;
});

afterAll(async () => {
  service.stop();
  await agent.close();
});

describe("InjectFault", () => {
  it.each(["crash", "hang", "unhealthy", "healthy"])(
    "posts container fault %s to the agent of the container's node",
    async (action) => {
      const response = await service.injectFault({ target: "container", id: "web-0", action });
      expect(agent.received).toEqual([{ method: "POST", url: `/faults/containers/web-0/${action}` }]);
      expect(response).toEqual({
        agentAddress: agent.address,
        node: "us-east-1-n1",
        message: `${action} injected into container web-0 on node us-east-1-n1 (agent ${agent.address})`,
      });
    },
  );

  it.each(["kill", "revive"])("posts node fault %s to the node's agent", async (action) => {
    const response = await service.injectFault({ target: "node", id: "us-east-1-n1", action });
    expect(agent.received).toEqual([{ method: "POST", url: `/faults/nodes/us-east-1-n1/${action}` }]);
    expect(response).toMatchObject({
      agentAddress: agent.address,
      node: "us-east-1-n1",
      message: `${action} injected into node us-east-1-n1 (agent ${agent.address})`,
    });
  });

  it("NOT_FOUND for a container or node this replica does not know, without calling any agent", async () => {
    const container = await callError(service.injectFault({ target: "container", id: "web-9", action: "crash" }));
    expect(container.code).toBe(grpc.status.NOT_FOUND);
    expect(container.details).toContain("container web-9 not found");
    const node = await callError(service.injectFault({ target: "node", id: "ap-southeast-1-n7", action: "kill" }));
    expect(node.code).toBe(grpc.status.NOT_FOUND);
    expect(node.details).toContain("node ap-southeast-1-n7 not found");
    expect(agent.received).toEqual([]);
  });

  it("INVALID_ARGUMENT for an action the target does not have, listing the allowed ones", async () => {
    const container = await callError(service.injectFault({ target: "container", id: "web-0", action: "kill" }));
    expect(container.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(container.details).toBe('"kill" is not a container fault; allowed: crash, hang, unhealthy, healthy');
    const node = await callError(service.injectFault({ target: "node", id: "us-east-1-n1", action: "crash" }));
    expect(node.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(node.details).toBe('"crash" is not a node fault; allowed: kill, revive');
    const target = await callError(service.injectFault({ target: "region", id: "us-east-1", action: "kill" }));
    expect(target.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(target.details).toContain('fault target must be "container", "node" or "image"');
    const nodeId = await callError(service.injectFault({ target: "node", id: "Not A Node", action: "kill" }));
    expect(nodeId.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(agent.received).toEqual([]);
  });

  it("FAILED_PRECONDITION for a container not placed yet", async () => {
    const error = await callError(service.injectFault({ target: "container", id: "web-2", action: "crash" }));
    expect(error.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(error.details).toContain("container web-2 is not placed on a node yet");
  });

  it("passes the agent's refusals on: 404 as NOT_FOUND, 409 as FAILED_PRECONDITION", async () => {
    agent.answers.push({ status: 404, body: { error: "no container web-0 on this agent", container: "web-0" } });
    const missing = await callError(service.injectFault({ target: "container", id: "web-0", action: "crash" }));
    expect(missing.code).toBe(grpc.status.NOT_FOUND);
    expect(missing.details).toContain("no container web-0 on this agent");
    agent.answers.push({ status: 409, body: { error: "container web-0 is not running", container: "web-0" } });
    const refused = await callError(service.injectFault({ target: "container", id: "web-0", action: "crash" }));
    expect(refused.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(refused.details).toContain(
      `the agent at ${agent.address} refused crash for container web-0 on node us-east-1-n1: container web-0 is not running`,
    );
  });

  it("UNAVAILABLE naming the agent when it cannot be reached, with the x-agent-address trailer", async () => {
    const error = await callError(service.injectFault({ target: "container", id: "web-1", action: "crash" }));
    expect(error.code).toBe(grpc.status.UNAVAILABLE);
    expect(error.details).toContain(`the agent of container web-1 at ${deadAgent} could not be reached: ECONNREFUSED`);
    expect(error.metadata.get("x-agent-address")).toEqual([deadAgent]);
    expect(error.metadata.get("x-leader-address")).toEqual([]);
  });

  it("UNAVAILABLE when the agent does not answer in time", async () => {
    agent.hang = true;
    const startedMs = performance.now();
    const error = await callError(service.injectFault({ target: "node", id: "us-east-1-n1", action: "kill" }));
    expect(error.code).toBe(grpc.status.UNAVAILABLE);
    expect(error.details).toContain(`at ${agent.address} could not be reached: no answer in time`);
    expect(performance.now() - startedMs).toBeLessThan(5_000);
    expect(agent.received).toEqual([{ method: "POST", url: "/faults/nodes/us-east-1-n1/kill" }]);
  });

  it("the CLI and the server agree on the actions", () => {
    expect(Object.keys(FAULT_ACTIONS.container)).toEqual([...faultActions.container]);
    expect(Object.keys(FAULT_ACTIONS.node)).toEqual([...faultActions.node]);
  });
});
