import { describe, expect, it } from "vitest";
import { worthReporting } from "../../src/agent/core/container-lifecycle.js";
import { reconcile, type AssignedContainer, type LocalInstance, type ReconcileInput, type ReportMemo } from "../../src/agent/core/reconcile.js";

const assigned = (containerId: string, fields: Partial<AssignedContainer> = {}): AssignedContainer => ({
  containerId,
  deployment: containerId.split("-")[0],
  desired: "running",
  recorded: "scheduled",
  restartCount: 0,
  healthCheckPath: "/healthz",
  ...fields,
});

const local = (containerId: string, fields: Partial<LocalInstance> = {}): LocalInstance => ({ containerId, nodeId: "n1", generation: 0, state: "running", ...fields });

function input(fields: Partial<ReconcileInput> & { assignments?: AssignedContainer[]; memos?: Record<string, ReportMemo> }): ReconcileInput {
  const memos = fields.memos ?? {};
  return {
    revision: fields.revision ?? 10,
    nodes: fields.nodes ?? [{ nodeId: "n1", alive: true, assignments: fields.assignments ?? [] }],
    local: fields.local ?? [],
    lastReport: (id) => memos[id],
  };
}

describe("reconcile", () => {
  it("starts what is assigned and not running, once", () => {
    // a-1 is starting and its report is on its way (the runtime reports every change it makes).
    const memos: Record<string, ReportMemo> = { "a-1": { state: "starting", generation: 0, ackedRevision: null } };
    const actions = reconcile(input({ assignments: [assigned("a-0"), assigned("a-1")], local: [local("a-1", { state: "starting" })], memos }));
    expect(actions).toEqual([{ kind: "start", nodeId: "n1", assignment: assigned("a-0"), generation: 0, replacing: false }]);
    // Done: the same snapshot again asks for nothing.
    memos["a-0"] = { state: "starting", generation: 0, ackedRevision: null };
    const again = reconcile(input({ assignments: [assigned("a-0"), assigned("a-1")], local: [local("a-0", { state: "starting" }), local("a-1", { state: "starting" })], memos }));
    expect(again).toEqual([]);
    // Without any report on record, a starting instance is reported.
    expect(reconcile(input({ assignments: [assigned("a-1")], local: [local("a-1", { state: "starting" })] }))).toEqual([
      { kind: "report", containerId: "a-1", nodeId: "n1", state: "starting", generation: 0 },
    ]);
  });

  it("stops and forgets what is no longer assigned; forgets finished instances silently", () => {
    const actions = reconcile(input({ assignments: [], local: [local("a-0"), local("b-0", { state: "failed" })] }));
    expect(actions).toEqual([
      { kind: "stop", containerId: "a-0", forget: true, reason: "no longer assigned to this node" },
      { kind: "forget", containerId: "b-0" },
    ]);
  });

  it("stops what the cluster wants stopped and confirms a stop it cannot see running", () => {
    const actions = reconcile(
      input({ assignments: [assigned("a-0", { desired: "stopped", recorded: "running" }), assigned("a-1", { desired: "stopped", recorded: "running" })], local: [local("a-0")] }),
    );
    expect(actions).toEqual([
      { kind: "stop", containerId: "a-0", forget: false, reason: "the cluster wants it stopped" },
      { kind: "report", containerId: "a-1", nodeId: "n1", state: "stopped", generation: 0 },
    ]);
  });

  it("restarts when the cluster's restart count passes the instance's generation", () => {
    const a = assigned("a-0", { recorded: "restarting", restartCount: 2 });
    expect(reconcile(input({ assignments: [a], local: [local("a-0", { generation: 1 })] }))).toEqual([
      { kind: "start", nodeId: "n1", assignment: a, generation: 2, replacing: true },
    ]);
  });

  it("re-reports a state the cluster missed, but not one on its way or already covered", () => {
    const a = assigned("a-0", { recorded: "scheduled" });
    const running = [local("a-0", { state: "running" })];
    expect(reconcile(input({ assignments: [a], local: running }))).toEqual([{ kind: "report", containerId: "a-0", nodeId: "n1", state: "running", generation: 0 }]);
    expect(reconcile(input({ assignments: [a], local: running, memos: { "a-0": { state: "running", generation: 0, ackedRevision: null } } }))).toEqual([]);
    // Acknowledged at revision 12: a snapshot at 10 predates it, one at 12 should show it.
    const acked = { "a-0": { state: "running", generation: 0, ackedRevision: 12 } } as const;
    expect(reconcile(input({ revision: 10, assignments: [a], local: running, memos: acked }))).toEqual([]);
    expect(reconcile(input({ revision: 12, assignments: [a], local: running, memos: acked }))).toHaveLength(1);
  });

  it("leaves a killed node's containers and a node without a snapshot alone", () => {
    const nodes = [
      { nodeId: "n1", alive: false, assignments: [] },
      { nodeId: "n2", alive: true, assignments: undefined },
    ];
    expect(reconcile(input({ nodes, local: [local("a-0"), local("b-0", { nodeId: "n2" })] }))).toEqual([]);
  });

  it("never reports over the health controller's verdicts", () => {
    expect(worthReporting("unhealthy", "running")).toBe(false);
    expect(worthReporting("running", "starting")).toBe(false);
    expect(worthReporting("running", "failed")).toBe(true);
    expect(worthReporting("lost", "stopped")).toBe(false);
  });
});
