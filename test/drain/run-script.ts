/**
 * The interpreter of the drain core's golden scripts (testdata/*.txt), in the shape of
 * test/raft/testdata: a command line, "----", the expected output, a blank line. The world is a
 * bare DrainView that `apply` changes the way the FSM would (src/fsm/apply-drain.ts); the core
 * itself is the real one.
 *
 *   drain node=N [deadline=MS] [ignore-singletons]
 *   deployment NAME replicas=N [max-parallel=..] [max-unavailable=..] [min-healthy=MS] [changing]
 *   replicas NAME COUNT on=NODE [healthy]   add COUNT running replicas (healthy since now)
 *   place ID=NODE... | healthy ID... | unhealthy ID... | stopped ID...
 *   time +MS                                 advance the clock
 *   decide                                   print the decision
 *   apply                                    decide, print, and apply it as the FSM would
 *   show                                     the drained node's containers and the migrations
 */
import type { DrainDecision, DrainReplica } from "../../src/drain/core/index.js";
import { decideDrain } from "../../src/drain/core/index.js";
import { runScriptBlocks } from "../golden-scripts.js";

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

interface Deployment {
  name: string;
  replicas: number;
  maxParallel: number;
  maxUnavailable: number;
  minHealthyTimeMs: number;
  converged: boolean;
  migrations: { from: string; to: string }[];
  nextOrdinal: number;
}

interface Sim {
  node: string;
  stepSeq: number;
  deadlineAtMs: number;
  ignoreSingletons: boolean;
  complete: boolean;
  nowMs: number;
  deployments: Map<string, Deployment>;
  containers: Mutable<DrainReplica>[];
}

export function runScript(text: string, name: string): string {
  let sim: Sim | null = null;
  return runScriptBlocks(text, name, (command) => {
    let result: string;
    [sim, result] = execute(sim, command);
    return result;
  });
}

function options(args: readonly string[]): Map<string, string> {
  return new Map(args.map((a) => (a.includes("=") ? (a.split("=", 2) as [string, string]) : [a, "true"])));
}

function find(sim: Sim, id: string): Mutable<DrainReplica> {
  const container = sim.containers.find((c) => c.id === id);
  if (container === undefined) throw new Error(`no container ${id}`);
  return container;
}

function execute(sim: Sim | null, line: string): [Sim, string] {
  const [verb, ...args] = line.split(/\s+/);
  const opts = options(args);
  if (verb === "drain") {
    const created: Sim = {
      node: opts.get("node") ?? "n0",
      stepSeq: 0,
      deadlineAtMs: Number(opts.get("deadline") ?? 3_600_000),
      ignoreSingletons: opts.has("ignore-singletons"),
      complete: false,
      nowMs: 0,
      deployments: new Map(),
      containers: [],
    };
    return [created, "ok"];
  }
  if (sim === null) throw new Error("start with a drain line");
  switch (verb) {
    case "deployment": {
      const name = args[0];
      sim.deployments.set(name, {
        name,
        replicas: Number(opts.get("replicas") ?? 1),
        maxParallel: Number(opts.get("max-parallel") ?? 1),
        maxUnavailable: Number(opts.get("max-unavailable") ?? 1),
        minHealthyTimeMs: Number(opts.get("min-healthy") ?? 0),
        converged: !opts.has("changing"),
        migrations: [],
        nextOrdinal: 0,
      });
      return [sim, "ok"];
    }
    case "replicas": {
      const [name, count] = args;
      for (let i = 0; i < Number(count); i++) {
        const c = add(sim, name, opts.get("on") ?? sim.node);
        c.state = "running";
        if (opts.has("healthy")) [c.health, c.healthySinceMs] = ["healthy", sim.nowMs];
      }
      return [sim, show(sim)];
    }
    case "place":
      for (const arg of args) {
        const [id, node] = arg.split("=");
        Object.assign(find(sim, id), { node, state: "running" });
      }
      return [sim, show(sim)];
    case "healthy":
    case "unhealthy":
      for (const id of args) {
        const c = find(sim, id);
        c.health = verb;
        c.healthySinceMs = verb === "healthy" ? sim.nowMs : 0;
      }
      return [sim, show(sim)];
    case "stopped":
      for (const id of args) {
        const c = find(sim, id);
        if (c.desired !== "stopped") throw new Error(`${id} was not asked to stop`);
        c.state = "stopped";
      }
      return [sim, show(sim)];
    case "time":
      sim.nowMs += Number(args[0].replace("+", ""));
      return [sim, `t=${sim.nowMs}`];
    case "decide":
      return [sim, describe(decideDrain(view(sim), sim.nowMs))];
    case "apply": {
      const decision = decideDrain(view(sim), sim.nowMs);
      applyDecision(sim, decision);
      return [sim, `${describe(decision)}\n${show(sim)}`];
    }
    case "show":
      return [sim, show(sim)];
    default:
      throw new Error(`unknown command ${verb}`);
  }
}

function add(sim: Sim, name: string, node: string): Mutable<DrainReplica> {
  const deployment = sim.deployments.get(name);
  if (deployment === undefined) throw new Error(`no deployment ${name}`);
  const ordinal = deployment.nextOrdinal++;
  const c: Mutable<DrainReplica> = {
    id: `${name}-${ordinal}`,
    deployment: name,
    ordinal,
    node,
    desired: "running",
    state: node === "" ? "pending" : "scheduled",
    health: "unknown",
    healthySinceMs: 0,
  };
  sim.containers.push(c);
  return c;
}

function holding(c: DrainReplica): boolean {
  return c.node !== "" && c.state !== "stopped";
}

function view(sim: Sim) {
  const deployments = new Map(
    [...sim.deployments.values()].map((d) => {
      const containers = sim.containers.filter((c) => c.deployment === d.name);
      const wanted = (id: string) => containers.some((c) => c.id === id && c.desired === "running");
      const migrations = d.migrations.filter((m) => wanted(m.from) && wanted(m.to));
      return [d.name, { ...d, containers, migrations }] as const;
    }),
  );
  return {
    nodeId: sim.node,
    stepSeq: sim.stepSeq,
    deadlineAtMs: sim.deadlineAtMs,
    ignoreSingletons: sim.ignoreSingletons,
    onNode: sim.containers.filter((c) => c.node === sim.node && holding(c)),
    deployments,
  };
}

function applyDecision(sim: Sim, decision: DrainDecision): void {
  if (decision.kind === "wait") return;
  sim.stepSeq += 1;
  if (decision.kind === "finish") {
    sim.complete = true;
    return;
  }
  for (const id of decision.migrateIds) {
    const from = find(sim, id);
    const to = add(sim, from.deployment, "");
    sim.deployments.get(from.deployment)?.migrations.push({ from: id, to: to.id });
  }
  for (const id of decision.stopIds) {
    const c = find(sim, id);
    const deployment = sim.deployments.get(c.deployment);
    const migrating = deployment?.migrations.some((m) => m.from === id) ?? false;
    c.desired = "stopped";
    if (decision.atDeadline && !migrating && deployment !== undefined) add(sim, deployment.name, "");
  }
}

function describe(decision: DrainDecision): string {
  switch (decision.kind) {
    case "wait":
      return `wait: ${decision.reason}`;
    case "finish":
      return `finish step=${decision.stepSeq}: ${decision.reason}`;
    case "step":
      return `step ${decision.stepSeq}${decision.atDeadline ? " at-deadline" : ""}: migrate [${decision.migrateIds.join(" ")}] stop [${decision.stopIds.join(" ")}]`;
  }
}

function show(sim: Sim): string {
  const on = sim.containers
    .filter((c) => c.node === sim.node && holding(c))
    .map((c) => `${c.id}:${c.desired === "running" ? "" : "stopping/"}${c.health}`);
  const open = (m: { from: string; to: string }) =>
    find(sim, m.from).desired === "running" && find(sim, m.to).desired === "running";
  const migrations = [...sim.deployments.values()].flatMap((d) =>
    d.migrations.filter(open).map((m) => {
      const to = find(sim, m.to);
      return `${m.from}->${m.to}(${to.node === "" ? "pending" : `${to.node}/${to.health}`})`;
    }),
  );
  const lines = [`on ${sim.node}: ${on.join(" ") || "-"}`];
  if (migrations.length > 0) lines.push(`open migrations: ${migrations.join(" ")}`);
  if (sim.complete) lines.push("drain complete");
  return lines.join("\n");
}
