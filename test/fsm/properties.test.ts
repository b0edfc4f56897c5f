import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ClusterFsm, encodeCommand, holdsCapacity, type ApplyResult, type CommandBody, type FsmCommand, type StateChange } from "../../src/fsm/index.js";
import { body, ContainerState, HealthState, NodeStatus, t0 } from "./helpers.js";

const nodeRegions: Record<string, string> = { n1: "us-east-1", n2: "us-east-1", n3: "eu-west-1", n4: "ap-southeast-1" };
const nodeIds = Object.keys(nodeRegions);
const names = ["a", "b", "c"];
const node = fc.constantFrom(...nodeIds);
const name = fc.constantFrom(...names);
const ordinal = fc.integer({ min: 0, max: 8 });
const container = fc.tuple(name, ordinal).map(([n, i]) => `${n}-${i}`);

const register = fc
  .record({ node, cpu: fc.constantFrom(2000, 4000, 8000), memory: fc.constantFrom(2048, 4096, 8192), strayRegion: fc.boolean() })
  .map(({ node: id, cpu, memory, strayRegion }) => body.register(id, strayRegion ? "ap-southeast-1" : nodeRegions[id], cpu, memory, `${id}:9101`));

const nodeStatus = fc
  .tuple(node, fc.constantFrom(NodeStatus.NODE_STATUS_READY, NodeStatus.NODE_STATUS_DOWN, NodeStatus.NODE_STATUS_DRAINING))
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
  .record({ name, version: fc.constantFrom(1, 1, 1, 2), placements: fc.array(fc.tuple(ordinal, node), { maxLength: 6 }), reason: fc.constantFrom("", "no room") })
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
    health: fc.constantFrom(HealthState.HEALTH_STATE_UNSPECIFIED, HealthState.HEALTH_STATE_HEALTHY, HealthState.HEALTH_STATE_UNHEALTHY),
  })
  .map((s) => body.status(s.container, s.node, s.state, s.health, "observed"));

const commandBody: fc.Arbitrary<CommandBody> = fc.oneof(
  { arbitrary: register, weight: 3 },
  { arbitrary: nodeStatus, weight: 1 },
  { arbitrary: deploy, weight: 3 },
  { arbitrary: scale, weight: 2 },
  { arbitrary: del, weight: 1 },
  { arbitrary: plan, weight: 2 },
  { arbitrary: status, weight: 2 },
  { arbitrary: remove, weight: 1 },
);

/**
 * Intents aimed at what exists: resolved against the state the log has built so far, so plans
 * mostly name pending containers and reports mostly come from the right node. Blind commands
 * (above) keep exercising the refusals.
 */
type Intent =
  | { readonly kind: "blind"; readonly body: CommandBody }
  | { readonly kind: "plan-pending"; readonly name: string; readonly nodes: readonly string[]; readonly staleVersion: boolean }
  | { readonly kind: "report"; readonly pick: number; readonly wrongNode: boolean; readonly state: ContainerState; readonly health: HealthState }
  | { readonly kind: "forget-stopping"; readonly pick: number };

const intent: fc.Arbitrary<Intent> = fc.oneof(
  { arbitrary: commandBody.map((b) => ({ kind: "blind", body: b }) as const), weight: 10 },
  {
    arbitrary: fc.record({ name, nodes: fc.array(node, { minLength: 1, maxLength: 8 }), staleVersion: fc.boolean() }).map((i) => ({
      kind: "plan-pending" as const,
      ...i,
      staleVersion: i.staleVersion && i.nodes.length === 1,
    })),
    weight: 5,
  },
  {
    arbitrary: fc
      .record({ pick: fc.nat(), wrongNode: fc.boolean(), state: status.map((b) => (b.kind === "container-status" ? b.containerStatus.state : 0)), health: fc.constantFrom(0, 1, 2) })
      .map((i) => ({ kind: "report" as const, ...i, wrongNode: i.wrongNode && i.pick % 5 === 0 })),
    weight: 8,
  },
  { arbitrary: fc.nat().map((pick) => ({ kind: "forget-stopping" as const, pick })), weight: 1 },
);

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
  }
}

/** Mostly internal commands; some from two clients with small, sometimes repeated, sequence numbers. */
const step = fc.record({ intent, client: fc.constantFrom("", "", "", "", "", "", "k1", "k2"), seq: fc.integer({ min: 1, max: 6 }), dtMs: fc.integer({ min: 0, max: 5000 }) });

/**
 * The log: intents resolved in order against a scratch replica, encoded, with an empty (leader
 * no-op) entry now and then.
 */
const commands = fc.array(step, { minLength: 1, maxLength: 120, size: "max" }).map((steps) => {
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
  for (const s of steps) {
    if (log.length % 17 === 5) {
      append(new Uint8Array());
      lines.push(`${log.length}: (no-op)`);
    }
    const c: FsmCommand = { clientId: s.client, seq: s.client === "" ? 0 : s.seq, atMs: t0 + s.dtMs, body: resolve(scratch, s.intent) };
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
  const { nodes, deployments, containers, events } = fsm.dumpState();
  return structuredClone({ nodes, deployments, containers, events });
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
