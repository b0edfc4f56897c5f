import { randomInt } from "node:crypto";
import { Counter, Gauge, type Registry } from "prom-client";
import {
  fsmLimits,
  healthToProto,
  type ApplyValue,
  type ClusterReadView,
  type CommandBody,
  type ContainerRecord,
  type ControllerPorts,
  type LeadershipSignal,
  type Proposer,
} from "../../fsm/index.js";
import type { CancelTimer, Clock } from "../../lib/clock.js";
import type { Logger } from "../../lib/logger.js";
import { Prng } from "../../lib/prng.js";
import { probeTarget } from "./probe-target.js";
import {
  BreakerPolicy,
  evaluateLiveness,
  evaluateOperation,
  inFlightSeq,
  nextRestart,
  probeDue,
  shouldReset,
  startProbing,
  stepProbe,
  type NodeLivenessView,
  type ProbeState,
  type VerdictTransition,
} from "../core/index.js";
import { HttpProber } from "./http-prober.js";
import { NodeHeartbeats } from "./node-heartbeats.js";
import { probeOutcomes, type ProbeOutcome, type Prober } from "./prober.js";

const controllerTickMs = 100;
const livenessEveryTicks = 5;
/** One operation's verdict, as the operation-outcomes command carries it. */
type OperationVerdict = Extract<CommandBody, { kind: "operation-outcomes" }>["operationOutcomes"]["outcomes"][number];
/** Why a restart was decided: the `reason` label of orchestrator_container_restarts_total. */
const restartReasons = ["unhealthy", "crashed"] as const;
type RestartReason = (typeof restartReasons)[number];

interface Watched {
  probe: ProbeState;
  readonly node: string;
  readonly restartCount: number;
  /** When this leader first saw the container running: the start of its stable period. */
  readonly runningSinceMs: number;
  inFlight: boolean;
}

/** The health controller's ports beyond every controller's. */
export interface HealthControllerPorts extends ControllerPorts {
  /** How probes reach the containers; a new HttpProber when absent. */
  readonly prober?: Prober;
  /** Where the API records agents' heartbeats; a new table when absent (see `heartbeats`). */
  readonly heartbeats?: NodeHeartbeats;
  /** Seeds the restart jitter of each leadership; a random one when absent. */
  readonly seed?: () => number;
}

/**
 * The leader's self-healing loop. It probes running containers (through a per-node breaker),
 * restarts failing ones with exponential backoff, declares silent nodes down, and closes
 * deployment operations with their outcome. Every decision is a command through the log, so
 * a new leader continues from it: the backoff step, the not-before time, a node already down.
 * It acts only while the leadership signal says "leading" (after the new leader's barrier).
 *
 * Times are the clock's wall time: heartbeats, not-before times and operation deadlines are
 * compared with the leaders' wall clocks written to the log.
 */
export class HealthController {
  /** The node heartbeat table this controller judges liveness from; the API records into it. */
  readonly heartbeats: NodeHeartbeats;
  private active = false;
  private cancelTick: CancelTimer | null = null;
  private leaderSinceMs = 0;
  private tickCount = 0;
  private readonly watched = new Map<string, Watched>();
  private breaker = new BreakerPolicy();
  private readonly fsm: ClusterReadView;
  private readonly proposer: Proposer;
  private readonly leadership: LeadershipSignal;
  private readonly clock: Clock;
  private readonly prober: Prober;
  private readonly seed: () => number;
  private readonly unsubscribe: (() => void)[] = [];
  /** Containers, nodes and operations with a command in flight, so one decision is not proposed twice. */
  private readonly proposing = new Set<string>();
  /** Replica counts of the deployments with an open operation at the last check (see replicaCounts). */
  private counted = new Map<string, CountedReplicas>();
  /**
   * Ids of the containers a tick looks at: wanted running on a node and running, unhealthy
   * (probed) or failed (to restart). Kept from the FSM's change feed, so a tick costs what is
   * live, not what exists; rebuilt by one full pass when stale (new leader, restored snapshot).
   */
  private readonly candidates = new Set<string>();
  private candidatesStale = true;
  /** Containers that just became probed, to watch and probe before the next tick (probeSoon). */
  private readonly fresh = new Set<string>();
  private cancelFresh: CancelTimer | null = null;
  private prng: Prng;
  private readonly probes: Counter<"result">;
  private readonly restarts: Counter<"reason">;

  constructor(
    ports: HealthControllerPorts,
    private readonly logger: Logger,
    registry: Registry,
  ) {
    this.fsm = ports.state;
    this.proposer = ports.proposer;
    this.leadership = ports.leadership;
    this.clock = ports.clock;
    this.prober = ports.prober ?? new HttpProber();
    this.heartbeats = ports.heartbeats ?? new NodeHeartbeats();
    this.seed = ports.seed ?? (() => randomInt(0x7fffffff));
    this.prng = new Prng(this.seed());
    this.probes = new Counter({
      name: "orchestrator_health_probes_total",
      help: "Health probes sent by this replica (leader only), by result.",
      labelNames: ["result"],
      registers: [registry],
    });
    this.restarts = new Counter({
      name: "orchestrator_container_restarts_total",
      help: "Restarts this replica decided as leader and committed to the log, by reason.",
      labelNames: ["reason"],
      registers: [registry],
    });
    // Every label value's series exists from the start, at 0 on followers too, so rate() and
    // increase() see a new leader's first probes and restarts instead of a series appearing mid-way.
    for (const result of probeOutcomes) this.probes.inc({ result }, 0);
    for (const reason of restartReasons) this.restarts.inc({ reason }, 0);
    const breaker = () => this.breaker;
    const nodeIds = () => this.fsm.listNodes().map((n) => n.id);
    const active = () => this.active;
    const wallMs = () => this.clock.wallMs();
    new Gauge({
      name: "orchestrator_health_breaker_state",
      help: "Nodes by probe circuit-breaker state (leader only; 0 on followers).",
      labelNames: ["state"],
      registers: [registry],
      collect() {
        const counts = { closed: 0, open: 0, "half-open": 0 };
        if (active()) for (const id of nodeIds()) counts[breaker().state(id, wallMs())]++;
        for (const [state, value] of Object.entries(counts)) this.set({ state }, value);
      },
    });
  }

  start(): void {
    this.unsubscribe.push(
      // A restored snapshot replaces every container: nothing counted or listed before it holds.
      this.fsm.onRestore(() => {
        this.counted.clear();
        this.candidatesStale = true;
      }),
      this.fsm.onChange((change) => {
        if (this.active && !this.candidatesStale && change.kind === "container") this.classify(change.id);
      }),
      this.leadership.onChange((change) => (change.kind === "leading" ? this.activate() : this.deactivate())),
    );
    if (this.leadership.isLeader()) this.activate();
  }

  async stop(): Promise<void> {
    for (const unsubscribe of this.unsubscribe.splice(0)) unsubscribe();
    this.deactivate();
    await this.prober.close();
  }

  private activate(): void {
    if (this.active) return;
    this.active = true;
    // A new leader gives every node a fresh grace period: heartbeats seen before now don't count against it.
    this.leaderSinceMs = this.clock.wallMs();
    this.breaker = new BreakerPolicy();
    this.prng = new Prng(this.seed());
    this.watched.clear();
    this.proposing.clear();
    this.counted.clear();
    this.candidatesStale = true;
    this.cancelTick = this.clock.setRepeating(controllerTickMs, () => this.tick());
    this.logger.info({ term: this.leadership.term(), role: "leader" }, "health controller active");
  }

  private deactivate(): void {
    this.active = false;
    this.cancelTick?.();
    this.cancelTick = null;
    this.cancelFresh?.();
    this.cancelFresh = null;
    this.fresh.clear();
    this.watched.clear();
    // Liveness seen under this leadership says nothing reliable about the next one: a replica
    // that leads again later starts from an empty table (a fresh grace period).
    this.heartbeats.clear();
  }

  private tick(): void {
    if (!this.active) return;
    const now = this.clock.wallMs();
    this.tickCount++;
    const containers = this.candidateContainers();
    this.syncWatched(containers, now);
    for (const [id, watched] of this.watched) this.maybeProbe(id, watched, now);
    for (const container of containers) this.maybeRestartFailed(container, now);
    if (this.tickCount % livenessEveryTicks === 0) {
      this.checkLiveness(now);
      this.checkOperations(now);
    }
  }

  private candidateContainers(): Readonly<ContainerRecord>[] {
    if (this.candidatesStale) {
      this.candidates.clear();
      for (const container of this.fsm.allContainers()) if (isCandidate(container)) this.candidates.add(container.id);
      this.candidatesStale = false;
    }
    const containers: Readonly<ContainerRecord>[] = [];
    for (const id of this.candidates) {
      const container = this.fsm.getContainer(id);
      if (container !== undefined) containers.push(container);
    }
    return containers;
  }

  private classify(id: string): void {
    const container = this.fsm.getContainer(id);
    if (container !== undefined && isCandidate(container)) this.candidates.add(id);
    else this.candidates.delete(id);
    if (container === undefined || !isProbed(container)) return;
    const watched = this.watched.get(id);
    if (watched === undefined || watched.restartCount !== container.restartCount || watched.node !== container.node)
      this.probeSoon(id);
  }

  /** Tracks exactly the containers that should be answering probes. */
  private syncWatched(containers: readonly Readonly<ContainerRecord>[], now: number): void {
    const live = new Set<string>();
    for (const c of containers) {
      if (!isProbed(c)) continue;
      live.add(c.id);
      const existing = this.watched.get(c.id);
      if (existing !== undefined && existing.restartCount === c.restartCount && existing.node === c.node) {
        this.maybeResetBackoff(c, existing, now);
        continue;
      }
      this.watch(c, now);
    }
    for (const id of this.watched.keys()) if (!live.has(id)) this.watched.delete(id);
  }

  /** Starts (or restarts) probing a container from `now`: its first probe is due after the initial delay. */
  private watch(c: Readonly<ContainerRecord>, now: number): Watched | undefined {
    const spec = this.fsm.getDeploymentRecord(c.deployment)?.spec;
    if (spec === undefined) return undefined;
    const { periodMs, timeoutMs, failureThreshold, successThreshold, initialDelayMs } = spec.healthCheck;
    const watched: Watched = {
      probe: startProbing({ periodMs, timeoutMs, failureThreshold, successThreshold, initialDelayMs }, now),
      node: c.node,
      restartCount: c.restartCount,
      runningSinceMs: now,
      inFlight: false,
    };
    this.watched.set(c.id, watched);
    return watched;
  }

  /**
   * A container just turned running (or was restarted or moved): it is watched and, when its first
   * probe is due at once (no initial delay), probed now rather than at the next tick. A rollout
   * waits for each new replica's first passing probe, so a tick's delay here is a tick per batch.
   */
  private probeSoon(id: string): void {
    this.fresh.add(id);
    this.cancelFresh ??= this.clock.setTimer(0, () => {
      this.cancelFresh = null;
      const ids = [...this.fresh];
      this.fresh.clear();
      if (!this.active || this.candidatesStale) return;
      const now = this.clock.wallMs();
      for (const freshId of ids) {
        const c = this.fsm.getContainer(freshId);
        if (c === undefined || !isProbed(c)) continue;
        const existing = this.watched.get(freshId);
        if (existing !== undefined && existing.restartCount === c.restartCount && existing.node === c.node) continue;
        const watched = this.watch(c, now);
        if (watched !== undefined) this.maybeProbe(freshId, watched, now);
      }
    });
  }

  private maybeProbe(id: string, watched: Watched, now: number): void {
    if (watched.inFlight) return;
    const container = this.fsm.getContainer(id);
    const node = this.fsm.getNode(watched.node);
    const spec = container === undefined ? undefined : this.fsm.getDeploymentRecord(container.deployment)?.spec;
    if (node === undefined || spec === undefined || node.agentAddress === "") return;
    const unreachable = watched.probe.phase.kind === "unreachable";
    // Only a probe that goes out now may ask the breaker to let it through: past its cool-down an
    // open breaker lets exactly one trial through and waits for its result, so a trial taken by a
    // container with nothing due (still in its initial delay, between periods) would leave the
    // breaker half-open for good, and no probe would reach the node again. The others only read it.
    if (!unreachable && !probeDue(watched.probe, now)) {
      if (this.breaker.state(watched.node, now) !== "closed") this.markUnreachable(id, watched, now);
      return;
    }
    if (!this.breaker.allowProbe(watched.node, now)) {
      if (!unreachable) this.markUnreachable(id, watched, now);
      return;
    }
    // Reachable again: the probe is due at once.
    if (unreachable) this.applyStep(id, watched, stepProbe(watched.probe, { kind: "node-reachable", nowMs: now }));
    watched.inFlight = true;
    // A real container with a named health port is probed where it listens; a simulated one
    // through its agent, which answers for it.
    const direct = probeTarget(spec.healthCheck, container?.addresses ?? []);
    const base = direct?.base ?? `http://${node.agentAddress}`;
    const path =
      direct?.path ??
      `/containers/${encodeURIComponent(id)}${spec.healthCheck.path.startsWith("/") ? "" : "/"}${spec.healthCheck.path}`;
    let seq = 0;
    // The probe is stepped "sent" when the prober gives it a slot, not when it was queued: a probe
    // waiting behind the leader's own backlog (a burst of due probes, a busy event loop) must not
    // count as the container's timeout, which runs from the send. It is recorded as sent when it
    // fell due, though, if it goes out within a tick of that: the next one is then due a period
    // after this one was, not a period after the tick that happened to pick it up, so the cadence
    // is the period, not the period rounded up to the next tick (10% fewer probes at a 1 s period).
    // At most one tick of the leader's delay counts against the timeout, as it always did.
    // A container restarted or moved meanwhile still gets the request (the breaker may be waiting
    // for it as a trial), but its old probe state is not stepped.
    const dispatch = (): boolean => {
      if (!this.active) return false;
      if (this.watched.get(id) === watched && watched.probe.phase.kind === "waiting") {
        const sentAtMs = Math.max(
          watched.probe.phase.nextProbeAtMs,
          watched.probe.lastEventMs,
          this.clock.wallMs() - controllerTickMs,
        );
        this.applyStep(id, watched, stepProbe(watched.probe, { kind: "send", nowMs: sentAtMs }));
        seq = inFlightSeq(watched.probe);
      }
      return true;
    };
    void this.prober.probe(base, path, spec.healthCheck.timeoutMs, dispatch).then((outcome) => {
      if (outcome === null) watched.inFlight = false;
      else this.onProbeResult(id, watched, seq, outcome);
    });
  }

  private onProbeResult(id: string, watched: Watched, seq: number, outcome: ProbeOutcome): void {
    watched.inFlight = false;
    this.probes.inc({ result: outcome });
    if (!this.active) return;
    const now = Math.max(this.clock.wallMs(), watched.probe.lastEventMs);
    // The breaker hears whether the node answered at all: one sick container must not open it.
    // It hears it even when the container is no longer watched (restarted, moved, removed while
    // the probe was out): the answer may be a half-open breaker's trial, and a trial whose result
    // is dropped leaves the breaker half-open for good.
    this.breaker.onResult(watched.node, outcome !== "no-answer", now);
    if (this.watched.get(id) !== watched) return;
    if (watched.probe.phase.kind !== "in-flight" || inFlightSeq(watched.probe) !== seq) return;
    const result = outcome === "healthy" ? "success" : outcome === "unhealthy" ? "failure" : "timeout";
    this.applyStep(id, watched, stepProbe(watched.probe, { kind: "result", seq, result, nowMs: now }));
  }

  /**
   * The node's breaker is not closed: no verdict about the container until the node answers.
   * The probe verdict may already have been unknown (no probe answered since the container
   * started or since this leader took over) while the cluster records the container healthy,
   * as agents report a running container healthy: then there is no verdict transition, and the
   * record is set to unknown here, or it would say healthy for as long as the node is silent.
   */
  private markUnreachable(id: string, watched: Watched, now: number): void {
    const step = stepProbe(watched.probe, { kind: "node-unreachable", nowMs: now });
    this.applyStep(id, watched, step);
    if (step.transition !== null) return;
    const container = this.fsm.getContainer(id);
    if (container === undefined || container.health === "unknown") return;
    const reason = "node unreachable (breaker open): no verdict until it answers again";
    void this.propose(
      `health:${id}`,
      { kind: "container-health", containerHealth: { containerId: id, health: healthToProto("unknown"), reason } },
      "container-health",
    );
  }

  private applyStep(id: string, watched: Watched, step: ReturnType<typeof stepProbe>): void {
    watched.probe = step.state;
    if (step.transition !== null) this.onVerdict(id, step.transition);
  }

  private onVerdict(id: string, transition: VerdictTransition): void {
    const container = this.fsm.getContainer(id);
    if (container === undefined) return;
    if (transition.to !== container.health) {
      void this.propose(
        `health:${id}`,
        {
          kind: "container-health",
          containerHealth: { containerId: id, health: healthToProto(transition.to), reason: transition.reason },
        },
        "container-health",
      );
    }
    if (transition.to === "unhealthy")
      this.decideRestart(container, `failed its health check: ${transition.reason}`, "unhealthy");
  }

  private maybeRestartFailed(container: Readonly<ContainerRecord>, now: number): void {
    if (container.state !== "failed" || container.desired !== "running" || container.node === "") return;
    // Not on a node that cannot run it now: it would only wait there (the node is declared down,
    // and the container replaced elsewhere, if that lasts).
    const node = this.fsm.getNode(container.node);
    if (node?.status !== "ready" || node.notReadyReason !== "") return;
    void now;
    this.decideRestart(container, "the container exited", "crashed");
  }

  private decideRestart(container: Readonly<ContainerRecord>, why: string, reason: RestartReason): void {
    const key = `restart:${container.id}`;
    // The restart decided earlier is still being committed (a crashed container is looked at
    // every tick): nothing new is decided, nothing counted twice.
    if (this.proposing.has(key)) return;
    const spec = this.fsm.getDeploymentRecord(container.deployment)?.spec;
    if (spec === undefined) return;
    const decision = nextRestart(container.backoffStep, this.clock.wallMs(), spec.restartPolicy, this.prng);
    void this.propose(
      key,
      {
        kind: "restart-container",
        restartContainer: {
          containerId: container.id,
          delayMs: decision.delayMs,
          notBeforeMs: decision.notBeforeMs,
          backoffStep: decision.nextStep,
          reason: `${why}; ${decision.reason}`,
        },
      },
      "restart-container",
    ).then((applied) => {
      // Counted once the log has it: a decision the FSM refused (a new leader's FSM still
      // behind the log may see a container failed that is already restarting) restarted nothing.
      if (applied) this.restarts.inc({ reason });
    });
  }

  private maybeResetBackoff(container: Readonly<ContainerRecord>, watched: Watched, now: number): void {
    if (container.backoffStep === 0 || container.health !== "healthy") return;
    const spec = this.fsm.getDeploymentRecord(container.deployment)?.spec;
    if (spec === undefined || !shouldReset(watched.runningSinceMs, now, spec.restartPolicy.resetAfterMs)) return;
    void this.propose(
      `reset:${container.id}`,
      { kind: "reset-backoff", resetBackoff: { containerId: container.id } },
      "reset-backoff",
    );
  }

  private checkLiveness(now: number): void {
    const views: NodeLivenessView[] = this.fsm.listNodes().map((n) => ({
      nodeId: n.id,
      status: n.status,
      lastHeartbeatMs: this.heartbeats.lastSeen(n.id) ?? null,
      downSinceMs: n.lastStatusChangeAtMs,
      notReadySinceMs: n.notReadyReason === "" ? null : n.notReadySinceMs,
    }));
    const verdicts = evaluateLiveness(views, this.leaderSinceMs, Math.max(now, this.leaderSinceMs));
    for (const down of verdicts.declareDown) {
      this.logger.warn(
        { term: this.leadership.term(), role: "leader", node: down.nodeId, reason: down.reason },
        "declaring node down",
      );
      void this.propose(
        `node:${down.nodeId}`,
        { kind: "node-down", nodeDown: { nodeId: down.nodeId, reason: down.reason } },
        "node-down",
      );
    }
  }

  private checkOperations(now: number): void {
    const verdicts: OperationVerdict[] = [];
    const counted = new Map<string, CountedReplicas>();
    for (const op of this.fsm.openOperations()) {
      // A rollout's operation ends with the rollout (RolloutFinish, RolloutRevert), not by a count.
      if (op.kind === "rollout" || this.proposing.has(`op:${op.id}`)) continue;
      const counts = this.replicaCounts(op.deployment);
      if (counts === undefined) continue;
      counted.set(op.deployment, counts);
      const verdict = evaluateOperation(
        { kind: op.kind, startedAtMs: op.startedAtMs, progressDeadlineMs: op.deadlineAtMs - op.startedAtMs },
        counts,
        Math.max(now, op.startedAtMs),
      );
      if (verdict === "pending") continue;
      const reason =
        verdict === "succeeded"
          ? `all ${counts.desired} replicas healthy`
          : `only ${counts.healthy}/${counts.desired} replicas healthy at the progress deadline`;
      verdicts.push({ operationId: op.id, succeeded: verdict === "succeeded", reason });
    }
    this.counted = counted;
    // One entry per batch of verdicts: a burst of deploys closes in a few entries, not one each.
    for (let i = 0; i < verdicts.length; i += fsmLimits.outcomesPerCommandMax) {
      const batch = verdicts.slice(i, i + fsmLimits.outcomesPerCommandMax);
      const keys = batch.map((v) => `op:${v.operationId}`);
      void this.proposeAll(
        keys,
        { kind: "operation-outcomes", operationOutcomes: { outcomes: batch } },
        "operation-outcomes",
      );
    }
  }

  /**
   * Desired and healthy replicas of a deployment, recounted only when its record or one of its
   * containers changed since the last count: a thousand open operations of a thousand replicas
   * each would otherwise cost a million container visits every check.
   */
  private replicaCounts(deployment: string): CountedReplicas | undefined {
    const record = this.fsm.getDeploymentRecord(deployment);
    if (record === undefined) return undefined;
    const containersRevision = this.fsm.containersRevision(deployment);
    const cached = this.counted.get(deployment);
    if (
      cached !== undefined &&
      cached.deploymentRevision === record.updatedRevision &&
      cached.containersRevision === containersRevision
    )
      return cached;
    const status = this.fsm.getDeploymentStatus(deployment);
    if (status === undefined) return undefined;
    return {
      desired: record.spec.replicas,
      healthy: status.healthy,
      deploymentRevision: record.updatedRevision,
      containersRevision,
    };
  }

  /** Proposes one command that decides for every key; keys already in flight must be left out by the caller. */
  private async proposeAll<K extends ApplyValue["kind"]>(
    keys: readonly string[],
    body: CommandBody,
    kind: K,
  ): Promise<boolean> {
    if (!this.active) return false;
    for (const key of keys) this.proposing.add(key);
    try {
      const outcome = await this.proposer.propose(body, kind);
      if (outcome.ok) return true;
      this.logger.debug(
        {
          term: this.leadership.term(),
          role: this.active ? "leader" : "follower",
          keys: keys.length,
          err: outcome.error.message,
        },
        "health decisions not applied",
      );
      return false;
    } finally {
      for (const key of keys) this.proposing.delete(key);
    }
  }

  /** Proposes a decision unless one with the same key is in flight; true when the FSM applied it. */
  private propose<K extends ApplyValue["kind"]>(key: string, body: CommandBody, kind: K): Promise<boolean> {
    if (this.proposing.has(key)) return Promise.resolve(false);
    return this.proposeAll([key], body, kind);
  }
}

/** Answering probes: wanted running on a node, and running or unhealthy. */
function isProbed(c: Readonly<ContainerRecord>): boolean {
  return c.desired === "running" && (c.state === "running" || c.state === "unhealthy") && c.node !== "";
}

/** Probed (running or unhealthy) or to be restarted (failed), and wanted running on a node. */
function isCandidate(c: Readonly<ContainerRecord>): boolean {
  return (
    c.desired === "running" &&
    c.node !== "" &&
    (c.state === "running" || c.state === "unhealthy" || c.state === "failed")
  );
}

interface CountedReplicas {
  readonly desired: number;
  readonly healthy: number;
  readonly deploymentRevision: number;
  readonly containersRevision: number;
}
