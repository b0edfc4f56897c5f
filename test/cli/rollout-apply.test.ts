/**
 * orchctl rollout, apply and plan against a fake replica: what each sends, prints, and exits with.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  DeployResult,
  type ApplyRequest,
  type ApplyResponse,
  type DeployResponse,
  type GetDeploymentResponse,
  type PlanResponse,
  type RolloutActionRequest,
  type RolloutActionResponse,
} from "../../src/gen/orchestrator/v1/orchestrator.js";
import { Deployment, type Rollout } from "../../src/gen/orchestrator/v1/types.js";
import { type FakeServer, runCli, startFakeServer, statusError } from "./fake-server.js";
import { sampleContainer, sampleDeployment } from "./fixtures.js";

let server: FakeServer;
/** What successive GetDeployment calls answer; the last one repeats. */
let script: GetDeploymentResponse[] = [];
let applyAnswer: grpc.ServerErrorResponse | ApplyResponse;
let actionAnswer: grpc.ServerErrorResponse | RolloutActionResponse;

function withRollout(rollout: Partial<Rollout>, history: [number, string][] = [], replicas = 3): Deployment {
  return Deployment.fromPartial({
    ...sampleDeployment({ replicas }),
    version: rollout.toVersion ?? 2,
    rollout: { fromVersion: 1, toVersion: 2, state: "running", ...rollout },
    history: history.map(([version, outcome]) => ({
      version,
      outcome,
      actor: "alice",
      reason: version === 1 ? "deploy" : "apply",
      atMs: 1_700_000_000_000,
      spec: { name: "web", image: `nginx:${version}` },
    })),
  });
}

function healthyAt(version: number, count: number) {
  return Array.from({ length: count }, (_, i) => ({ ...sampleContainer(`web-${i}`, "n1"), version }));
}

const isError = (x: unknown): x is grpc.ServerErrorResponse =>
  typeof x === "object" && x !== null && "code" in x && !("outcomes" in x) && !("changed" in x);

beforeAll(async () => {
  server = await startFakeServer({
    getDeployment: (_call: unknown, callback: grpc.sendUnaryData<GetDeploymentResponse>) =>
      callback(null, script.length > 1 ? script.shift()! : script[0]),
    apply: (_call: unknown, callback: grpc.sendUnaryData<ApplyResponse>) =>
      isError(applyAnswer) ? callback(applyAnswer, null) : callback(null, applyAnswer),
    rolloutAction: (_call: unknown, callback: grpc.sendUnaryData<RolloutActionResponse>) =>
      isError(actionAnswer) ? callback(actionAnswer, null) : callback(null, actionAnswer),
    plan: (_call: unknown, callback: grpc.sendUnaryData<PlanResponse>) =>
      callback(null, {
        checkIndex: 57,
        revision: 90,
        deployments: [
          {
            name: "web",
            result: DeployResult.DEPLOY_RESULT_CONFIGURED,
            changes: [{ field: "image", old: "nginx:1", new: "nginx:2" }],
            rollout: {
              newVersion: true,
              version: 2,
              replacesContainers: true,
              canary: 1,
              maxParallel: 1,
              maxSurge: 1,
              steps: 2,
              autoRevert: true,
            },
            placements: [{ container: "web-3", node: "n2" }],
            pendingReason: "",
            newReplicas: 1,
          },
          {
            name: "big",
            result: DeployResult.DEPLOY_RESULT_CREATED,
            changes: [{ field: "image", old: "", new: "big:1" }],
            rollout: undefined,
            placements: [
              { container: "big-0", node: "n1" },
              { container: "big-1", node: "" },
            ],
            pendingReason: "0/2 nodes: 2 insufficient memory",
            newReplicas: 2,
          },
        ],
      }),
    deploy: (_call: unknown, callback: grpc.sendUnaryData<DeployResponse>) =>
      callback(null, {
        deployment: undefined,
        created: false,
        revision: 70,
        result: DeployResult.DEPLOY_RESULT_CONFIGURED,
        version: 2,
      }),
  });
});
afterAll(() => server.stop());
beforeEach(() => {
  server.calls.length = 0;
});

const cli = (...args: string[]) => runCli(["--endpoints", server.address, ...args]);

describe("orchctl rollout status", () => {
  it("follows until the rollout succeeds: exit 0, progress lines on stderr", async () => {
    script = [
      { deployment: withRollout({}), containers: healthyAt(2, 1), revision: 1 },
      { deployment: withRollout({ state: "awaiting-promotion" }), containers: healthyAt(2, 1), revision: 2 },
      { deployment: withRollout({ state: "succeeded" }), containers: healthyAt(2, 3), revision: 3 },
    ];
    const result = await cli("rollout", "status", "web");
    expect(result.code).toBe(0);
    expect(result.stdout).toBe("rollout of web to v2 succeeded\n");
    expect(result.stderr).toContain("rollout of web to v2: running, 1/3 healthy");
    expect(result.stderr).toContain("orchctl rollout promote web");
  });

  it("exit 1 with the reason when it fails, or when a later revert replaced it", async () => {
    script = [
      {
        deployment: withRollout({ state: "failed", reason: "web-4 missed its healthy deadline" }),
        containers: [],
        revision: 1,
      },
    ];
    const failed = await cli("rollout", "status", "web");
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain("rollout of web to v2 failed: web-4 missed its healthy deadline");

    script = [
      { deployment: withRollout({}), containers: [], revision: 1 },
      {
        deployment: withRollout({ toVersion: 3, fromVersion: 2, isRevert: true, reason: "auto-revert" }, [
          [1, "succeeded"],
          [2, "failed"],
          [3, "pending"],
        ]),
        containers: [],
        revision: 2,
      },
    ];
    const reverted = await cli("rollout", "status", "web", "-o", "json");
    expect(reverted.code).toBe(1);
    expect(JSON.parse(reverted.stdout).error).toMatchObject({
      code: "ABORTED",
      details: { state: "reverted", version: 2 },
    });
  });

  it("-o json gives the final state; --no-follow prints where it stands", async () => {
    script = [{ deployment: withRollout({ state: "succeeded" }), containers: healthyAt(2, 3), revision: 1 }];
    const json = await cli("rollout", "status", "web", "-o", "json");
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ deployment: "web", version: 2, state: "succeeded" });

    script = [{ deployment: withRollout({ state: "awaiting-promotion" }), containers: [], revision: 1 }];
    const once = await cli("rollout", "status", "web", "--no-follow");
    expect(once.code).toBe(0);
    expect(once.stdout).toMatch(/State:\s+awaiting-promotion/);
  });

  it("a deployment that never rolled out: exit 1, says so", async () => {
    script = [{ deployment: sampleDeployment(), containers: [], revision: 1 }];
    const result = await cli("rollout", "status", "web");
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("has never rolled out a new version");
  });
});

describe("orchctl rollout history, undo, promote, pause, resume", () => {
  it("history is a table of every version", async () => {
    script = [
      {
        deployment: withRollout({ state: "succeeded" }, [
          [1, "succeeded"],
          [2, "succeeded"],
        ]),
        containers: [],
        revision: 1,
      },
    ];
    const result = await cli("rollout", "history", "web");
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^VERSION\s+WHEN\s+ACTOR\s+REASON\s+OUTCOME\s+IMAGE$/);
    expect(lines[1]).toMatch(/^1\s+2023-11-14T22:13:20.000Z\s+alice\s+deploy\s+succeeded\s+nginx:1$/);
    expect(lines).toHaveLength(3);
  });

  it("undo --to-version sends the version; NOT_FOUND is exit 1 with the server's message", async () => {
    actionAnswer = { changed: true, version: 4, revision: 80, deployment: undefined };
    const ok = await cli("rollout", "undo", "web", "--to-version", "1");
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain("now version 4");
    expect(server.callsTo("rolloutAction")[0]).toMatchObject({ name: "web", action: "undo", toVersion: 1 });

    actionAnswer = statusError(
      grpc.status.NOT_FOUND,
      "deployment web has no version 9 in its history (kept: v1, v2)",
    ) as grpc.ServerErrorResponse;
    const missing = await cli("rollout", "undo", "web", "--to-version", "9");
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("no version 9 in its history");
  });

  it("promote, pause and resume send their action", async () => {
    actionAnswer = { changed: true, version: 2, revision: 81, deployment: withRollout({ state: "paused" }) };
    for (const action of ["promote", "pause", "resume"]) expect((await cli("rollout", action, "web")).code).toBe(0);
    expect(server.callsTo("rolloutAction").map((r) => (r as RolloutActionRequest).action)).toEqual([
      "promote",
      "pause",
      "resume",
    ]);
    actionAnswer = statusError(
      grpc.status.FAILED_PRECONDITION,
      "deployment web has no rollout in progress",
    ) as grpc.ServerErrorResponse;
    const refused = await cli("rollout", "promote", "web");
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("has no rollout in progress");
  });
});

function tempFile(name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), "orchctl-apply-"));
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe("orchctl apply and plan", () => {
  const file = () =>
    tempFile(
      "web.yaml",
      "- {name: web, image: nginx:2, replicas: 3, update: {max_parallel: 2}}\n- {name: api, image: api:1}\n- {name: db, image: db:1}\n",
    );

  it("prints created, configured (a scale too) or unchanged per deployment and sends the check index", async () => {
    applyAnswer = {
      revision: 91,
      outcomes: [
        { name: "web", result: DeployResult.DEPLOY_RESULT_CREATED, version: 1 },
        { name: "api", result: DeployResult.DEPLOY_RESULT_SCALED, version: 1 },
        { name: "db", result: DeployResult.DEPLOY_RESULT_UNCHANGED, version: 3 },
      ],
    };
    const result = await cli("apply", "-f", file(), "--check-index", "57");
    expect(result.code).toBe(0);
    expect(result.stdout).toBe("deployment web created\ndeployment api configured\ndeployment db unchanged\n");
    const request = server.callsTo("apply")[0] as ApplyRequest;
    expect(request.checkIndex).toBe(57);
    expect(request.specs.map((s) => s.name)).toEqual(["web", "api", "db"]);
    expect(request.specs[0].update?.maxParallel).toBe(2);
    // No update block: no policy sent, so the server keeps the current one.
    expect(request.specs[1].update).toBeUndefined();
  });

  it("a stale check index is exit 1 with FAILED_PRECONDITION", async () => {
    applyAnswer = statusError(
      grpc.status.FAILED_PRECONDITION,
      "deployment web changed at revision 60, after check index 57",
    ) as grpc.ServerErrorResponse;
    const result = await cli("apply", "-f", file(), "--check-index", "57", "-o", "json");
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout).error.code).toBe("FAILED_PRECONDITION");
  });

  it("file errors are exit 1 with the reader's code, and nothing is sent", async () => {
    const typo = await cli("apply", "-f", tempFile("bad.yaml", "name: web\nimage: x\nreplica: 3\n"), "-o", "json");
    expect(typo.code).toBe(1);
    expect(JSON.parse(typo.stdout).error).toMatchObject({ code: "INVALID_ARGUMENT" });
    expect(JSON.parse(typo.stdout).error.message).toContain("bad.yaml: deployment web");
    const many = Array.from({ length: 10_000 }, (_, i) => `- {name: d${i}, image: x}`).join("\n");
    const big = await cli("plan", "-f", tempFile("many.yaml", many), "-o", "json");
    expect(big.code).toBe(1);
    expect(JSON.parse(big.stdout).error.code).toBe("RESOURCE_EXHAUSTED");
    const missing = await cli("apply", "-f", "/nonexistent/web.yaml");
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("no such file");
    expect(server.callsTo("apply")).toHaveLength(0);
    expect(server.callsTo("plan")).toHaveLength(0);
  });

  it("plan prints the diff, the rollout, the placements with pending reasons, and the check index", async () => {
    const result = await cli("plan", "-f", file());
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("deployment web: configured\n  ~ image: nginx:1 -> nginx:2\n");
    expect(result.stdout).toContain("rollout: new version v2; 1 canary, then await promotion; 2 steps of at most 1");
    expect(result.stdout).toContain("web-3 -> n2");
    expect(result.stdout).toContain("deployment big: created\n  + image: big:1\n");
    expect(result.stdout).toContain("big-1 -> pending");
    expect(result.stdout).toContain("pending: 0/2 nodes: 2 insufficient memory");
    expect(result.stdout.trimEnd().split("\n").at(-1)).toBe("check-index: 57");
  });
});

describe("orchctl deploy --wait", () => {
  it("follows the rollout a configured deploy started", async () => {
    script = [
      { deployment: withRollout({}), containers: healthyAt(2, 2), revision: 1 },
      { deployment: withRollout({ state: "succeeded" }), containers: healthyAt(2, 3), revision: 2 },
    ];
    const result = await cli("deploy", "web", "--image", "nginx:2", "--replicas", "3", "--wait");
    expect(result.code).toBe(0);
    expect(result.stdout).toBe("deployment web configured (version 2, revision 70)\nrollout of web to v2 succeeded\n");
  });

  it("--help says what happens to an existing deployment", async () => {
    const result = await cli("deploy", "--help");
    expect(result.stdout).toContain("An existing deployment is updated, never refused");
    expect(result.stdout).toContain("keeps its current update");
  });
});
