import * as grpc from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { DeployResult } from "../../src/gen/orchestrator/v1/orchestrator.js";
import type {
  DeployRequest,
  DeployResponse,
  GetDeploymentRequest,
  GetDeploymentResponse,
  ListDeploymentsResponse,
  ScaleRequest,
  ScaleResponse,
  WatchRequest,
  WatchResponse,
} from "../../src/gen/orchestrator/v1/orchestrator.js";
import { DeploymentSpec } from "../../src/gen/orchestrator/v1/types.js";
import { type FakeServer, deadAddress, notLeader, runCli, startFakeServer, statusError } from "./fake-server.js";
import { sampleDeployment } from "./fixtures.js";

/**
 * The client's leader-following and retry rules against real gRPC servers on 127.0.0.1, with
 * orchctl run in-process.
 */

const servers: FakeServer[] = [];

async function serve(...args: Parameters<typeof startFakeServer>): Promise<FakeServer> {
  const server = await startFakeServer(...args);
  servers.push(server);
  return server;
}

afterEach(() => {
  for (const server of servers.splice(0)) server.stop();
});

type Unary<Req, Res> = (call: grpc.ServerUnaryCall<Req, Res>, callback: grpc.sendUnaryData<Res>) => void;

/** A leader that accepts deploys and reports every replica running. */
function leaderHandlers() {
  const deploy: Unary<DeployRequest, DeployResponse> = (call, callback) =>
    callback(null, {
      deployment: { ...sampleDeployment({ name: call.request.spec?.name }), version: 1 },
      created: true,
      revision: 50,
    });
  const getDeployment: Unary<GetDeploymentRequest, GetDeploymentResponse> = (call, callback) =>
    callback(null, { deployment: sampleDeployment({ name: call.request.name }), containers: [], revision: 51 });
  const listDeployments: Unary<unknown, ListDeploymentsResponse> = (_call, callback) =>
    callback(null, { deployments: [sampleDeployment()], revision: 52 });
  return { deploy, getDeployment, listDeployments };
}

describe("leader following", () => {
  it("follows a follower's x-leader-address to the leader and remembers it for later calls", async () => {
    const leader = await serve(leaderHandlers());
    const refuse = (_call: unknown, callback: grpc.sendUnaryData<never>) =>
      callback(notLeader("r1", leader.address), null);
    const follower = await serve({ deploy: refuse, getDeployment: refuse, listDeployments: refuse });

    const result = await runCli([
      "--endpoints",
      follower.address,
      "deploy",
      "web",
      "--image",
      "nginx:latest",
      "--replicas",
      "3",
      "--wait",
    ]);

    expect(result.stderr).not.toContain("error");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("deployment web created (version 1, revision 50)");
    expect(result.stdout).toContain("all 3 replicas of web are running");
    // One refused call at the follower; everything after went straight to the remembered leader.
    expect(follower.calls.map((call) => call.method)).toEqual(["deploy"]);
    expect(leader.calls.map((call) => call.method)).toEqual(["deploy", "getDeployment"]);
    const [refused] = follower.callsTo("deploy") as DeployRequest[];
    const [applied] = leader.callsTo("deploy") as DeployRequest[];
    expect(applied.header).toEqual(refused.header);
    expect(applied.header?.seq).toBe(1);
  });

  it("retries a failed attempt with the same client id and seq", async () => {
    let attempts = 0;
    const flaky = await serve({
      deploy: (
        call: grpc.ServerUnaryCall<DeployRequest, DeployResponse>,
        callback: grpc.sendUnaryData<DeployResponse>,
      ) => {
        attempts += 1;
        if (attempts === 1) return callback(statusError(grpc.status.UNAVAILABLE, "no leader elected yet"), null);
        callback(null, { deployment: sampleDeployment({ name: call.request.spec?.name }), created: true, revision: 7 });
      },
    });

    const result = await runCli([
      "--endpoints",
      flaky.address,
      "deploy",
      "api",
      "--image",
      "acme/api:1",
      "--cpu",
      "250m",
      "--memory",
      "1Gi",
    ]);

    expect(result.code).toBe(0);
    const requests = flaky.callsTo("deploy") as DeployRequest[];
    expect(requests).toHaveLength(2);
    expect(requests[0].header?.clientId).toMatch(/^[0-9a-f-]{36}$/);
    expect(requests[1].header).toEqual(requests[0].header);
    expect(requests[1].spec).toEqual(requests[0].spec);
    expect(requests[0].spec).toMatchObject({ name: "api", cpuMillicores: 250, memoryMib: 1024, replicas: 1 });
  });

  it("moves to the next endpoint when one says UNAVAILABLE without a leader, reusing the header", async () => {
    const noLeader = await serve({
      scale: (_call: unknown, callback: grpc.sendUnaryData<never>) =>
        callback(statusError(grpc.status.UNAVAILABLE, "election in progress"), null),
    });
    const good = await serve({
      scale: (call: grpc.ServerUnaryCall<ScaleRequest, ScaleResponse>, callback: grpc.sendUnaryData<ScaleResponse>) =>
        callback(null, {
          deployment: sampleDeployment({ name: call.request.name, replicas: call.request.replicas }),
          revision: 9,
        }),
    });

    const result = await runCli(["--endpoints", `${noLeader.address},${good.address}`, "scale", "web", "5"]);

    expect(result.code).toBe(0);
    expect(result.stdout).toBe("deployment web scaled to 5 replicas (revision 9)\n");
    const [first] = noLeader.callsTo("scale") as { header: unknown }[];
    const [second] = good.callsTo("scale") as { header: unknown; replicas: number }[];
    expect(second.header).toEqual(first.header);
    expect(second.replicas).toBe(5);
  });

  it("skips a dead endpoint first in the list without noise", async () => {
    const dead = await deadAddress();
    const good = await serve(leaderHandlers());

    const result = await runCli(["--endpoints", `${dead},${good.address}`, "list"]);

    expect(result.code).toBe(0);
    expect(result.stderr).toBe("");
    expect(result.stdout).toBe(
      "NAME   IMAGE          READY   HEALTHY   STRATEGY   VERSION   REVISION\n" +
        "web    nginx:latest   3/3     3/3       spread     2         42\n",
    );
  });

  it("follows a redirect from ORCH_ENDPOINTS and prints JSON", async () => {
    const leader = await serve(leaderHandlers());
    const follower = await serve({
      listDeployments: (_call: unknown, callback: grpc.sendUnaryData<never>) =>
        callback(notLeader("r2", leader.address), null),
    });

    const result = await runCli(["list", "-o", "json"], { env: { ORCH_ENDPOINTS: follower.address } });

    expect(result.code).toBe(0);
    const body = JSON.parse(result.stdout) as { revision: number; deployments: { name: string; strategy: string }[] };
    expect(body.revision).toBe(52);
    expect(body.deployments).toMatchObject([{ name: "web", strategy: "spread" }]);
  });

  it("prints progress on stderr once retries take longer than a second", async () => {
    const startedMs = performance.now();
    const slowToElect = await serve({
      listDeployments: (_call: unknown, callback: grpc.sendUnaryData<ListDeploymentsResponse>) => {
        if (performance.now() - startedMs < 2_500)
          return callback(statusError(grpc.status.UNAVAILABLE, "no leader"), null);
        callback(null, { deployments: [], revision: 3 });
      },
    });

    const result = await runCli(["--endpoints", slowToElect.address, "list"]);

    expect(result.code).toBe(0);
    expect(result.stdout).toContain("No deployments.");
    expect(result.stderr).toMatch(
      new RegExp(`${slowToElect.address} unavailable \\(no leader\\), retrying on ${slowToElect.address}…`),
    );
  });

  it("names the lost leader when it becomes unreachable and carries on elsewhere", async () => {
    const deadLeader = await deadAddress();
    let refusals = 0;
    const startedMs = performance.now();
    const follower = await serve({
      listDeployments: (_call: unknown, callback: grpc.sendUnaryData<ListDeploymentsResponse>) => {
        // Points at a leader that has crashed until, 2.5 s in, it has itself been elected.
        if (performance.now() - startedMs < 2_500) {
          refusals += 1;
          return callback(notLeader("r1", deadLeader), null);
        }
        callback(null, { deployments: [], revision: 4 });
      },
    });

    const result = await runCli(["--endpoints", follower.address, "list", "-o", "json"]);

    expect(result.code).toBe(0);
    expect(refusals).toBeGreaterThan(1);
    expect(result.stderr).toContain(
      `leader r1 unreachable (No connection established), retrying on ${follower.address}…`,
    );
    expect(JSON.parse(result.stdout)).toEqual({ revision: 4, deployments: [] });
  });
});

describe("non-retryable statuses", () => {
  it.each([
    ["NOT_FOUND", "deployment ghost not found", "run `orchctl list`"],
    ["INVALID_ARGUMENT", "replicas must be at most 1000", undefined],
    ["ALREADY_EXISTS", "deployment ghost exists with another image", "orchctl scale"],
    ["FAILED_PRECONDITION", "deployment is being deleted", "`orchctl cluster`"],
    ["RESOURCE_EXHAUSTED", "not enough capacity", "`orchctl nodes`"],
    ["PERMISSION_DENIED", "no", "role allows this"],
    ["UNAUTHENTICATED", "who are you", "ORCH_TOKEN"],
  ] as const)("fails at once on %s with the server's message and a hint", async (name, message, hint) => {
    const code = grpc.status[name];
    const server = await serve({
      getDeployment: (_call: unknown, callback: grpc.sendUnaryData<never>) =>
        callback(statusError(code, message), null),
    });

    const result = await runCli(["--endpoints", server.address, "get", "ghost"]);

    expect(result.code).toBe(1);
    expect(server.calls).toHaveLength(1);
    expect(result.stderr.split("\n")[0]).toBe(`error: ${message}`);
    const hintLine = result.stderr.split("\n")[1];
    if (hint === undefined) expect(hintLine).toBe("");
    else expect(hintLine).toMatch(/^hint: /);
    if (hint !== undefined) expect(hintLine).toContain(hint);
    const json = await runCli(["--endpoints", server.address, "get", "ghost", "--output", "json"]);
    expect(json.code).toBe(1);
    const body = JSON.parse(json.stdout) as { error: { code: string; message: string; hint?: string } };
    expect(body.error.code).toBe(name);
    expect(body.error.message).toBe(message);
  });
});

describe("deploy --wait", () => {
  it("fails with the pending reason when replicas stay pending past the timeout", async () => {
    const reason = "0/9 nodes: 6 insufficient memory, 3 region constraint";
    const server = await serve({
      deploy: (_call: unknown, callback: grpc.sendUnaryData<DeployResponse>) =>
        callback(null, { deployment: sampleDeployment({ running: 0 }), created: true, revision: 5 }),
      getDeployment: (_call: unknown, callback: grpc.sendUnaryData<GetDeploymentResponse>) =>
        callback(null, {
          deployment: sampleDeployment({ replicas: 3, running: 1, pendingReason: reason }),
          containers: [],
          revision: 6,
        }),
    });

    const result = await runCli([
      "--endpoints",
      server.address,
      "--timeout",
      "1.2",
      "deploy",
      "web",
      "--image",
      "nginx",
      "--replicas",
      "3",
      "--wait",
    ]);

    expect(result.code).toBe(1);
    expect(result.stderr).toContain("waiting for web: 1/3 running (pending: 0/9 nodes");
    expect(result.stderr).toContain(`error: timed out after 1.2s waiting for web: 1/3 running, 2 pending: ${reason}`);
    expect(server.callsTo("getDeployment").length).toBeGreaterThanOrEqual(2);

    const json = await runCli([
      "--endpoints",
      server.address,
      "--timeout",
      "1",
      "-o",
      "json",
      "deploy",
      "web",
      "--image",
      "nginx",
      "--replicas",
      "3",
      "--wait",
    ]);
    expect(json.code).toBe(1);
    const body = JSON.parse(json.stdout) as {
      error: { code: string; details: { pendingReason: string; running: number; desired: number } };
    };
    expect(body.error.code).toBe("DEADLINE_EXCEEDED");
    expect(body.error.details).toMatchObject({ pendingReason: reason, running: 1, desired: 3 });
  });
});

describe("deploy's update policy", () => {
  it("sends the update-policy flags and prints what the server says it did", async () => {
    const configured: Unary<DeployRequest, DeployResponse> = (call, callback) =>
      callback(null, {
        deployment: { ...sampleDeployment({ name: call.request.spec?.name }), version: 2 },
        created: false,
        revision: 60,
        result: DeployResult.DEPLOY_RESULT_CONFIGURED,
        version: 2,
      });
    const leader = await serve({ ...leaderHandlers(), deploy: configured });
    const result = await runCli([
      "--endpoints",
      leader.address,
      "deploy",
      "web",
      "--image",
      "nginx:1.28",
      "--max-parallel",
      "2",
      "--min-healthy-time",
      "10s",
      "--progress-deadline",
      "2m",
      "--canary",
      "1",
      "--no-auto-revert",
      "--force",
    ]);
    expect(result.stderr).toBe("");
    expect(result.stdout).toContain("deployment web configured (version 2, revision 60)");
    const [request] = leader.callsTo("deploy") as DeployRequest[];
    expect(request.force).toBe(true);
    expect(request.spec?.update).toEqual({
      maxParallel: 2,
      minHealthyTimeMs: 10_000,
      healthyDeadlineMs: 0,
      progressDeadlineMs: 120_000,
      canary: 1,
      autoRevert: false,
    });
    const bad = await runCli([
      "--endpoints",
      leader.address,
      "deploy",
      "web",
      "--image",
      "x:1",
      "--min-healthy-time",
      "ten",
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--min-healthy-time");
  });
});

describe("the seed's flag form", () => {
  it("deploys with cpu in cores and memory in MiB", async () => {
    const leader = await serve(leaderHandlers());
    const result = await runCli([
      `-server=${leader.address}`,
      "-action=deploy",
      "-name=demo-app",
      "-image=nginx:latest",
      "-replicas=2",
      "-cpu=2",
      "-memory=1024",
    ]);
    expect(result.code).toBe(0);
    const [request] = leader.callsTo("deploy") as DeployRequest[];
    expect(request.spec).toEqual(
      DeploymentSpec.fromPartial({
        name: "demo-app",
        image: "nginx:latest",
        replicas: 2,
        cpuMillicores: 2000,
        memoryMib: 1024,
        strategy: 1,
      }),
    );
    const list = await runCli([`-server=${leader.address}`, "-action=list"]);
    expect(list.code).toBe(0);
    expect(list.stdout).toContain("web");
  });
});

describe("watch", () => {
  it("prints one line per change, resumes after a broken stream without repeating, and stops on Ctrl-C", async () => {
    const requests: WatchRequest[] = [];
    const interrupt = new AbortController();
    const change = (revision: number, running: number): WatchResponse => ({
      revision,
      kind: "deployment",
      action: "put",
      deployment: sampleDeployment({ running }),
    });
    const server = await serve({
      watch: (call: grpc.ServerWritableStream<WatchRequest, WatchResponse>) => {
        requests.push(call.request);
        if (requests.length === 1) {
          call.write(change(10, 1));
          call.write(change(11, 2));
          // The replica fails mid-stream.
          setTimeout(() => call.emit("error", statusError(grpc.status.UNAVAILABLE, "replica shutting down")), 50);
          return;
        }
        // The resumed stream repeats revision 11 (it asks from 10), then moves on.
        call.write(change(11, 2));
        call.write(change(12, 3));
        setTimeout(() => interrupt.abort(), 100);
      },
    });

    const result = await runCli(["--endpoints", server.address, "watch", "--deployment", "web"], {
      signal: interrupt.signal,
    });

    expect(result.code).toBe(0);
    expect(requests.map((request) => [request.fromRevision, request.deployment])).toEqual([
      [0, "web"],
      [10, "web"],
    ]);
    expect(result.stdout.split("\n").filter((line) => line !== "")).toEqual([
      "    10  deployment  put     web  v2 nginx:latest 1/3 running",
      "    11  deployment  put     web  v2 nginx:latest 2/3 running",
      "    12  deployment  put     web  v2 nginx:latest 3/3 running",
    ]);
    expect(result.stderr).toContain("broke (replica shutting down), reconnecting");
  });
});
