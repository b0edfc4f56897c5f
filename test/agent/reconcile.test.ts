import { describe, expect, it } from "vitest";
import { worthReporting } from "../../src/agent/core/container-lifecycle.js";
import {
  reconcile,
  type AssignedContainer,
  type LocalInstance,
  type ReconcileInput,
  type ReportMemo,
} from "../../src/agent/core/reconcile.js";

const assigned = (containerId: string, fields: Partial<AssignedContainer> = {}): AssignedContainer => ({
  containerId,
  deployment: containerId.split("-")[0],
  desired: "running",
  recorded: "scheduled",
  restartCount: 0,
  nextRestartAtMs: 0,
  healthCheckPath: "/healthz",
  image: "img:1",
  ...fields,
});

const local = (containerId: string, fields: Partial<LocalInstance> = {}): LocalInstance => ({
  containerId,
  nodeId: "n1",
  generation: 0,
  state: "running",
  ...fields,
});

function input(
  fields: Partial<ReconcileInput> & { assignments?: AssignedContainer[]; memos?: Record<string, ReportMemo> },
): ReconcileInput {
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
    const actions = reconcile(
      input({ assignments: [assigned("a-0"), assigned("a-1")], local: [local("a-1", { state: "starting" })], memos }),
    );
    expect(actions).toEqual([
      { kind: "start", nodeId: "n1", assignment: assigned("a-0"), generation: 0, notBeforeMs: 0, replacing: false },
    ]);
    // Done: the same snapshot again asks for nothing.
    memos["a-0"] = { state: "starting", generation: 0, ackedRevision: null };
    const again = reconcile(
      input({
        assignments: [assigned("a-0"), assigned("a-1")],
        local: [local("a-0", { state: "starting" }), local("a-1", { state: "starting" })],
        memos,
      }),
    );
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
      input({
        assignments: [
          assigned("a-0", { desired: "stopped", recorded: "running" }),
          assigned("a-1", { desired: "stopped", recorded: "running" }),
        ],
        local: [local("a-0")],
      }),
    );
    expect(actions).toEqual([
      { kind: "stop", containerId: "a-0", forget: false, reason: "the cluster wants it stopped" },
      { kind: "report", containerId: "a-1", nodeId: "n1", state: "stopped", generation: 0 },
    ]);
  });

  it("restarts when the cluster's restart count passes the instance's generation, not before its not-before time", () => {
    const a = assigned("a-0", { recorded: "restarting", restartCount: 2, nextRestartAtMs: 5_000 });
    // A live instance of the earlier count (a restart of a running or unhealthy container)...
    expect(reconcile(input({ assignments: [a], local: [local("a-0", { generation: 1 })] }))).toEqual([
      { kind: "start", nodeId: "n1", assignment: a, generation: 2, notBeforeMs: 5_000, replacing: true },
    ]);
    // ...or the crashed one the agent kept down: replaced the same way.
    expect(reconcile(input({ assignments: [a], local: [local("a-0", { generation: 1, state: "failed" })] }))).toEqual([
      { kind: "start", nodeId: "n1", assignment: a, generation: 2, notBeforeMs: 5_000, replacing: true },
    ]);
    // An agent that restarted meanwhile has nothing local: it starts the restart too.
    expect(reconcile(input({ assignments: [a] }))).toEqual([
      { kind: "start", nodeId: "n1", assignment: a, generation: 2, notBeforeMs: 5_000, replacing: false },
    ]);
    // Once the fresh instance waits for its time, nothing more is done or reported.
    expect(reconcile(input({ assignments: [a], local: [local("a-0", { generation: 2, state: "waiting" })] }))).toEqual(
      [],
    );
    // A crash of the fresh instance is reported over restarting, and not restarted by the agent.
    expect(reconcile(input({ assignments: [a], local: [local("a-0", { generation: 2, state: "failed" })] }))).toEqual([
      { kind: "report", containerId: "a-0", nodeId: "n1", state: "failed", generation: 2 },
    ]);
  });

  it("keeps a crashed container down until the leader restarts it", () => {
    const failed = assigned("a-0", { recorded: "failed", restartCount: 3 });
    // The agent saw it crash: the instance stays, down, and nothing is (re-)reported.
    expect(
      reconcile(input({ assignments: [failed], local: [local("a-0", { generation: 3, state: "failed" })] })),
    ).toEqual([]);
    // An agent that (re)starts and finds it failed does not start it.
    expect(reconcile(input({ assignments: [failed] }))).toEqual([]);
    // An instance that still runs, or waits to, is halted without a report (the FSM would refuse one).
    for (const state of ["running", "starting", "waiting"] as const) {
      expect(reconcile(input({ assignments: [failed], local: [local("a-0", { generation: 3, state })] }))).toEqual([
        {
          kind: "halt",
          containerId: "a-0",
          reason: "the cluster records it failed; it stays down until the leader restarts it",
        },
      ]);
    }
    expect(
      reconcile(input({ assignments: [failed], local: [local("a-0", { generation: 3, state: "stopped" })] })),
    ).toEqual([]);
    // A crash the cluster has not recorded yet (the report was lost) is reported, not restarted.
    const running = assigned("a-0", { recorded: "running", restartCount: 3 });
    expect(
      reconcile(input({ assignments: [running], local: [local("a-0", { generation: 3, state: "failed" })] })),
    ).toEqual([{ kind: "report", containerId: "a-0", nodeId: "n1", state: "failed", generation: 3 }]);
    // The leader's restart (restarting, count 4) is what brings it back.
    const restarted = assigned("a-0", { recorded: "restarting", restartCount: 4, nextRestartAtMs: 9_000 });
    expect(
      reconcile(input({ assignments: [restarted], local: [local("a-0", { generation: 3, state: "failed" })] })),
    ).toEqual([
      { kind: "start", nodeId: "n1", assignment: restarted, generation: 4, notBeforeMs: 9_000, replacing: true },
    ]);
  });

  it("stops a waiting restart the cluster now wants stopped, and reports it", () => {
    const a = assigned("a-0", { desired: "stopped", recorded: "restarting", restartCount: 1 });
    expect(reconcile(input({ assignments: [a], local: [local("a-0", { generation: 1, state: "waiting" })] }))).toEqual([
      { kind: "stop", containerId: "a-0", forget: false, reason: "the cluster wants it stopped" },
    ]);
  });

  it("re-reports a state the cluster missed, but not one on its way or already covered", () => {
    const a = assigned("a-0", { recorded: "scheduled" });
    const running = [local("a-0", { state: "running" })];
    expect(reconcile(input({ assignments: [a], local: running }))).toEqual([
      { kind: "report", containerId: "a-0", nodeId: "n1", state: "running", generation: 0 },
    ]);
    expect(
      reconcile(
        input({
          assignments: [a],
          local: running,
          memos: { "a-0": { state: "running", generation: 0, ackedRevision: null } },
        }),
      ),
    ).toEqual([]);
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
    expect(worthReporting("failed", "running")).toBe(false);
    expect(worthReporting("failed", "starting")).toBe(false);
    expect(worthReporting("restarting", "waiting")).toBe(false);
    expect(worthReporting("restarting", "starting")).toBe(true);
  });
});
