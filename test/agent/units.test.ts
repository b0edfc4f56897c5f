import { afterEach, describe, expect, it, vi } from "vitest";
import { Backoff } from "../../src/lib/backoff.js";
import { LeaderTargets } from "../../src/lib/leader-targets.js";
import { parseAgentArgs, UsageError } from "../../src/agent/options.js";
import { nodeIdsFor } from "../../src/agent/agent.js";
import { SimRuntime, type InstanceChange } from "../../src/agent/io/sim-runtime.js";
import { agentLimits } from "../../src/agent/limits.js";
import { NodeHeartbeats } from "../../src/health/io/node-heartbeats.js";

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
    expect([backoff.nextDelayMs(), backoff.nextDelayMs(), backoff.nextDelayMs(), backoff.nextDelayMs()]).toEqual([
      100, 200, 400, 400,
    ]);
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
      [
        "--region",
        "eu-west-1",
        "--nodes",
        "3",
        "--cpu",
        "8000",
        "--memory",
        "16384",
        "--endpoints",
        "127.0.0.1:50051,127.0.0.1:50052,127.0.0.1:50053",
        "--http",
        "127.0.0.1:9102",
      ],
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
    const options = parseAgentArgs(["--region", "ap-southeast-1", "--node-prefix", "edge", "--start-delay-ms", "0"], {
      ORCH_ENDPOINTS: "10.0.0.1:50051",
    });
    expect(options).toMatchObject({
      httpAddress: "127.0.0.1:9103",
      endpoints: ["10.0.0.1:50051"],
      nodePrefix: "edge",
      startDelayMs: 0,
    });
  });

  it("refuses bad values with a usage error that names the flag", () => {
    expect(() => parseAgentArgs(["--region", "eu-west-1", "--nodes", "0"], {})).toThrow(UsageError);
    expect(() => parseAgentArgs(["--region", "eu-west-1", "--cpu", "lots"], {})).toThrow(/--cpu/);
    expect(() => parseAgentArgs(["--region", "eu-west-1", "--endpoints", "nowhere"], {})).toThrow(/--endpoints/);
    expect(() => parseAgentArgs(["--region", "eu-west-1", "--node-prefix", "Bad_Prefix"], {})).toThrow(/--node-prefix/);
  });
});

describe("SimRuntime", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  const spec = {
    containerId: "a-0",
    nodeId: "n1",
    deployment: "a",
    generation: 1,
    healthCheckPath: "/healthz",
    image: "a:1",
  };

  function runtime(): { runtime: SimRuntime; changes: string[] } {
    const changes: string[] = [];
    const sim = new SimRuntime({
      startDelayMs: 100,
      onChange: (c: InstanceChange) => changes.push(`${c.state}@${Date.now()}`),
    });
    return { runtime: sim, changes };
  }

  it("waits, unreported, until a restart's not-before time, then starts and runs", () => {
    vi.useFakeTimers({ now: 10_000 });
    const { runtime: sim, changes } = runtime();
    sim.start(spec, 11_500);
    expect(sim.get("a-0")).toMatchObject({ state: "waiting", notBeforeMs: 11_500, generation: 1 });
    expect(sim.crash("a-0")).toBe(false); // no process to crash yet
    vi.advanceTimersByTime(1_499);
    expect(sim.get("a-0")?.state).toBe("waiting");
    expect(changes).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(changes).toEqual(["starting@11500"]);
    vi.advanceTimersByTime(100);
    expect(changes).toEqual(["starting@11500", "running@11600"]);
  });

  it("starts at once for a not-before time already past, and caps an absurd wait", () => {
    vi.useFakeTimers({ now: 10_000 });
    const { runtime: sim, changes } = runtime();
    sim.start(spec, 9_000);
    expect(changes).toEqual(["starting@10000"]);
    sim.start({ ...spec, generation: 2 }, Number.MAX_SAFE_INTEGER);
    expect(sim.get("a-0")).toMatchObject({ state: "waiting", notBeforeMs: 10_000 + agentLimits.restartWaitMsMax });
    vi.advanceTimersByTime(agentLimits.restartWaitMsMax);
    expect(changes.at(-1)).toBe(`starting@${10_000 + agentLimits.restartWaitMsMax}`);
  });

  it("halts without a report, keeps a crashed instance listed, and stops a waiting one with a report", () => {
    vi.useFakeTimers({ now: 0 });
    const { runtime: sim, changes } = runtime();
    sim.start(spec);
    vi.advanceTimersByTime(100);
    expect(sim.crash("a-0")).toBe(true);
    expect(sim.get("a-0")?.state).toBe("failed");
    expect(changes).toEqual(["starting@0", "running@100", "failed@100"]);
    sim.start({ ...spec, containerId: "b-0" });
    expect(sim.halt("b-0")).toBe(true);
    expect(sim.get("b-0")?.state).toBe("stopped");
    expect(changes.at(-1)).toBe("starting@100");
    sim.start({ ...spec, containerId: "c-0" }, 5_000);
    expect(sim.stop("c-0", "the cluster wants it stopped")).toBe(true);
    expect(changes.at(-1)).toBe("stopped@100");
    vi.advanceTimersByTime(10_000);
    expect(sim.get("c-0")?.state).toBe("stopped");
  });

  it("applies an image fault to the image's running instances and to those started later, until cleared", () => {
    vi.useFakeTimers({ now: 0 });
    const { runtime: sim, changes } = runtime();
    sim.start(spec);
    sim.start({ ...spec, containerId: "b-0", deployment: "b", image: "b:1" });
    vi.advanceTimersByTime(100);
    expect(sim.setImageFault("a:1", { kind: "unhealthy" })).toBe(1);
    expect(sim.get("a-0")?.fault).toBe("unhealthy");
    expect(sim.get("b-0")?.fault).toBe("none");
    sim.setImageFault("a:1", null);
    expect(sim.get("a-0")?.fault).toBe("none");

    // crash: the running instance exits now; a new one exits when it would have run.
    expect(sim.setImageFault("a:1", { kind: "crash" })).toBe(1);
    expect(sim.get("a-0")?.state).toBe("failed");
    sim.start({ ...spec, generation: 2 });
    vi.advanceTimersByTime(100);
    expect(sim.get("a-0")?.state).toBe("failed");
    expect(sim.get("b-0")?.state).toBe("running");

    // slow-start: only instances started after it wait the longer delay.
    sim.setImageFault("a:1", { kind: "slow-start", startDelayMs: 5_000 });
    sim.start({ ...spec, generation: 3 });
    vi.advanceTimersByTime(4_999);
    expect(sim.get("a-0")?.state).toBe("starting");
    vi.advanceTimersByTime(1);
    expect(sim.get("a-0")?.state).toBe("running");
    expect(changes.filter((c) => c.startsWith("failed"))).toHaveLength(2);
  });
});
