import { expect } from "vitest";
import type { DeploymentSpec as PbDeploymentSpec } from "../../src/gen/orchestrator/v1/types.js";
import { ContainerState, NodeStatus, Strategy } from "../../src/gen/orchestrator/v1/types.js";
import { HealthState } from "../../src/gen/orchestrator/v1/fsm.js";
import {
  ClusterFsm,
  encodeCommand,
  type ApplyResult,
  type ApplyValue,
  type CommandBody,
  type FsmFailure,
} from "../../src/fsm/index.js";

export const t0 = 1_700_000_000_000;

export function spec(overrides: Partial<PbDeploymentSpec> = {}): PbDeploymentSpec {
  return {
    name: "web",
    image: "nginx:1",
    replicas: 3,
    cpuMillicores: 500,
    memoryMib: 256,
    strategy: Strategy.STRATEGY_UNSPECIFIED,
    regions: [],
    clientRegions: [],
    onePerNode: false,
    healthCheck: undefined,
    restartPolicy: undefined,
    progressDeadlineMs: 0,
    ...overrides,
  };
}

export const body = {
  deploy: (s: Partial<PbDeploymentSpec> = {}): CommandBody => ({ kind: "deploy", deploy: { spec: spec(s) } }),
  scale: (name: string, replicas: number): CommandBody => ({ kind: "scale", scale: { name, replicas } }),
  delete: (name: string): CommandBody => ({ kind: "delete", delete: { name } }),
  register: (
    nodeId: string,
    region = "us-east-1",
    cpuMillicores = 4000,
    memoryMib = 8192,
    agentAddress = "127.0.0.1:9101",
  ): CommandBody => ({
    kind: "register-node",
    registerNode: { nodeId, region, capacity: { cpuMillicores, memoryMib }, agentAddress },
  }),
  nodeStatus: (nodeId: string, status: NodeStatus, reason = ""): CommandBody => ({
    kind: "set-node-status",
    setNodeStatus: { nodeId, status, reason },
  }),
  plan: (
    deployment: string,
    placements: [string, string][],
    opts: { version?: number; planId?: string; pendingReason?: string } = {},
  ): CommandBody => ({
    kind: "apply-plan",
    applyPlan: {
      planId: opts.planId ?? "p1",
      seed: 42,
      deployment,
      deploymentVersion: opts.version ?? 1,
      placements: placements.map(([containerId, nodeId]) => ({ containerId, nodeId })),
      pendingReason: opts.pendingReason ?? "",
    },
  }),
  status: (
    containerId: string,
    nodeId: string,
    state: ContainerState,
    health = HealthState.HEALTH_STATE_UNSPECIFIED,
    message = "",
  ): CommandBody => ({
    kind: "container-status",
    containerStatus: { containerId, nodeId, state, health, message },
  }),
  remove: (containerId: string, reason = ""): CommandBody => ({
    kind: "remove-container",
    removeContainer: { containerId, reason },
  }),
  health: (containerId: string, health: HealthState, reason = ""): CommandBody => ({
    kind: "container-health",
    containerHealth: { containerId, health, reason },
  }),
  restart: (
    containerId: string,
    opts: { delayMs?: number; notBeforeMs?: number; backoffStep?: number; reason?: string } = {},
  ): CommandBody => ({
    kind: "restart-container",
    restartContainer: {
      containerId,
      delayMs: opts.delayMs ?? 500,
      notBeforeMs: opts.notBeforeMs ?? t0 + 60_000,
      backoffStep: opts.backoffStep ?? 1,
      reason: opts.reason ?? "",
    },
  }),
  resetBackoff: (containerId: string): CommandBody => ({ kind: "reset-backoff", resetBackoff: { containerId } }),
  nodeDown: (nodeId: string, reason = ""): CommandBody => ({ kind: "node-down", nodeDown: { nodeId, reason } }),
  /** reason null: ready again. */
  readiness: (nodeId: string, reason: string | null): CommandBody => ({
    kind: "node-readiness",
    nodeReadiness: { nodeId, ready: reason === null, reason: reason ?? "" },
  }),
  outcome: (operationId: string, succeeded: boolean, reason = ""): CommandBody => ({
    kind: "operation-outcome",
    operationOutcome: { operationId, succeeded, reason },
  }),
};

/** An FSM fed with consecutive indexes, checking every invariant after each entry. */
export class Harness {
  readonly fsm = new ClusterFsm();
  index = 0;
  atMs = t0;

  run(b: CommandBody, client?: { clientId: string; seq: number; actor?: string }): ApplyResult {
    this.index += 1;
    this.atMs += 1000;
    const data = encodeCommand({
      clientId: client?.clientId ?? "",
      seq: client?.seq ?? 0,
      atMs: this.atMs,
      actor: client?.actor ?? "",
      body: b,
    });
    const result = this.fsm.apply(this.index, data);
    this.fsm.checkInvariants();
    return result;
  }

  ok(b: CommandBody, client?: { clientId: string; seq: number; actor?: string }): ApplyValue {
    const result = this.run(b, client);
    if (!result.ok) throw new Error(`expected success, got ${result.code}: ${result.message}`);
    return result.value;
  }

  fail(b: CommandBody, client?: { clientId: string; seq: number; actor?: string }): FsmFailure {
    const result = this.run(b, client);
    expect(result.ok, JSON.stringify(result)).toBe(false);
    return result as FsmFailure;
  }
}

export { ContainerState, HealthState, NodeStatus, Strategy };

/** Byte equality without a per-element deep comparison (fast for large snapshots). */
export function expectSameBytes(actual: Uint8Array, expected: Uint8Array): void {
  expect(actual.byteLength).toBe(expected.byteLength);
  expect(Buffer.compare(actual, expected)).toBe(0);
}
