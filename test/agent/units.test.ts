import { describe, expect, it } from "vitest";
import { Backoff } from "../../src/agent/core/backoff.js";
import { LeaderTargets } from "../../src/agent/core/leader-targets.js";
import { parseAgentArgs, UsageError } from "../../src/agent/options.js";
import { nodeIdsFor } from "../../src/agent/agent.js";
import { NodeHeartbeats } from "../../src/api/agent-heartbeats.js";

describe("NodeHeartbeats", () => {
  it("records the latest time per node and never goes back", () => {
    const heartbeats = new NodeHeartbeats();
    expect(heartbeats.lastSeen("n1")).toBeUndefined();
    heartbeats.record("n1", 1_000);
    heartbeats.record("n1", 900);
    expect(heartbeats.lastSeen("n1")).toBe(1_000);
    heartbeats.record("n1", 1_500);
    expect(heartbeats.lastSeen("n1")).toBe(1_500);
    heartbeats.forget("n1");
    expect(heartbeats.size).toBe(0);
  });

  it("stays within its bound, evicting the node silent for longest", () => {
    const heartbeats = new NodeHeartbeats(2);
    heartbeats.record("a", 1);
    heartbeats.record("b", 2);
    heartbeats.record("a", 3);
    heartbeats.record("c", 4);
    expect(heartbeats.entries()).toEqual([
      ["a", 3],
      ["c", 4],
    ]);
  });
});

describe("Backoff", () => {
  it("grows by its factor to its cap, jittered into [d/2, d], and resets", () => {
    const backoff = new Backoff({ initialMs: 100, factor: 2, maxMs: 400 }, () => 0.999_999);
    expect([backoff.nextDelayMs(), backoff.nextDelayMs(), backoff.nextDelayMs(), backoff.nextDelayMs()]).toEqual([100, 200, 400, 400]);
    backoff.reset();
    expect(new Backoff({ initialMs: 100, factor: 2, maxMs: 400 }, () => 0).nextDelayMs()).toBe(50);
  });
});

describe("LeaderTargets", () => {
  it("prefers the known leader, walks the endpoints on failure and ends a round after each has failed", () => {
    const targets = new LeaderTargets(["a", "b", "c"]);
    expect(targets.current()).toBe("a");
    targets.failed("a");
    expect(targets.current()).toBe("b");
    targets.leaderIs({ id: "r3", address: "c" });
    expect(targets.current()).toBe("c");
    targets.failed("c");
    expect(targets.current()).toBe("b");
    expect(targets.takeRoundEnd()).toBe(false);
    targets.failed("b");
    expect(targets.takeRoundEnd()).toBe(true);
    expect(targets.takeRoundEnd()).toBe(false);
  });
});

describe("node-agent flags", () => {
  it("parses the contract's example, with deterministic node ids", () => {
    const options = parseAgentArgs(
      ["--region", "eu-west-1", "--nodes", "3", "--cpu", "8000", "--memory", "16384", "--endpoints", "127.0.0.1:50051,127.0.0.1:50052,127.0.0.1:50053", "--http", "127.0.0.1:9102"],
      {},
    );
    expect(options).toMatchObject({
      region: "eu-west-1",
      nodeCount: 3,
      cpuMillicores: 8000,
      memoryMib: 16384,
      endpoints: ["127.0.0.1:50051", "127.0.0.1:50052", "127.0.0.1:50053"],
      httpAddress: "127.0.0.1:9102",
      startDelayMs: 300,
      nodePrefix: "eu-west-1",
      agentId: "agent-eu-west-1",
      heartbeatIntervalMs: 500,
    });
    expect(nodeIdsFor(options.nodePrefix, options.nodeCount)).toEqual(["eu-west-1-n1", "eu-west-1-n2", "eu-west-1-n3"]);
  });

  it("takes defaults from the region and ORCH_ENDPOINTS", () => {
    const options = parseAgentArgs(["--region", "ap-southeast-1", "--node-prefix", "edge", "--start-delay-ms", "0"], { ORCH_ENDPOINTS: "10.0.0.1:50051" });
    expect(options).toMatchObject({ httpAddress: "127.0.0.1:9103", endpoints: ["10.0.0.1:50051"], nodePrefix: "edge", startDelayMs: 0 });
  });

  it("refuses bad values with a usage error that names the flag", () => {
    expect(() => parseAgentArgs(["--region", "eu-west-1", "--nodes", "0"], {})).toThrow(UsageError);
    expect(() => parseAgentArgs(["--region", "eu-west-1", "--cpu", "lots"], {})).toThrow(/--cpu/);
    expect(() => parseAgentArgs(["--region", "eu-west-1", "--endpoints", "nowhere"], {})).toThrow(/--endpoints/);
    expect(() => parseAgentArgs(["--region", "eu-west-1", "--node-prefix", "Bad_Prefix"], {})).toThrow(/--node-prefix/);
  });
});
