import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type {
  GetSloRequest,
  GetSloResponse,
  InjectFaultRequest,
  InjectFaultResponse,
} from "../../src/gen/orchestrator/v1/orchestrator.js";
import { formatCount, formatPercent } from "../../src/cli/commands/slo.js";
import { type FakeServer, runCli, startFakeServer, statusError } from "./fake-server.js";

/** orchctl slo and orchctl fault against a fake replica: parsing, rendering, JSON, exit codes. */

const nowMs = Date.UTC(2024, 4, 1, 12, 0, 0);

function sloAnswer(): GetSloResponse {
  return {
    objective: 0.9999,
    windows: [
      { name: "5m", minutes: 5, succeeded: 9_999, failed: 1, successRatio: 0.9999, burnRate: 1 },
      { name: "1h", minutes: 60, succeeded: 0, failed: 0, successRatio: 1, burnRate: 0 },
      { name: "30d", minutes: 43_200, succeeded: 19_998, failed: 2, successRatio: 0.9999, burnRate: 1 },
    ],
    errorBudgetRemainingRatio: 0,
    errorBudgetAllowedFailures: 2,
    errorBudgetFailed: 2,
    errorBudgetConsumedRatio: 1,
    openOperations: [
      { deployment: "api", id: "api-120", kind: "scale", startedAtMs: nowMs - 30_000, deadlineAtMs: nowMs + 90_000 },
    ],
    recentOutcomes: [
      {
        deployment: "web",
        lastOutcome: {
          id: "web-100",
          kind: "replacement",
          startedAtMs: nowMs - 200_000,
          deadlineAtMs: nowMs - 80_000,
          finished: true,
          succeeded: false,
          reason: "1 of 3 replicas unhealthy at the deadline",
          finishedAtMs: nowMs - 80_000,
        },
      },
      {
        deployment: "db",
        lastOutcome: {
          id: "db-7",
          kind: "deploy",
          startedAtMs: nowMs - 400_000,
          deadlineAtMs: nowMs - 280_000,
          finished: true,
          succeeded: true,
          reason: "",
          finishedAtMs: nowMs - 390_000,
        },
      },
    ],
    recentOutcomesTotal: 2,
    nowMs,
    revision: 4242,
    replicaId: "r1",
  };
}

let server: FakeServer;

beforeAll(async () => {
  server = await startFakeServer({
    getSlo: (
      _call: grpc.ServerUnaryCall<GetSloRequest, GetSloResponse>,
      callback: grpc.sendUnaryData<GetSloResponse>,
    ) => callback(null, sloAnswer()),
    injectFault: (
      call: grpc.ServerUnaryCall<InjectFaultRequest, InjectFaultResponse>,
      callback: grpc.sendUnaryData<InjectFaultResponse>,
    ) => {
      const { target, id, action } = call.request;
      if (id === "ghost-0")
        return callback(
          statusError(
            grpc.status.NOT_FOUND,
            `container ${id} not found; run \`orchctl containers\` to see what exists`,
          ),
          null,
        );
      if (id === "far-0") {
        return callback(
          statusError(
            grpc.status.UNAVAILABLE,
            `the agent of container ${id} at 127.0.0.1:9199 could not be reached: ECONNREFUSED`,
            { "x-agent-address": "127.0.0.1:9199" },
          ),
          null,
        );
      }
      const node = target === "node" ? id : "us-east-1-n1";
      const what = target === "node" ? `node ${id}` : `container ${id} on node ${node}`;
      callback(null, {
        agentAddress: "127.0.0.1:9101",
        node,
        message: `${action} injected into ${what} (agent 127.0.0.1:9101)`,
      });
    },
  });
});

afterAll(() => server.stop());

const cli = (...args: string[]) => runCli(["--endpoints", server.address, ...args]);

describe("orchctl slo", () => {
  it("prints the objective, the budget, the windows, open operations and recent outcomes", async () => {
    const result = await cli("slo");
    expect(result.code).toBe(0);
    expect(result.stderr).toBe("");
    // Ages are relative to the server's clock (now_ms), so the output does not depend on when the test runs.
    expect(result.stdout).toBe(
      [
        "Objective:     99.99% of deployment operations succeed",
        "Error budget:  0% remaining (2 of 2 allowed failures spent over 30d)",
        "Answered by:   r1 at 2024-05-01T12:00:00.000Z (revision 4242)",
        "",
        "WINDOW   SUCCEEDED   FAILED   SUCCESS-RATIO   BURN-RATE",
        "5m       9999        1        99.99%          1.00",
        "1h       0           0        -               -",
        "30d      19998       2        99.99%          1.00",
        "",
        "Open operations:",
        "  DEPLOYMENT   OPERATION   KIND    AGE   DEADLINE",
        "  api          api-120     scale   30s   in 90s",
        "",
        "Recent outcomes:",
        "  DEPLOYMENT   OPERATION   KIND          RESULT      FINISHED   REASON",
        "  web          web-100     replacement   failed      80s        1 of 3 replicas unhealthy at the deadline",
        "  db           db-7        deploy        succeeded   6m         -",
        "",
      ].join("\n"),
    );
    expect(server.callsTo("getSlo").at(-1)).toEqual({ stale: false });
  });

  it("--stale asks for the replica's local state", async () => {
    const result = await cli("slo", "--stale");
    expect(result.code).toBe(0);
    expect(server.callsTo("getSlo").at(-1)).toEqual({ stale: true });
  });

  it("--output json prints one document with every figure", async () => {
    const result = await cli("slo", "--output", "json");
    expect(result.code).toBe(0);
    const body = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(body).toMatchObject({
      objective: 0.9999,
      replicaId: "r1",
      revision: 4242,
      nowMs,
      at: "2024-05-01T12:00:00.000Z",
      errorBudget: { remainingRatio: 0, consumedRatio: 1, allowedFailures: 2, failed: 2 },
      openOperations: [
        { deployment: "api", id: "api-120", kind: "scale", startedAtMs: nowMs - 30_000, deadlineAtMs: nowMs + 90_000 },
      ],
      recentOutcomesTotal: 2,
    });
    expect(body.windows).toEqual([
      { window: "5m", minutes: 5, succeeded: 9_999, failed: 1, successRatio: 0.9999, burnRate: 1 },
      { window: "1h", minutes: 60, succeeded: 0, failed: 0, successRatio: 1, burnRate: 0 },
      { window: "30d", minutes: 43_200, succeeded: 19_998, failed: 2, successRatio: 0.9999, burnRate: 1 },
    ]);
    expect((body.recentOutcomes as unknown[])[0]).toEqual({
      deployment: "web",
      id: "web-100",
      kind: "replacement",
      succeeded: false,
      reason: "1 of 3 replicas unhealthy at the deadline",
      startedAtMs: nowMs - 200_000,
      deadlineAtMs: nowMs - 80_000,
      finishedAtMs: nowMs - 80_000,
    });
  });

  it("takes no arguments", async () => {
    const result = await cli("slo", "extra");
    expect(result.code).toBe(2);
  });

  it("formats ratios without rounding a shortfall up to 100%", () => {
    expect(formatPercent(1)).toBe("100%");
    expect(formatPercent(0.9999)).toBe("99.99%");
    expect(formatPercent(0.99995)).toBe("99.995%");
    expect(formatPercent(0.9999999)).toBe("99.9999%");
    expect(formatPercent(0.5)).toBe("50%");
    expect(formatPercent(0)).toBe("0%");
  });

  it("formats allowed failures readably at any scale", () => {
    expect(formatCount(0)).toBe("0");
    expect(formatCount(0.0002)).toBe("0.0002");
    expect(formatCount(0.00041)).toBe("0.00041");
    expect(formatCount(1)).toBe("1");
    expect(formatCount(2.5)).toBe("2.5");
    expect(formatCount(14.4)).toBe("14.4");
    expect(formatCount(1.23456)).toBe("1.23");
  });
});

describe("orchctl fault", () => {
  it("container <id> <action> asks any replica to inject it and prints what was done", async () => {
    const result = await cli("fault", "container", "web-0", "crash");
    expect(result.code).toBe(0);
    expect(result.stdout).toBe("crash injected into container web-0 on node us-east-1-n1 (agent 127.0.0.1:9101)\n");
    expect(server.callsTo("injectFault").at(-1)).toEqual({
      target: "container",
      id: "web-0",
      action: "crash",
      seconds: 0,
    });
  });

  it.each(["crash", "hang", "unhealthy", "healthy"])("accepts container action %s", async (action) => {
    const result = await cli("fault", "container", "web-1", action);
    expect(result.code).toBe(0);
    expect(server.callsTo("injectFault").at(-1)).toEqual({ target: "container", id: "web-1", action, seconds: 0 });
  });

  it("node <id> kill|revive, with --output json", async () => {
    for (const action of ["kill", "revive"]) {
      const result = await cli("fault", "node", "eu-west-1-n2", action, "-o", "json");
      expect(result.code).toBe(0);
      expect(JSON.parse(result.stdout)).toEqual({
        target: "node",
        id: "eu-west-1-n2",
        action,
        node: "eu-west-1-n2",
        agentAddress: "127.0.0.1:9101",
        message: `${action} injected into node eu-west-1-n2 (agent 127.0.0.1:9101)`,
      });
      expect(server.callsTo("injectFault").at(-1)).toEqual({ target: "node", id: "eu-west-1-n2", action, seconds: 0 });
    }
  });

  it("an action the target does not have is a usage error (exit 2) naming the allowed ones, and nothing is sent", async () => {
    const before = server.callsTo("injectFault").length;
    const container = await cli("fault", "container", "web-0", "kill");
    expect(container.code).toBe(2);
    expect(container.stderr).toContain('"kill" is not a container fault; use one of: crash, hang, unhealthy, healthy');
    const node = await cli("fault", "node", "n1", "crash");
    expect(node.code).toBe(2);
    expect(node.stderr).toContain('"crash" is not a node fault; use one of: kill, revive');
    const json = await cli("fault", "node", "n1", "explode", "-o", "json");
    expect(json.code).toBe(2);
    expect((JSON.parse(json.stdout) as { error: { code: string } }).error.code).toBe("USAGE");
    expect(server.callsTo("injectFault").length).toBe(before);
  });

  it("image <image> <action> sends the image fault, with --seconds for slow-start only", async () => {
    const slow = await cli("fault", "image", "web:2", "slow-start", "--seconds", "30");
    expect(slow.code).toBe(0);
    expect(server.callsTo("injectFault").at(-1)).toEqual({
      target: "image",
      id: "web:2",
      action: "slow-start",
      seconds: 30,
    });
    const before = server.callsTo("injectFault").length;
    const missing = await cli("fault", "image", "web:2", "slow-start");
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("slow-start needs --seconds S");
    const extra = await cli("fault", "image", "web:2", "crash", "--seconds", "3");
    expect(extra.code).toBe(2);
    expect(extra.stderr).toContain("--seconds applies to slow-start only, not crash");
    const wrong = await cli("fault", "image", "web:2", "hang");
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('"hang" is not an image fault; use one of: crash, unhealthy, slow-start, healthy');
    expect(server.callsTo("injectFault").length).toBe(before);
  });

  it.each([
    [["fault"]],
    [["fault", "container"]],
    [["fault", "container", "web-0"]],
    [["fault", "disk", "d1", "fill"]],
  ])("%j is a usage error", async (args) => {
    const result = await cli(...args);
    expect(result.code).toBe(2);
  });

  it("refusals exit 1 with the server's message and a hint", async () => {
    const result = await cli("fault", "container", "ghost-0", "crash");
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("error: container ghost-0 not found");
    expect(result.stderr).toContain("hint: run `orchctl containers` to see container ids");
  });

  it("an unreachable agent fails at once (no retry on other replicas), naming the agent", async () => {
    const before = server.callsTo("injectFault").length;
    const startedMs = performance.now();
    const result = await cli("fault", "container", "far-0", "crash", "-o", "json");
    expect(performance.now() - startedMs).toBeLessThan(3_000);
    expect(result.code).toBe(1);
    expect(server.callsTo("injectFault").length).toBe(before + 1);
    expect(JSON.parse(result.stdout)).toEqual({
      error: {
        code: "UNAVAILABLE",
        message: "the agent of container far-0 at 127.0.0.1:9199 could not be reached: ECONNREFUSED",
        hint: "check that the node-agent with HTTP address 127.0.0.1:9199 is running (`orchctl nodes --output json` shows each node's agentAddress)",
        details: { agentAddress: "127.0.0.1:9199" },
      },
    });
  });

  it("--help explains every action", async () => {
    const top = await runCli(["fault", "--help"]);
    expect(top.code).toBe(0);
    expect(top.stdout).toContain("container");
    expect(top.stdout).toContain("node");
    expect(top.stdout).toContain("orchctl fault node eu-west-1-n2 kill");
    const container = await runCli(["fault", "container", "--help"]);
    expect(container.code).toBe(0);
    expect(container.stdout).toMatch(/crash\s+the container exits/);
    expect(container.stdout).toMatch(/hang\s+its health endpoint stops answering/);
    expect(container.stdout).toMatch(/unhealthy\s+its health endpoint answers HTTP 500/);
    expect(container.stdout).toMatch(/healthy\s+clears `hang` and `unhealthy`/);
    const node = await runCli(["fault", "node", "--help"]);
    expect(node.stdout).toMatch(/kill\s+the node goes silent/);
    expect(node.stdout).toMatch(/revive\s+the node comes back/);
  });
});
