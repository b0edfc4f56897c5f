/**
 * Apply, Plan and RolloutAction over the real service and a real FSM: proposals are applied to
 * the FSM at once, as a one-replica leader would after committing them.
 */
import * as grpc from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import {
  ApplyRequest,
  DeployResult,
  GetDeploymentRequest,
  PlanRequest,
  RolloutActionRequest,
  type ApplyResponse,
  type GetDeploymentResponse,
  type OrchestratorServiceClient,
  type PlanResponse,
  type RolloutActionResponse,
} from "../../src/gen/orchestrator/v1/orchestrator.js";
import type { DeploymentSpec } from "../../src/gen/orchestrator/v1/types.js";
import type { ApplyResult } from "../../src/fsm/index.js";
import type { RaftNode } from "../../src/raft/io/raft-node.js";
import { callError, deploymentSpec, FsmFeeder, serve, stubNode, type ServedService } from "../api-slo/harness.js";

const running: ServedService[] = [];
afterEach(() => {
  for (const service of running.splice(0)) service.stop();
});

type Unary<Req, Res> = (request: Req, callback: (error: grpc.ServiceError | null, response: Res) => void) => unknown;
function call<Req, Res>(client: OrchestratorServiceClient, method: Unary<Req, Res>, request: Req): Promise<Res> {
  return new Promise((resolve, reject) =>
    method.call(client, request, (error, response) => (error === null ? resolve(response) : reject(error))),
  );
}

let seq = 0;
const header = () => ({ clientId: "tester", seq: ++seq });

async function start() {
  const feeder = new FsmFeeder();
  feeder.registerNode("n1", "127.0.0.1:1", Date.now());
  feeder.registerNode("n2", "127.0.0.1:2", Date.now());
  const stub = stubNode();
  // A leader that commits at once: each proposal is the next log entry.
  const node = Object.assign(Object.create(null) as object, stub.node, {
    propose: async (data: Uint8Array): Promise<ApplyResult> => {
      feeder.index += 1;
      return feeder.fsm.apply(feeder.index, data);
    },
  }) as RaftNode;
  const service = await serve(feeder.fsm, { ...stub, node });
  running.push(service);
  const c = service.client;
  return {
    feeder,
    apply: (specs: DeploymentSpec[], checkIndex?: number) =>
      call<ApplyRequest, ApplyResponse>(
        c,
        c.apply,
        ApplyRequest.fromPartial({ header: header(), specs, ...(checkIndex !== undefined ? { checkIndex } : {}) }),
      ),
    plan: (specs: DeploymentSpec[]) => call<PlanRequest, PlanResponse>(c, c.plan, PlanRequest.fromPartial({ specs })),
    get: (name: string) =>
      call<GetDeploymentRequest, GetDeploymentResponse>(c, c.getDeployment, GetDeploymentRequest.fromPartial({ name })),
    action: (name: string, action: string, toVersion = 0) =>
      call<RolloutActionRequest, RolloutActionResponse>(
        c,
        c.rolloutAction,
        RolloutActionRequest.fromPartial({ header: header(), name, action, toVersion }),
      ),
  };
}

const web = (over: Partial<DeploymentSpec> = {}): DeploymentSpec => ({ ...deploymentSpec("web", 2), ...over });

describe("Apply and Plan", () => {
  it("plan changes nothing and shows the diff, the rollout and the placements; apply then matches it", async () => {
    const api = await start();
    const first = await api.plan([web()]);
    expect(first.deployments[0]).toMatchObject({
      name: "web",
      result: DeployResult.DEPLOY_RESULT_CREATED,
      newReplicas: 2,
    });
    expect(first.deployments[0].placements.map((p) => p.node).every((n) => n === "n1" || n === "n2")).toBe(true);
    expect(api.feeder.fsm.listDeployments()).toHaveLength(0);
    const revisionBefore = api.feeder.fsm.revision;

    const applied = await api.apply([web()], first.checkIndex);
    expect(applied.outcomes).toEqual([{ name: "web", result: DeployResult.DEPLOY_RESULT_CREATED, version: 1 }]);
    expect(api.feeder.fsm.revision).toBe(revisionBefore + 1);
    const again = await api.apply([web()]);
    expect(again.outcomes[0].result).toBe(DeployResult.DEPLOY_RESULT_UNCHANGED);

    const before = await api.get("web");
    const change = await api.plan([
      web({ image: "nginx:2", update: { maxParallel: 1, healthyDeadlineMs: 0, progressDeadlineMs: 0, canary: 1 } }),
    ]);
    const plan = change.deployments[0];
    expect(plan.result).toBe(DeployResult.DEPLOY_RESULT_CONFIGURED);
    expect(plan.changes).toContainEqual({ field: "image", old: "nginx:1", new: "nginx:2" });
    expect(plan.changes).toContainEqual({ field: "update.canary", old: "0", new: "1" });
    expect(plan.rollout).toMatchObject({ newVersion: true, version: 2, replacesContainers: true, canary: 1, steps: 1 });
    expect(plan.newReplicas).toBe(1);
    expect(plan.placements).toHaveLength(1);
    expect(plan.placements[0].container).toBe("web-2");
    const after = await api.get("web");
    expect(after.deployment).toEqual(before.deployment);
    expect(after.deployment?.history).toHaveLength(1);
  });

  it("names the unplaceable and why", async () => {
    const api = await start();
    const plan = await api.plan([web({ replicas: 3, memoryMib: 10_000 })]);
    const placed = plan.deployments[0].placements.filter((p) => p.node !== "");
    expect(placed).toHaveLength(2);
    expect(plan.deployments[0].pendingReason).toContain("insufficient memory");
  });

  it("a stale check index is FAILED_PRECONDITION; health reports do not make it stale", async () => {
    const api = await start();
    await api.apply([web()]);
    const { checkIndex } = await api.plan([web({ replicas: 3 })]);
    api.feeder.place("web", [["web-0", "n1"]], Date.now());
    expect((await api.apply([web({ replicas: 3 })], checkIndex)).outcomes[0].result).toBe(
      DeployResult.DEPLOY_RESULT_SCALED,
    );
    const stale = await callError(api.apply([web({ replicas: 4 })], checkIndex));
    expect(stale.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(stale.details).toContain("run orchctl plan again");
  });

  it("refuses 10,000 deployments with RESOURCE_EXHAUSTED (and a request over the size limit)", async () => {
    const api = await start();
    const many = Array.from({ length: 10_000 }, (_, i) => deploymentSpec(`d${i}`));
    expect((await callError(api.plan(many))).code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect((await callError(api.apply(many))).code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    const huge = [web({ image: "x".repeat(2 * 1024 * 1024) })];
    // The test server has grpc-js's default 4 MiB limit; the replica's own is 1 MiB (api-server.ts).
    expect(
      (await callError(api.apply([...huge, ...huge, ...huge].map((s, i) => ({ ...s, name: `w${i}` }))))).code,
    ).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(api.feeder.fsm.listDeployments()).toHaveLength(0);
  });
});

describe("RolloutAction", () => {
  it("says so when there is no rollout, and undo to a version the history lacks is NOT_FOUND", async () => {
    const api = await start();
    await api.apply([web()]);
    const none = await callError(api.action("web", "promote"));
    expect(none.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(none.details).toContain("has no rollout in progress");
    const missing = await callError(api.action("web", "undo", 7));
    expect(missing.code).toBe(grpc.status.NOT_FOUND);
    expect((await callError(api.action("web", "restart"))).code).toBe(grpc.status.INVALID_ARGUMENT);
  });

  it("pause, resume, promote and undo are recorded in the rollout and the history", async () => {
    const api = await start();
    const policy = { maxParallel: 1, healthyDeadlineMs: 0, progressDeadlineMs: 0, canary: 1 };
    await api.apply([web({ update: policy })]);
    await api.apply([web({ image: "nginx:2", update: policy })]);
    expect((await api.action("web", "pause")).deployment?.rollout).toMatchObject({
      state: "paused",
      pausedBy: "operator",
    });
    expect((await api.action("web", "pause")).changed).toBe(false);
    expect((await api.action("web", "resume")).deployment?.rollout?.state).toBe("running");
    expect((await api.action("web", "promote")).deployment?.rollout?.promoted).toBe(true);
    const undone = await api.action("web", "undo");
    expect(undone).toMatchObject({ changed: true, version: 3 });
    const history = (await api.get("web")).deployment?.history ?? [];
    expect(history.map((v) => [v.version, v.spec?.image, v.reason, v.outcome])).toEqual([
      [1, "nginx:1", "apply", "pending"],
      [2, "nginx:2", "apply", "superseded"],
      [3, "nginx:1", "undo to v1", "pending"],
    ]);
  });
});
