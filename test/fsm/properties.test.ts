import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ClusterFsm,
  encodeCommand,
  holdsCapacity,
  type ApplyResult,
  type CommandBody,
  type ContainerRecord,
  type FsmCommand,
  type StateChange,
} from "../../src/fsm/index.js";
import { body, ContainerState, HealthState, NodeStatus, t0 } from "./helpers.js";
import { RolloutOutcome } from "../../src/gen/orchestrator/v1/fsm.js";

const nodeRegions: Record<string, string> = { n1: "us-east-1", n2: "us-east-1", n3: "eu-west-1", n4: "ap-southeast-1" };
const nodeIds = Object.keys(nodeRegions);
const names = ["a", "b", "c"];
const node = fc.constantFrom(...nodeIds);
const name = fc.constantFrom(...names);
const ordinal = fc.integer({ min: 0, max: 8 });
const container = fc.tuple(name, ordinal).map(([n, i]) => `${n}-${i}`);

const register = fc
  .record({
    node,
    cpu: fc.constantFrom(2000, 4000, 8000),
    memory: fc.constantFrom(2048, 4096, 8192),
    strayRegion: fc.boolean(),
  })
  .map(({ node: id, cpu, memory, strayRegion }) =>
    body.register(id, strayRegion ? "ap-southeast-1" : nodeRegions[id], cpu, memory, `${id}:9101`),
  );

const nodeStatus = fc
  .tuple(
    node,
    fc.constantFrom(NodeStatus.NODE_STATUS_READY, NodeStatus.NODE_STATUS_DOWN, NodeStatus.NODE_STATUS_DRAINING),
  )
  .map(([id, status]) => body.nodeStatus(id, status, "test"));

const deploy = fc
  .record({
    name,
    replicas: fc.integer({ min: 0, max: 6 }),
    cpuMillicores: fc.constantFrom(500, 1000, 3000),
    memoryMib: fc.constantFrom(256, 1024, 3000),
    onePerNode: fc.boolean(),
    image: fc.constantFrom("x:1", "x:2"),
    regions: fc.subarray(["us-east-1", "eu-west-1"]),
  })
  .map((s) => body.deploy(s));

const scale = fc.tuple(name, fc.integer({ min: 0, max: 8 })).map(([n, r]) => body.scale(n, r));
const remove = container.map((id) => body.remove(id, "test"));
const del = name.map((n) => body.delete(n));

const plan = fc
  .record({
    name,
    version: fc.constantFrom(1, 1, 1, 2),
    placements: fc.array(fc.tuple(ordinal, node), { maxLength: 6 }),
    reason: fc.constantFrom("", "no room"),
  })
  .map(({ name: n, version, placements, reason }) =>
    body.plan(
      n,
      placements.map(([i, id]) => [`${n}-${i}`, id]),
      { version, pendingReason: reason },
    ),
  );

const status = fc
  .record({
    container,
    node,
    state: fc.constantFrom(
      ContainerState.CONTAINER_STATE_UNSPECIFIED,
      ContainerState.CONTAINER_STATE_STARTING,
      ContainerState.CONTAINER_STATE_RUNNING,
      ContainerState.CONTAINER_STATE_RUNNING,
      ContainerState.CONTAINER_STATE_UNHEALTHY,
      ContainerState.CONTAINER_STATE_RESTARTING,
      ContainerState.CONTAINER_STATE_STOPPED,
      ContainerState.CONTAINER_STATE_STOPPED,
      ContainerState.CONTAINER_STATE_FAILED,
      ContainerState.CONTAINER_STATE_PENDING,
    ),
    health: fc.constantFrom(
      HealthState.HEALTH_STATE_UNSPECIFIED,
      HealthState.HEALTH_STATE_HEALTHY,
      HealthState.HEALTH_STATE_UNHEALTHY,
    ),
  })
  .map((s) => body.status(s.container, s.node, s.state, s.health, "observed"));

const healthState = fc.constantFrom(
  HealthState.HEALTH_STATE_UNSPECIFIED,
  HealthState.HEALTH_STATE_HEALTHY,
  HealthState.HEALTH_STATE_HEALTHY,
  HealthState.HEALTH_STATE_UNHEALTHY,
  HealthState.HEALTH_STATE_UNHEALTHY,
  HealthState.HEALTH_STATE_UNKNOWN,
);
const verdict = fc.tuple(container, healthState).map(([id, h]) => body.health(id, h, "probe"));
const restartDecision = fc.record({
  delayMs: fc.constantFrom(0, 500, 1000, 30_000),
  backoffStep: fc.integer({ min: 0, max: 6 }),
  lateMs: fc.integer({ min: 0, max: 60_000 }),
});
const restart = fc
  .tuple(container, restartDecision)
  .map(([id, d]) =>
    body.restart(id, { delayMs: d.delayMs, notBeforeMs: t0 + d.lateMs, backoffStep: d.backoffStep, reason: "decided" }),
  );
const resetBackoff = container.map((id) => body.resetBackoff(id));
const nodeDown = node.map((id) => body.nodeDown(id, "silent"));
const outcome = fc
  .tuple(name, fc.integer({ min: 1, max: 60 }), fc.boolean())
  .map(([n, revision, ok]) => body.outcome(`${n}-${revision}`, ok, "judged"));
const version = fc.integer({ min: 1, max: 4 });
const rolloutStep = fc
  .record({
    name,
    version,
    stepSeq: fc.integer({ min: 0, max: 2 }),
    start: fc.integer({ min: 0, max: 3 }),
    stop: fc.uniqueArray(ordinal, { maxLength: 3 }),
  })
  .map((r): CommandBody => ({
    kind: "rollout-step",
    rolloutStep: {
      deployment: r.name,
      toVersion: r.version,
      stepSeq: r.stepSeq,
      startCount: r.start,
      stopContainerIds: r.stop.map((i) => `${r.name}-${i}`),
      reason: "",
    },
  }));
const rolloutEnd = fc
  .tuple(name, version, fc.constantFrom("succeeded", "failed", "revert"))
  .map(([n, v, how]): CommandBody =>
    how === "revert"
      ? { kind: "rollout-revert", rolloutRevert: { deployment: n, toVersion: v, reason: "judged" } }
      : {
          kind: "rollout-finish",
          rolloutFinish: {
            deployment: n,
            toVersion: v,
            outcome:
              how === "succeeded" ? RolloutOutcome.ROLLOUT_OUTCOME_SUCCEEDED : RolloutOutcome.ROLLOUT_OUTCOME_FAILED,
            reason: "judged",
          },
        },
  );
const rolloutControl = fc
  .tuple(
    name,
    fc.constantFrom("pause", "resume", "promote", "undo"),
    fc.constantFrom(1, 2),
    fc.integer({ min: 0, max: 3 }),
  )
  .map(([n, what, by, to]): CommandBody => {
    if (what === "promote") return { kind: "rollout-promote", rolloutPromote: { deployment: n, actor: "op" } };
    if (what === "undo") return { kind: "rollout-undo", rolloutUndo: { deployment: n, toVersion: to, actor: "op" } };
    const fields = { deployment: n, by, reason: "test", actor: "op", toVersion: 0 };
    return what === "pause"
      ? { kind: "rollout-pause", rolloutPause: fields }
      : { kind: "rollout-resume", rolloutResume: fields };
  });

const commandBody: fc.Arbitrary<CommandBody> = fc.oneof(
  { arbitrary: rolloutStep, weight: 2 },
  { arbitrary: rolloutEnd, weight: 1 },
  { arbitrary: rolloutControl, weight: 1 },
  { arbitrary: register, weight: 3 },
  { arbitrary: nodeStatus, weight: 1 },
  { arbitrary: deploy, weight: 3 },
  { arbitrary: scale, weight: 2 },
  { arbitrary: del, weight: 1 },
  { arbitrary: plan, weight: 2 },
  { arbitrary: status, weight: 2 },
  { arbitrary: remove, weight: 1 },
  { arbitrary: verdict, weight: 1 },
  { arbitrary: restart, weight: 1 },
  { arbitrary: resetBackoff, weight: 1 },
  { arbitrary: nodeDown, weight: 1 },
  { arbitrary: outcome, weight: 1 },
);

/**
 * Intents aimed at what exists: resolved against the state the log has built so far, so plans
 * mostly name pending containers and reports mostly come from the right node. Blind commands
 * (above) keep exercising the refusals.
 */
type Intent =
  | { readonly kind: "blind"; readonly body: CommandBody }
  | {
      readonly kind: "plan-pending";
      readonly name: string;
      readonly nodes: readonly string[];
      readonly staleVersion: boolean;
    }
  | {
      readonly kind: "report";
      readonly pick: number;
      readonly wrongNode: boolean;
      readonly state: ContainerState;
      readonly health: HealthState;
    }
  | { readonly kind: "forget-stopping"; readonly pick: number }
  | { readonly kind: "schedule"; readonly pick: number }
  | { readonly kind: "revive"; readonly pick: number }
  | { readonly kind: "verdict"; readonly pick: number; readonly health: HealthState }
  | {
      readonly kind: "restart";
      readonly pick: number;
      readonly delayMs: number;
      readonly backoffStep: number;
      readonly lateMs: number;
    }
  | { readonly kind: "reset"; readonly pick: number }
  | { readonly kind: "node-down"; readonly pick: number }
  | { readonly kind: "judge"; readonly pick: number; readonly succeeded: boolean };

const intent: fc.Arbitrary<Intent> = fc.oneof(
  { arbitrary: commandBody.map((b) => ({ kind: "blind", body: b }) as const), weight: 10 },
  {
    arbitrary: fc
      .record({ name, nodes: fc.array(node, { minLength: 1, maxLength: 8 }), staleVersion: fc.boolean() })
      .map((i) => ({
        kind: "plan-pending" as const,
        ...i,
        staleVersion: i.staleVersion && i.nodes.length === 1,
      })),
    weight: 5,
  },
  {
    arbitrary: fc
      .record({
        pick: fc.nat(),
        wrongNode: fc.boolean(),
        state: status.map((b) => (b.kind === "container-status" ? b.containerStatus.state : 0)),
        health: fc.constantFrom(0, 1, 2),
      })
      .map((i) => ({ kind: "report" as const, ...i, wrongNode: i.wrongNode && i.pick % 5 === 0 })),
    weight: 8,
  },
  { arbitrary: fc.nat().map((pick) => ({ kind: "forget-stopping" as const, pick })), weight: 1 },
  { arbitrary: fc.nat().map((pick) => ({ kind: "schedule" as const, pick })), weight: 5 },
  { arbitrary: fc.nat().map((pick) => ({ kind: "revive" as const, pick })), weight: 1 },
  {
    arbitrary: fc.record({ pick: fc.nat(), health: healthState }).map((i) => ({ kind: "verdict" as const, ...i })),
    weight: 3,
  },
  {
    arbitrary: fc
      .record({ pick: fc.nat(), decision: restartDecision })
      .map((i) => ({ kind: "restart" as const, pick: i.pick, ...i.decision })),
    weight: 3,
  },
  { arbitrary: fc.nat().map((pick) => ({ kind: "reset" as const, pick })), weight: 1 },
  { arbitrary: fc.nat().map((pick) => ({ kind: "node-down" as const, pick })), weight: 1 },
  {
    arbitrary: fc.record({ pick: fc.nat(), succeeded: fc.boolean() }).map((i) => ({ kind: "judge" as const, ...i })),
    weight: 2,
  },
);

/** Mostly a live replica (what the leader probes and restarts); now and then any placed one. */
function pickPlaced(fsm: ClusterFsm, pick: number): Readonly<ContainerRecord> | undefined {
  const placed = fsm.listContainers({ limit: 100_000 }).containers.filter((c) => c.node !== "");
  const live = placed.filter((c) => c.desired === "running" && holdsCapacity(c));
  const pool = live.length > 0 && pick % 4 !== 0 ? live : placed;
  return pool.length === 0 ? undefined : pool[pick % pool.length];
}

function resolve(fsm: ClusterFsm | null, i: Intent): CommandBody {
  if (i.kind === "blind") return i.body;
  if (fsm === null) return body.status("a-0", "n1", ContainerState.CONTAINER_STATE_RUNNING);
  switch (i.kind) {
    case "plan-pending": {
      const pending = fsm.pendingContainers(i.name);
      const version = fsm.getDeployment(i.name)?.deployment.version ?? 1;
      return body.plan(
        i.name,
        pending.slice(0, i.nodes.length).map((c, k) => [c.id, i.nodes[k]]),
        { version: i.staleVersion ? version + 1 : version, pendingReason: "some did not fit" },
      );
    }
    case "report": {
      const placed = fsm.listContainers({ limit: 100_000 }).containers.filter((c) => c.node !== "");
      if (placed.length === 0) return body.status("a-0", "n1", i.state, i.health);
      const c = placed[i.pick % placed.length];
      return body.status(c.id, i.wrongNode ? (c.node === "n1" ? "n2" : "n1") : c.node, i.state, i.health, "observed");
    }
    case "forget-stopping": {
      const stopping = fsm.listContainers({ limit: 100_000 }).containers.filter((c) => c.desired === "stopped");
      return body.remove(stopping.length === 0 ? "a-0" : stopping[i.pick % stopping.length].id, "node gone");
    }
    case "schedule": {
      // A tiny scheduler: pending replicas onto ready nodes with room, first fit from a rotating start.
      const views = fsm.listDeployments().filter((v) => v.status.byState.pending > 0);
      if (views.length === 0) return body.plan("a", []);
      const view = views[i.pick % views.length];
      const nodes = fsm.listNodes().filter((n) => n.status === "ready");
      const room = new Map(nodes.map((n) => [n.id, { ...n.allocated }]));
      const placements: [string, string][] = [];
      for (const c of fsm.pendingContainers(view.deployment.spec.name)) {
        for (let k = 0; k < nodes.length; k++) {
          const n = nodes[(i.pick + k) % nodes.length];
          const used = room.get(n.id)!;
          if (
            used.cpuMillicores + c.cpuMillicores > n.capacity.cpuMillicores ||
            used.memoryMib + c.memoryMib > n.capacity.memoryMib
          )
            continue;
          used.cpuMillicores += c.cpuMillicores;
          used.memoryMib += c.memoryMib;
          placements.push([c.id, n.id]);
          break;
        }
      }
      return body.plan(view.deployment.spec.name, placements, {
        version: view.deployment.version,
        pendingReason: placements.length === 0 ? "no room" : "",
      });
    }
    case "revive": {
      const down = fsm.listNodes().filter((n) => n.status !== "ready");
      if (down.length === 0)
        return body.register(
          nodeIds[i.pick % nodeIds.length],
          nodeRegions[nodeIds[i.pick % nodeIds.length]],
          8000,
          8192,
          "revived:9101",
        );
      const n = down[i.pick % down.length];
      return body.register(n.id, n.region, n.capacity.cpuMillicores, n.capacity.memoryMib, n.agentAddress);
    }
    case "verdict":
      return body.health(pickPlaced(fsm, i.pick)?.id ?? "a-0", i.health, "probe");
    case "restart":
      return body.restart(pickPlaced(fsm, i.pick)?.id ?? "a-0", {
        delayMs: i.delayMs,
        notBeforeMs: t0 + i.lateMs,
        backoffStep: i.backoffStep,
        reason: "decided",
      });
    case "reset": {
      const backedOff = fsm.listContainers({ limit: 100_000 }).containers.filter((c) => c.backoffStep > 0);
      return body.resetBackoff(backedOff.length === 0 ? "a-0" : backedOff[i.pick % backedOff.length].id);
    }
    case "node-down": {
      // Mostly nodes that hold something, so the replacements get exercised.
      const busy = fsm.listNodes().filter((n) => fsm.nodeContainerCount(n.id) > 0);
      const pool = busy.length > 0 ? busy : fsm.listNodes();
      return body.nodeDown(pool.length === 0 ? "n1" : pool[i.pick % pool.length].id, "no heartbeat");
    }
    case "judge": {
      const open = fsm.openOperations();
      return body.outcome(open.length === 0 ? "a-1" : open[i.pick % open.length].id, i.succeeded, "judged");
    }
  }
}

/** Mostly internal commands; some from two clients with small, sometimes repeated, sequence numbers. */
const step = fc.record({
  intent,
  client: fc.constantFrom("", "", "", "", "", "", "k1", "k2"),
  seq: fc.integer({ min: 1, max: 6 }),
  // Mostly close together; now and then days apart (outcome buckets expire after 30 days).
  dtMs: fc.oneof(
    { arbitrary: fc.integer({ min: 0, max: 5000 }), weight: 8 },
    { arbitrary: fc.integer({ min: 0, max: 40 * 86_400_000 }), weight: 1 },
  ),
});

/**
 * The log: intents resolved in order against a scratch replica, encoded, with an empty (leader
 * no-op) entry now and then.
 */
/**
 * A warm start (every node registered, two deployments) gives the health commands live
 * replicas to act on; shrinking drops it when a failure does not need it.
 */
const warmStart: readonly CommandBody[] = [
  ...nodeIds.map((id) => body.register(id, nodeRegions[id], 8000, 8192, `${id}:9101`)),
  body.deploy({ name: "a", replicas: 3, cpuMillicores: 1000, memoryMib: 1024 }),
  body.deploy({ name: "b", replicas: 4, cpuMillicores: 500, memoryMib: 256, onePerNode: true }),
];

const commands = fc
  .tuple(fc.boolean(), fc.array(step, { minLength: 1, maxLength: 120, size: "max" }))
  .map(([warm, steps]) => {
    let scratch: ClusterFsm | null = new ClusterFsm();
    const log: Uint8Array[] = [];
    const append = (data: Uint8Array): void => {
      log.push(data);
      try {
        scratch?.apply(log.length, data);
      } catch {
        // A bug: leave it to the property to hit (and shrink); resolve the rest blindly.
        scratch = null;
      }
    };
    const lines: string[] = [];
    for (const b of warm ? warmStart : []) {
      const c: FsmCommand = { clientId: "", seq: 0, atMs: t0, body: b };
      append(encodeCommand(c));
      lines.push(`${log.length}: ${JSON.stringify(c)}`);
    }
    for (const s of steps) {
      if (log.length % 17 === 5) {
        append(new Uint8Array());
        lines.push(`${log.length}: (no-op)`);
      }
      const c: FsmCommand = {
        clientId: s.client,
        seq: s.client === "" ? 0 : s.seq,
        atMs: t0 + s.dtMs,
        body: resolve(scratch, s.intent),
      };
      append(encodeCommand(c));
      lines.push(`${log.length}: ${JSON.stringify(c)}`);
    }
    // A failing case prints as the commands it encodes, one per line.
    return Object.assign(log, { [fc.toStringMethod]: () => `\n${lines.join("\n")}` });
  });

/** The capacity rule, checked through the public read API rather than checkInvariants. */
function checkCapacity(fsm: ClusterFsm): void {
  for (const n of fsm.listNodes()) {
    const assigned = fsm.listContainers({ node: n.id, limit: 100_000 }).containers;
    expect(assigned.every(holdsCapacity)).toBe(true);
    expect(n.allocated.cpuMillicores).toBe(assigned.reduce((sum, c) => sum + c.cpuMillicores, 0));
    expect(n.allocated.memoryMib).toBe(assigned.reduce((sum, c) => sum + c.memoryMib, 0));
    expect(n.allocated.cpuMillicores).toBeLessThanOrEqual(n.capacity.cpuMillicores);
    expect(n.allocated.memoryMib).toBeLessThanOrEqual(n.capacity.memoryMib);
  }
}

function replicated(fsm: ClusterFsm): unknown {
  const { nodes, deployments, containers, events, openOperations, outcomeBuckets } = fsm.dumpState();
  return structuredClone({ nodes, deployments, containers, events, openOperations, outcomeBuckets });
}

describe("FSM properties", () => {
  it("never over-commits a node, keeps every invariant, and fails without side effects", () => {
    fc.assert(
      fc.property(commands, (list) => {
        const fsm = new ClusterFsm();
        list.forEach((data, i) => {
          const before = replicated(fsm);
          const result = fsm.apply(i + 1, data);
          fsm.checkInvariants();
          checkCapacity(fsm);
          if (!result.ok) expect(replicated(fsm)).toEqual(before);
        });
      }),
      { numRuns: 200 },
    );
  });

  it("is deterministic: replicas applying the same log end identical", () => {
    fc.assert(
      fc.property(commands, (list) => {
        const log = list;
        const a = new ClusterFsm();
        const b = new ClusterFsm();
        const resultsA = log.map((data, i) => a.apply(i + 1, data));
        const resultsB = log.map((data, i) => b.apply(i + 1, data));
        expect(resultsB).toEqual(resultsA);
        expect(b.dumpState()).toEqual(a.dumpState());
        expect(b.snapshot()).toEqual(a.snapshot());
      }),
      { numRuns: 200 },
    );
  });

  it("snapshot, restore and continue ends where never snapshotting ends", () => {
    fc.assert(
      fc.property(commands, fc.nat(), (list, cut) => {
        const log = list;
        const at = cut % (log.length + 1);
        const straight = new ClusterFsm();
        const straightResults: ApplyResult[] = [];
        const straightChanges: StateChange[] = [];
        log.forEach((data, i) => {
          if (i === at) straight.onChange((change) => straightChanges.push(change));
          straightResults.push(straight.apply(i + 1, data));
        });

        const before = new ClusterFsm();
        log.slice(0, at).forEach((data, i) => before.apply(i + 1, data));
        const restored = new ClusterFsm();
        const bytes = before.snapshot();
        restored.restore(bytes);
        expect(restored.dumpState()).toEqual(before.dumpState());
        expect(restored.snapshot()).toEqual(bytes);
        restored.checkInvariants();
        const restoredChanges: StateChange[] = [];
        restored.onChange((change) => restoredChanges.push(change));
        const restoredResults = log.slice(at).map((data, i) => restored.apply(at + i + 1, data));

        expect(restoredResults).toEqual(straightResults.slice(at));
        expect(restoredChanges).toEqual(straightChanges);
        expect(restored.dumpState()).toEqual(straight.dumpState());
        expect(restored.snapshot()).toEqual(straight.snapshot());
      }),
      { numRuns: 200 },
    );
  });

  it("declares a node down idempotently, leaving it empty and every replica count intact", () => {
    fc.assert(
      fc.property(commands, node, (list, id) => {
        const fsm = new ClusterFsm();
        list.forEach((data, i) => fsm.apply(i + 1, data));
        const wanted = new Map(fsm.listDeployments().map((v) => [v.deployment.spec.name, v.deployment.spec.replicas]));
        const down = encodeCommand({ clientId: "", seq: 0, atMs: t0, body: body.nodeDown(id, "silent") });
        const first = fsm.apply(list.length + 1, down);
        fsm.checkInvariants();
        if (!first.ok) {
          expect(first.code).toBe("NOT_FOUND");
          return;
        }
        expect(fsm.getNode(id)).toMatchObject({ status: "down", allocated: { cpuMillicores: 0, memoryMib: 0 } });
        expect(fsm.nodeContainerCount(id)).toBe(0);
        for (const v of fsm.listDeployments())
          expect(v.deployment.spec.replicas).toBe(wanted.get(v.deployment.spec.name));
        const after = replicated(fsm);
        expect(fsm.apply(list.length + 2, down)).toEqual({
          ok: true,
          value: { kind: "node-down", nodeId: id, changed: false, lost: 0, rescheduled: 0 },
        });
        expect(replicated(fsm)).toEqual(after);
      }),
      { numRuns: 100 },
    );
  });

  it("closes an operation once: a repeated outcome changes nothing", () => {
    fc.assert(
      fc.property(commands, fc.nat(), fc.boolean(), (list, pick, succeeded) => {
        const fsm = new ClusterFsm();
        list.forEach((data, i) => fsm.apply(i + 1, data));
        // A rollout's operation is closed by the rollout's end, not by an outcome.
        const open = fsm.openOperations().filter((op) => op.kind !== "rollout");
        if (open.length === 0) return;
        const operation = open[pick % open.length];
        const outcome = encodeCommand({
          clientId: "",
          seq: 0,
          atMs: t0 + 1000,
          body: body.outcome(operation.id, succeeded),
        });
        expect(fsm.apply(list.length + 1, outcome)).toMatchObject({ ok: true, value: { recorded: true } });
        fsm.checkInvariants();
        expect(fsm.getDeployment(operation.deployment)?.lastOutcome).toMatchObject({
          operationId: operation.id,
          succeeded,
        });
        expect(fsm.openOperation(operation.deployment)).toBeUndefined();
        const after = replicated(fsm);
        expect(fsm.apply(list.length + 2, outcome)).toMatchObject({ ok: true, value: { recorded: false } });
        expect(replicated(fsm)).toEqual(after);
      }),
      { numRuns: 100 },
    );
  });

  it("gives a retried client command the first answer without applying it again", () => {
    fc.assert(
      fc.property(commands, commandBody, (list, b) => {
        const fsm = new ClusterFsm();
        const log = list;
        log.forEach((data, i) => fsm.apply(i + 1, data));
        const request = encodeCommand({ clientId: "k3", seq: 1, atMs: t0, body: b });
        const first = fsm.apply(log.length + 1, request);
        const after = replicated(fsm);
        const retry = fsm.apply(log.length + 2, request);
        expect(retry).toEqual(first);
        expect(replicated(fsm)).toEqual(after);
      }),
      { numRuns: 200 },
    );
  });
});
