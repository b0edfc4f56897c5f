import * as grpc from "@grpc/grpc-js";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  DeleteRequest,
  DeployRequest,
  DeployResult,
  GetDeploymentRequest,
  ListDeploymentsRequest,
  ScaleRequest,
  type RequestHeader,
} from "../../src/gen/orchestrator/v1/orchestrator.js";
import { DeploymentSpec, type Strategy } from "../../src/gen/orchestrator/v1/types.js";
import type { RequestOf, UnaryMethod } from "../../src/cli/client.js";
import { TestCluster, expectActionable, statusName, type LeaderView } from "./harness.js";

/**
 * A battery of bad requests, each sent straight to the leader over gRPC (no CLI-side checks in
 * the way): each gets its own status and a message a person can act on, and the cluster keeps
 * serving, with the same leader in the same term, throughout.
 */

let cluster: TestCluster;
let leader: LeaderView;
let leaderPid: number | undefined;
let seq = 0;

/** A fresh request identity; each test request is a new client request unless it says otherwise. */
function header(clientId = "bad-input-test"): RequestHeader {
  seq += 1;
  return { clientId, seq };
}

function spec(overrides: Partial<DeploymentSpec> = {}): DeploymentSpec {
  return DeploymentSpec.fromPartial({
    name: "good",
    image: "nginx:1.27",
    replicas: 2,
    cpuMillicores: 500,
    memoryMib: 256,
    ...overrides,
  });
}

function deploy(overrides: Partial<DeploymentSpec>, requestHeader: RequestHeader = header()): DeployRequest {
  return DeployRequest.fromPartial({ header: requestHeader, spec: spec(overrides) });
}

async function expectStatus<K extends UnaryMethod>(
  method: K,
  request: RequestOf<K>,
  code: grpc.status,
  mentions: RegExp,
): Promise<string> {
  const failure = await cluster.failure(leader.leaderId, method, request);
  expect(statusName(failure.code), failure.details).toBe(statusName(code));
  expectActionable(failure.details, mentions);
  return failure.details;
}

beforeAll(async () => {
  cluster = await TestCluster.start({ name: "bad-input" });
  leader = await cluster.waitForLeader();
  leaderPid = cluster.pid(leader.leaderId);
}, 60_000);

afterEach(async (context) => {
  if (context.task.result?.state === "fail") await cluster.dumpLogs();
});

afterAll(async () => {
  await cluster?.close();
}, 60_000);

describe("bad input", () => {
  it("refuses bad deployment names with INVALID_ARGUMENT", async () => {
    await expectStatus(
      "deploy",
      deploy({ name: "" }),
      grpc.status.INVALID_ARGUMENT,
      /deployment name is empty; give one like web/,
    );
    const rule =
      /use lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters/;
    for (const name of ["Web", "a".repeat(64), "-web", "web-", "web_app", "web.app"]) {
      const message = await expectStatus("deploy", deploy({ name }), grpc.status.INVALID_ARGUMENT, rule);
      expect(message).toContain(`invalid deployment name ${JSON.stringify(name)}`);
    }
    // Reads and writes by name check the name the same way.
    await expectStatus(
      "getDeployment",
      GetDeploymentRequest.fromPartial({ name: "Bad" }),
      grpc.status.INVALID_ARGUMENT,
      rule,
    );
    await expectStatus(
      "scale",
      ScaleRequest.fromPartial({ header: header(), name: "Bad", replicas: 1 }),
      grpc.status.INVALID_ARGUMENT,
      rule,
    );
    await expectStatus(
      "delete",
      DeleteRequest.fromPartial({ header: header(), name: "-bad" }),
      grpc.status.INVALID_ARGUMENT,
      rule,
    );
  });

  it("refuses replicas, cpu and memory outside what the cluster allows with INVALID_ARGUMENT", async () => {
    await expectStatus(
      "deploy",
      deploy({ replicas: 10_001 }),
      grpc.status.INVALID_ARGUMENT,
      /replicas must be a whole number from 0 to 10000, got 10001/,
    );
    await expectStatus(
      "deploy",
      deploy({ cpuMillicores: 0 }),
      grpc.status.INVALID_ARGUMENT,
      /deployment good must request cpu > 0 millicores, got 0/,
    );
    await expectStatus(
      "deploy",
      deploy({ memoryMib: 0 }),
      grpc.status.INVALID_ARGUMENT,
      /deployment good must request memory > 0 MiB, got 0/,
    );
    // 10,000 cores: more than any node could hold.
    await expectStatus(
      "deploy",
      deploy({ cpuMillicores: 10_000_000 }),
      grpc.status.INVALID_ARGUMENT,
      /deployment good asks 10000000m cpu and 256Mi memory per replica; at most \d+m cpu and \d+Mi memory are allowed/,
    );
    await expectStatus(
      "deploy",
      deploy({ memoryMib: 64 * 1024 * 1024 }),
      grpc.status.INVALID_ARGUMENT,
      /at most \d+m cpu and \d+Mi memory are allowed/,
    );
    await expectStatus(
      "scale",
      ScaleRequest.fromPartial({ header: header(), name: "good", replicas: 10_001 }),
      grpc.status.INVALID_ARGUMENT,
      /replicas must be a whole number from 0 to 10000/,
    );
  });

  it("refuses an unknown strategy or region with INVALID_ARGUMENT", async () => {
    await expectStatus(
      "deploy",
      deploy({ strategy: 99 as Strategy }),
      grpc.status.INVALID_ARGUMENT,
      /unknown strategy 99: use binpack, spread or latency/,
    );
    await expectStatus(
      "deploy",
      deploy({ regions: ["mars-1"] }),
      grpc.status.INVALID_ARGUMENT,
      /unknown region "mars-1": use one of us-east-1, eu-west-1, ap-southeast-1/,
    );
    await expectStatus(
      "deploy",
      deploy({ clientRegions: ["us-east-1", "atlantis"] }),
      grpc.status.INVALID_ARGUMENT,
      /unknown client region "atlantis": use one of/,
    );
    await expectStatus(
      "deploy",
      deploy({ regions: ["eu-west-1", "eu-west-1"] }),
      grpc.status.INVALID_ARGUMENT,
      /region eu-west-1 is listed twice/,
    );
    await expectStatus(
      "deploy",
      deploy({ image: "" }),
      grpc.status.INVALID_ARGUMENT,
      /deployment good needs an image like nginx:1.27/,
    );
    await expectStatus(
      "deploy",
      deploy({ image: "nginx 1.27" }),
      grpc.status.INVALID_ARGUMENT,
      /needs an image like nginx:1.27, got "nginx 1.27"/,
    );
  });

  it("answers NOT_FOUND for a deployment that does not exist, on get, scale and delete", async () => {
    const hint = /deployment ghost not found; (run `)?orchctl list(`)? (to see what exists|shows the deployments)/;
    await expectStatus(
      "getDeployment",
      GetDeploymentRequest.fromPartial({ name: "ghost" }),
      grpc.status.NOT_FOUND,
      hint,
    );
    await expectStatus(
      "scale",
      ScaleRequest.fromPartial({ header: header(), name: "ghost", replicas: 3 }),
      grpc.status.NOT_FOUND,
      hint,
    );
    await expectStatus(
      "delete",
      DeleteRequest.fromPartial({ header: header(), name: "ghost" }),
      grpc.status.NOT_FOUND,
      hint,
    );
  });

  it("makes a changed spec version 2, accepts the same spec again as a no-op, and names a bad update policy field", async () => {
    const first = await cluster.call(leader.leaderId, "deploy", deploy({ name: "dup" }));
    expect(first.created).toBe(true);
    expect(first.deployment?.version).toBe(1);

    const changed = await cluster.call(leader.leaderId, "deploy", deploy({ name: "dup", image: "nginx:1.28" }));
    expect(changed.created).toBe(false);
    expect(changed.result).toBe(DeployResult.DEPLOY_RESULT_CONFIGURED);
    expect(changed.version).toBe(2);
    expect(changed.deployment?.rollout).toMatchObject({ fromVersion: 1, toVersion: 2 });
    expect(changed.deployment?.history.map((v) => v.spec?.image)).toEqual(["nginx:1.27", "nginx:1.28"]);

    const again = await cluster.call(leader.leaderId, "deploy", deploy({ name: "dup", image: "nginx:1.28" }));
    expect(again.result).toBe(DeployResult.DEPLOY_RESULT_UNCHANGED);
    expect(again.deployment?.version).toBe(2);
    expect(again.deployment?.spec?.image).toBe("nginx:1.28");

    await expectStatus(
      "deploy",
      deploy({ name: "dup", update: { maxParallel: 1, healthyDeadlineMs: 0, progressDeadlineMs: 0, canary: 9 } }),
      grpc.status.INVALID_ARGUMENT,
      /deployment dup update\.canary must be 0\.\.replicas \(\d+\), got 9/,
    );
  });

  it("refuses an oversized request and bounds every text field", async () => {
    // 2 MiB image: over the API's request size limit, refused before it is parsed.
    const huge = await cluster.failure(
      leader.leaderId,
      "deploy",
      deploy({ name: "huge", image: `nginx:${"x".repeat(2 * 1024 * 1024)}` }),
    );
    expect([grpc.status.RESOURCE_EXHAUSTED, grpc.status.INVALID_ARGUMENT].map(statusName)).toContain(
      statusName(huge.code),
    );
    // grpc-js words this one itself ("Received message larger than max (2097202 vs 1048576)"):
    // the size and the limit, which is what a person needs to shrink the request.
    expectActionable(huge.details, /larger than max \(\d+ vs 1048576\)|too large|at most/i);
    // Within the request limit but over the image bound.
    await expectStatus(
      "deploy",
      deploy({ name: "long-image", image: `nginx:${"x".repeat(600)}` }),
      grpc.status.INVALID_ARGUMENT,
      /deployment long-image image is 606 characters long; at most 512 are allowed/,
    );
    await expectStatus(
      "deploy",
      deploy({}, { clientId: "c".repeat(200), seq: 1 }),
      grpc.status.INVALID_ARGUMENT,
      /client id is 200 characters long; at most 128 are allowed/,
    );
    await expectStatus(
      "deploy",
      deploy({}, { clientId: "zero-seq", seq: 0 }),
      grpc.status.INVALID_ARGUMENT,
      /sequence number 0; client sequence numbers start at 1/,
    );
    const list = await cluster.call(leader.leaderId, "listDeployments", ListDeploymentsRequest.fromPartial({}));
    expect(list.deployments.map((d) => d.spec?.name)).not.toContain("huge");
  });

  it("applies a retried Deploy (same client id and seq) at most once", async () => {
    const client = "retrying-client";
    // The first attempt of request (client, 1) is applied...
    const request = deploy({ name: "once", replicas: 2 }, { clientId: client, seq: 1 });
    const first = await cluster.call(leader.leaderId, "deploy", request);
    expect(first.created).toBe(true);
    // ...someone else scales it in between...
    await cluster.call(
      leader.leaderId,
      "scale",
      ScaleRequest.fromPartial({ header: { clientId: "operator", seq: 1 }, name: "once", replicas: 5 }),
    );
    // ...and the retry of (client, 1) gets the first answer back instead of a second apply. Applied
    // again, it would reset the replicas to 2 (a scale).
    const retry = await cluster.call(leader.leaderId, "deploy", request);
    expect(retry.created).toBe(true);
    expect(retry.deployment?.spec?.replicas).toBe(5);
    expect(retry.deployment?.version).toBe(1);

    // Same with a delete in between: applied twice, the deploy would bring the deployment back.
    const second = deploy({ name: "once-deleted", replicas: 1 }, { clientId: client, seq: 2 });
    expect((await cluster.call(leader.leaderId, "deploy", second)).created).toBe(true);
    await cluster.call(
      leader.leaderId,
      "delete",
      DeleteRequest.fromPartial({ header: { clientId: "operator", seq: 2 }, name: "once-deleted" }),
    );
    // The retry gets the first answer (created), not NOT_FOUND, and does not bring it back.
    const retried = await cluster.call(leader.leaderId, "deploy", second);
    expect(retried.created).toBe(true);
    expect(retried.deployment).toBeUndefined();
    const list = await cluster.call(leader.leaderId, "listDeployments", ListDeploymentsRequest.fromPartial({}));
    const names = list.deployments.map((d) => d.spec?.name);
    expect(names).toContain("once");
    expect(names).not.toContain("once-deleted");
    const once = list.deployments.find((d) => d.spec?.name === "once");
    expect(once?.spec?.replicas).toBe(5);
    expect(once?.status?.desired).toBe(5);

    // An older sequence number than the last applied one is refused: its reply is gone.
    await expectStatus(
      "deploy",
      request,
      grpc.status.FAILED_PRECONDITION,
      /stale request: client retrying-client sent seq 1 after seq 2 was applied/,
    );
  });

  it("keeps serving: same leader, same term, same process, and a normal deploy still works", async () => {
    const now = await cluster.waitForLeader();
    expect(now).toEqual(leader);
    expect(cluster.pid(leader.leaderId)).toBe(leaderPid);
    for (const id of cluster.ids()) expect(cluster.running()).toContain(id);
    const ok = await cluster.call(leader.leaderId, "deploy", deploy({ name: "after-the-battery", replicas: 3 }));
    expect(ok.created).toBe(true);
    expect(ok.deployment?.spec?.replicas).toBe(3);
    const result = await cluster.orchctl(["get", "after-the-battery", "-o", "json"]);
    expect(result.code, result.stderr).toBe(0);
  });
});
