/**
 * The interpreter of the rollout core's golden scripts (testdata/*.txt), in the shape of
 * test/raft/testdata: a command line, "----", the expected output, a blank line. The world here
 * is a bare RolloutView that `apply` changes the way the FSM would (see src/fsm/apply-rollout.ts);
 * the core itself is the real one.
 *
 *   rollout replicas=N to=V [stable=V] [max-parallel=..] [max-surge=..] [min-healthy=ms]
 *           [healthy-deadline=ms] [progress-deadline=ms] [canary=N] [auto-revert=false] [revert]
 *   replicas VERSION COUNT [healthy]   add COUNT placed replicas of VERSION (healthy since now)
 *   place ID... | run ID... | healthy ID... | unhealthy ID...
 *   blocked true|false                  the scheduler has no room for pending replicas
 *   time +MS                            advance the clock
 *   decide                              print the decision
 *   apply                               decide, print, and apply it as the FSM would
 *   promote | pause | resume
 *   show                                the replicas wanted running
 */
import type { ReplicaView, RolloutDecision, RolloutView } from "../../src/rollout/core/index.js";
import { decideRollout } from "../../src/rollout/core/index.js";
import { runScriptBlocks } from "../golden-scripts.js";

type Mutable<T> = { -readonly [K in keyof T]: T[K] extends object ? Mutable<T[K]> : T[K] };

interface Sim {
  view: Mutable<RolloutView>;
  replicas: Mutable<ReplicaView>[];
  nowMs: number;
  nextOrdinal: number;
}

export function runScript(text: string, name: string): string {
  let sim: Sim | null = null;
  return runScriptBlocks(text, name, (command) => {
    let result: string;
    [sim, result] = execute(sim, command);
    return result;
  });
}

function execute(sim: Sim | null, line: string): [Sim, string] {
  const [verb, ...args] = line.split(/\s+/);
  if (verb === "rollout") return create(args);
  if (sim === null) throw new Error("start with a rollout line");
  switch (verb) {
    case "replicas": {
      const [version, count, healthy] = args;
      for (let i = 0; i < Number(count); i++) {
        const replica = add(sim, Number(version));
        replica.placedAtMs = sim.nowMs;
        replica.state = "running";
        if (healthy === "healthy") setHealth(sim, replica, "healthy");
      }
      return [sim, show(sim)];
    }
    case "place":
    case "run":
    case "healthy":
    case "unhealthy":
      for (const id of args) {
        const replica = sim.replicas.find((r) => r.id === id);
        if (replica === undefined) throw new Error(`no replica ${id}`);
        if (verb === "place") [replica.placedAtMs, replica.state] = [sim.nowMs, "scheduled"];
        else if (verb === "run") replica.state = "running";
        else setHealth(sim, replica, verb);
      }
      return [sim, show(sim)];
    case "blocked":
      sim.view.placementBlocked = args[0] === "true";
      return [sim, "ok"];
    case "time":
      sim.nowMs += Number(args[0]);
      return [sim, `now=${sim.nowMs}`];
    case "decide":
      return [sim, describe(decide(sim))];
    case "apply": {
      const decision = decide(sim);
      applyDecision(sim, decision);
      return [sim, `${describe(decision)}\n${show(sim)}`];
    }
    case "promote":
      sim.view.rollout.promoted = true;
      if (sim.view.rollout.state === "awaiting-promotion") sim.view.rollout.state = "running";
      sim.view.rollout.lastProgressAtMs = sim.nowMs;
      return [sim, `state=${sim.view.rollout.state}`];
    case "pause":
      [sim.view.rollout.state, sim.view.rollout.pausedBy] = ["paused", args[0] ?? "operator"];
      return [sim, "state=paused"];
    case "resume":
      [sim.view.rollout.state, sim.view.rollout.pausedBy] = ["running", ""];
      sim.view.rollout.lastProgressAtMs = sim.nowMs;
      return [sim, "state=running"];
    case "show":
      return [sim, show(sim)];
    default:
      throw new Error(`unknown command ${verb}`);
  }
}

function create(args: string[]): [Sim, string] {
  const opts = new Map(args.map((a) => (a.includes("=") ? (a.split("=") as [string, string]) : [a, "true"])));
  const num = (key: string, fallback: number) => (opts.has(key) ? Number(opts.get(key)) : fallback);
  const replicas: Mutable<ReplicaView>[] = [];
  const canary = num("canary", 0);
  const isRevert = opts.get("revert") === "true";
  const view: Mutable<RolloutView> = {
    deployment: "web",
    replicas: num("replicas", 3),
    policy: {
      maxParallel: num("max-parallel", 1),
      maxSurge: num("max-surge", 1),
      minHealthyTimeMs: num("min-healthy", 5_000),
      healthyDeadlineMs: num("healthy-deadline", 60_000),
      progressDeadlineMs: num("progress-deadline", 600_000),
      canary,
      autoRevert: opts.get("auto-revert") !== "false",
    },
    rollout: {
      toVersion: num("to", 2),
      state: "running",
      isRevert,
      promoted: canary === 0 || isRevert,
      stepSeq: 0,
      lastProgressAtMs: 0,
      pausedBy: "",
    },
    stableVersion: num("stable", 1),
    placementBlocked: false,
    containers: replicas,
  };
  return [{ view, replicas, nowMs: 0, nextOrdinal: 0 }, "ok"];
}

function add(sim: Sim, version: number): Mutable<ReplicaView> {
  const ordinal = sim.nextOrdinal++;
  const replica: Mutable<ReplicaView> = {
    id: `web-${ordinal}`,
    ordinal,
    version,
    desired: "running",
    state: "pending",
    health: "unknown",
    healthySinceMs: 0,
    placedAtMs: 0,
  };
  sim.replicas.push(replica);
  return replica;
}

function setHealth(sim: Sim, replica: Mutable<ReplicaView>, health: "healthy" | "unhealthy"): void {
  if (replica.health === health) return;
  replica.health = health;
  replica.healthySinceMs = health === "healthy" ? sim.nowMs : 0;
  replica.state = health === "healthy" ? "running" : "unhealthy";
}

function decide(sim: Sim): RolloutDecision {
  return decideRollout(sim.view, sim.nowMs);
}

/** As the FSM applies the matching command (src/fsm/apply-rollout.ts). */
function applyDecision(sim: Sim, decision: RolloutDecision): void {
  const rollout = sim.view.rollout;
  switch (decision.kind) {
    case "step": {
      for (const id of decision.stopIds) {
        const index = sim.replicas.findIndex((r) => r.id === id);
        sim.replicas.splice(index, 1);
      }
      for (let i = 0; i < decision.startCount; i++) add(sim, rollout.toVersion);
      rollout.stepSeq += 1;
      rollout.lastProgressAtMs = sim.nowMs;
      const current = sim.replicas.filter((r) => r.version === rollout.toVersion).length;
      if (!rollout.promoted && current >= Math.min(sim.view.policy.canary, sim.view.replicas))
        rollout.state = "awaiting-promotion";
      return;
    }
    case "succeed":
      rollout.state = rollout.isRevert ? "reverted" : "succeeded";
      return;
    case "fail":
      rollout.state = "failed";
      return;
    case "revert":
      // The FSM starts a new version with the stable spec and takes over its replicas.
      for (const r of sim.replicas) if (r.version === decision.revertTo) r.version = rollout.toVersion + 1;
      Object.assign(rollout, {
        toVersion: rollout.toVersion + 1,
        state: "running",
        isRevert: true,
        promoted: true,
        stepSeq: 0,
        lastProgressAtMs: sim.nowMs,
      });
      return;
    case "wait":
    case "await-promotion":
      return;
  }
}

function describe(decision: RolloutDecision): string {
  switch (decision.kind) {
    case "wait":
      return `wait: ${decision.reason}`;
    case "step":
      return `step ${decision.stepSeq} to v${decision.toVersion}: start ${decision.startCount}, stop [${decision.stopIds.join(" ")}] (${decision.reason})`;
    case "await-promotion":
      return `await-promotion: ${decision.canariesReady}/${decision.canary} canaries ready`;
    case "succeed":
      return `succeed v${decision.toVersion}: ${decision.reason}`;
    case "fail":
      return `fail v${decision.toVersion}: ${decision.reason}`;
    case "revert":
      return `revert v${decision.toVersion} to v${decision.revertTo}: ${decision.reason}`;
  }
}

function show(sim: Sim): string {
  const r = sim.view.rollout;
  const lines = sim.replicas.map(
    (x) =>
      `  ${x.id} v${x.version} ${x.state}${x.health === "unknown" ? "" : `/${x.health}`}${x.placedAtMs > 0 || x.state !== "pending" ? ` placed@${x.placedAtMs}` : ""}${x.health === "healthy" ? ` since@${x.healthySinceMs}` : ""}`,
  );
  return [`rollout v${r.toVersion} ${r.state} step=${r.stepSeq}`, ...lines].join("\n");
}
