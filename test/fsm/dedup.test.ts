import { describe, expect, it } from "vitest";
import { ClientSessions } from "../../src/fsm/client-sessions.js";
import { ClusterFsm, encodeCommand, fsmLimits, type ApplyResult, type FsmCommand } from "../../src/fsm/index.js";
import { body, ContainerState, t0 } from "./helpers.js";

class Log {
  readonly fsm = new ClusterFsm();
  index = 0;

  apply(command: FsmCommand): ApplyResult {
    this.index += 1;
    const result = this.fsm.apply(this.index, encodeCommand(command));
    this.fsm.checkInvariants();
    return result;
  }
}

const deployWeb: FsmCommand = { clientId: "cli-1", seq: 1, atMs: t0, body: body.deploy() };

describe("dedup table", () => {
  it("applies a retried command once and replays its result", () => {
    const log = new Log();
    const first = log.apply(deployWeb);
    expect(first).toEqual({
      ok: true,
      value: { kind: "deploy", name: "web", version: 1, created: true, result: "created" },
    });
    const events = log.fsm.events().length;
    // The retry after a failover carries the same (client, seq): same answer, no second effect.
    const retry = log.apply({ ...deployWeb, atMs: t0 + 5_000 });
    expect(retry).toEqual(first);
    expect(log.fsm.containerCount).toBe(3);
    expect(log.fsm.events().length).toBe(events);
    expect(log.fsm.clientSession("cli-1")).toMatchObject({ lastSeq: 1, lastActiveAtMs: t0 + 5_000 });
  });

  it("replays a failure too, even when the state would now allow the command", () => {
    const log = new Log();
    const scale: FsmCommand = { clientId: "cli-1", seq: 1, atMs: t0, body: body.scale("web", 5) };
    expect(log.apply(scale)).toMatchObject({ ok: false, code: "NOT_FOUND" });
    log.apply({ clientId: "cli-2", seq: 1, atMs: t0, body: body.deploy() });
    expect(log.apply(scale)).toMatchObject({ ok: false, code: "NOT_FOUND" });
    expect(log.fsm.getDeployment("web")?.deployment.spec.replicas).toBe(3);
  });

  it("refuses a sequence number older than the last applied one", () => {
    const log = new Log();
    log.apply(deployWeb);
    log.apply({ clientId: "cli-1", seq: 2, atMs: t0, body: body.scale("web", 4) });
    const stale = log.apply(deployWeb);
    expect(stale).toMatchObject({ ok: false, code: "FAILED_PRECONDITION" });
    expect(!stale.ok && stale.message).toMatch(/^stale request: client cli-1 sent seq 1 after seq 2 was applied/);
    // Gaps are fine: sequence numbers only need to grow.
    expect(log.apply({ clientId: "cli-1", seq: 7, atMs: t0, body: body.scale("web", 2) }).ok).toBe(true);
  });

  it("requires client sequence numbers from 1, and keeps no session for internal commands", () => {
    const log = new Log();
    expect(log.apply({ ...deployWeb, seq: 0 })).toMatchObject({ ok: false, code: "INVALID_ARGUMENT" });
    log.apply({ clientId: "", seq: 0, atMs: t0, body: body.deploy() });
    log.apply({ clientId: "", seq: 0, atMs: t0, body: body.scale("web", 4) });
    expect(log.fsm.dumpState().clientSessions).toEqual([]);
    expect(log.fsm.containerCount).toBe(4);
  });

  it("keeps its answers across snapshot and restore", () => {
    const log = new Log();
    const first = log.apply(deployWeb);
    const restored = new Log();
    restored.fsm.restore(log.fsm.snapshot());
    restored.index = log.index;
    expect(restored.apply(deployWeb)).toEqual(first);
    expect(restored.fsm.containerCount).toBe(3);
  });

  it(`holds at most ${fsmLimits.clientSessionsMax} sessions, forgetting the least recently active`, () => {
    const log = new Log();
    const clients = fsmLimits.clientSessionsMax;
    for (let i = 0; i < clients; i++)
      log.apply({ clientId: `c${i}`, seq: 1, atMs: t0 + i, body: body.scale("none", 1) });
    // c0 retries: it is active again, so c1 is now the least recently active.
    log.apply({ clientId: "c0", seq: 1, atMs: t0 + clients, body: body.scale("none", 1) });
    log.apply({ clientId: "newcomer", seq: 1, atMs: t0 + clients + 1, body: body.scale("none", 1) });
    const sessions = log.fsm.dumpState().clientSessions;
    expect(sessions.length).toBe(clients);
    expect(log.fsm.clientSession("c1")).toBeUndefined();
    expect(log.fsm.clientSession("c0")).toBeDefined();
    expect(log.fsm.clientSession("newcomer")).toBeDefined();
  });

  it("applies a retried node-down, restart or outcome once", () => {
    const log = new Log();
    log.apply({ clientId: "", seq: 0, atMs: t0, body: body.register("n1") });
    log.apply({ clientId: "", seq: 0, atMs: t0, body: body.register("n2", "eu-west-1") });
    log.apply({ clientId: "", seq: 0, atMs: t0, body: body.deploy({ replicas: 2 }) });
    log.apply({
      clientId: "",
      seq: 0,
      atMs: t0,
      body: body.plan("web", [
        ["web-0", "n1"],
        ["web-1", "n2"],
      ]),
    });
    log.apply({
      clientId: "",
      seq: 0,
      atMs: t0,
      body: body.status("web-1", "n2", ContainerState.CONTAINER_STATE_RUNNING),
    });
    const requests: FsmCommand[] = [
      { clientId: "ops", seq: 1, atMs: t0, body: body.nodeDown("n1", "operator") },
      { clientId: "ops", seq: 2, atMs: t0, body: body.restart("web-1", { backoffStep: 1 }) },
      { clientId: "ops", seq: 3, atMs: t0, body: body.outcome("web-3", true) },
    ];
    for (const request of requests) {
      const first = log.apply(request);
      expect(first.ok).toBe(true);
      const state = log.fsm.dumpState();
      expect(log.apply({ ...request, atMs: t0 + 1000 })).toEqual(first);
      const { revision: _a, clientSessions: _b, ...after } = log.fsm.dumpState();
      const { revision: _c, clientSessions: _d, ...before } = state;
      expect(after).toEqual(before);
    }
    expect(log.fsm.getContainer("web-1")?.restartCount).toBe(1);
    expect(log.fsm.pendingContainers("web").map((c) => c.id)).toEqual(["web-2"]);
    expect(log.fsm.outcomeBuckets()).toMatchObject([{ succeeded: 1, failed: 0 }]);
  });

  it("breaks ties in activity by client id", () => {
    const table = new ClientSessions(2);
    const result: ApplyResult = { ok: true, value: { kind: "noop" } };
    table.record("b", 1, 100, result);
    table.record("a", 1, 100, result);
    expect(table.record("c", 1, 100, result)).toBe("a");
    expect([...table.values()].map((s) => s.clientId)).toEqual(["b", "c"]);
  });
});
