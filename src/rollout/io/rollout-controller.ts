import { Counter, Gauge, type Registry } from "prom-client";
import {
  LeaderLoop,
  isRolloutActive,
  leaderActor,
  type ClusterReadView,
  type CommandBody,
  type ControllerPorts,
  type LeadershipSignal,
  type Proposer,
  type StateChange,
} from "../../fsm/index.js";
import { fastBurnRateThreshold, recentBurnRate } from "../../fsm/slo.js";
import { RolloutPauser } from "../../gen/orchestrator/v1/fsm.js";
import { assertNever } from "../../lib/assert.js";
import type { CancelTimer, Clock } from "../../lib/clock.js";
import type { Logger } from "../../lib/logger.js";
import { burnRateGate, decideRollout, nextReadyAtMs, type RolloutDecision } from "../core/index.js";
import { rolloutCommandOf, rolloutViewOf } from "../fsm-view.js";

/** How often every active rollout is decided again (waits end on time, not on a change). */
export const rolloutTickMs = 200;
/**
 * Changes within this long are decided together: a rollout of 10,000 replicas changes hundreds
 * of containers a second, and each decision reads all of them (about 3 ms at 10,000).
 */
export const rolloutChangeBatchMs = 50;
/** A rollout pauses while its deployment's 5-minute burn rate is above this (the SRE workbook's fast burn). */
export const rolloutPauseBurnRate = fastBurnRateThreshold;

/** The `outcome` label of orchestrator_rollouts_finished_total. */
const finishOutcomes = ["succeeded", "failed", "reverted"] as const;
type FinishOutcome = (typeof finishOutcomes)[number];

/** One decision that proposes something: the command, the value kind it answers with, and what to log. */
interface Proposal {
  readonly body: CommandBody;
  readonly kind: "rollout-step" | "rollout-finish" | "rollout-revert" | "rollout-control";
  readonly decision: string;
  readonly version: number;
  readonly reason: string;
  readonly finish: FinishOutcome | null;
}

/**
 * The leader's rollout controller: for each deployment with an active rollout, on every tick and
 * on changes to its containers, reads the rollout's view, asks the pure core (decideRollout,
 * burnRateGate) and proposes the matching command. Every decision is a command in the log, so a
 * new leader continues the same rollout from the FSM; the step counter in each step makes a step
 * proposed twice (by a deposed leader and its successor) apply once. One proposal in flight per
 * deployment; a refused or ignored one is simply decided again on the next turn.
 */
export class RolloutController {
  private readonly loop: LeaderLoop;
  private readonly fsm: ClusterReadView;
  private readonly proposer: Proposer;
  private readonly leadership: LeadershipSignal;
  private readonly clock: Clock;
  /** Deployments that may have an active rollout (pruned when they have none). */
  private readonly tracked = new Set<string>();
  /** Deployments with a proposal in flight. */
  private readonly proposing = new Set<string>();
  /** Deployments a change asks to decide again, before the next tick. */
  private readonly dirty = new Set<string>();
  private cancelDrain: CancelTimer | null = null;
  /** Deployments waiting for a new replica to count, and when it will (wall ms): see nextReadyAtMs. */
  private readonly wakeAtMs = new Map<string, number>();
  private cancelWake: CancelTimer | null = null;
  /** When the armed wake timer fires (wall ms); +Infinity when none is armed. */
  private wakeArmedAtMs = Number.POSITIVE_INFINITY;
  private readonly steps: Counter;
  private readonly finished: Counter<"outcome">;

  constructor(
    ports: ControllerPorts,
    private readonly logger: Logger,
    registry: Registry,
  ) {
    this.fsm = ports.state;
    this.proposer = ports.proposer;
    this.leadership = ports.leadership;
    this.clock = ports.clock;
    this.loop = new LeaderLoop(ports, logger, {
      name: "rollout",
      tickMs: rolloutTickMs,
      onChange: (change) => this.onChange(change),
      seed: () => this.seed(),
      tick: () => this.tick(),
      onActivate: () => this.proposing.clear(),
      onDeactivate: () => this.forgetBatches(),
      activeFields: () => ({ rollouts: this.activeRollouts().length }),
    });
    this.steps = new Counter({
      name: "orchestrator_rollout_steps_total",
      help: "Rollout steps this replica decided as leader and the log applied.",
      registers: [registry],
    });
    this.finished = new Counter({
      name: "orchestrator_rollouts_finished_total",
      help: "Rollouts this replica ended as leader, by outcome (reverted: failed and rolled back to the last good version).",
      labelNames: ["outcome"],
      registers: [registry],
    });
    // Series exist at 0 from the start, on followers too, so rate() sees a new leader's first ones.
    this.steps.inc(0);
    for (const outcome of finishOutcomes) this.finished.inc({ outcome }, 0);
    const activeCount = () => (this.active ? this.activeRollouts().length : 0);
    new Gauge({
      name: "orchestrator_rollouts_active",
      help: "Rollouts in progress (running, paused or awaiting promotion); leader only, 0 on followers.",
      registers: [registry],
      collect() {
        this.set(activeCount());
      },
    });
  }

  start(): void {
    this.loop.start();
  }

  /** Stops listening and deciding; proposals in flight still finish. */
  stop(): void {
    this.loop.stop();
  }

  private get active(): boolean {
    return this.loop.isActive;
  }

  /** Leadership lost: the pending batch and wake timers go (a new leader decides from the log). */
  private forgetBatches(): void {
    this.cancelDrain?.();
    this.cancelDrain = null;
    this.dirty.clear();
    this.cancelWake?.();
    this.cancelWake = null;
    this.wakeArmedAtMs = Number.POSITIVE_INFINITY;
    this.wakeAtMs.clear();
  }

  /** Every active rollout has an open operation: they are the candidates after a restore or an election. */
  private seed(): void {
    for (const operation of this.fsm.openOperations()) this.tracked.add(operation.deployment);
  }

  private activeRollouts(): string[] {
    const names: string[] = [];
    for (const name of this.tracked) {
      const rollout = this.fsm.getDeploymentRecord(name)?.rollout;
      if (rollout !== null && rollout !== undefined && isRolloutActive(rollout.state)) names.push(name);
      else this.tracked.delete(name);
    }
    return names;
  }

  private onChange(change: StateChange): void {
    let name: string;
    if (change.kind === "deployment") name = change.id;
    else if (change.kind === "container") name = change.id.slice(0, change.id.lastIndexOf("-"));
    else return;
    const rollout = this.fsm.getDeploymentRecord(name)?.rollout;
    if (rollout === null || rollout === undefined || !isRolloutActive(rollout.state)) return;
    this.tracked.add(name);
    if (!this.active) return;
    this.markDirty(name);
  }

  /** Decided shortly, after the entry (and the ones applied with it) is through: never from inside apply. */
  private markDirty(name: string): void {
    this.dirty.add(name);
    this.cancelDrain ??= this.clock.setTimer(rolloutChangeBatchMs, () => this.drain());
  }

  private drain(): void {
    this.cancelDrain = null;
    const names = [...this.dirty];
    this.dirty.clear();
    for (const name of names) this.decide(name);
  }

  /**
   * Decides `name` again when its next new replica counts (at: wall ms; null: none waits on time).
   * Without it a rollout would notice a replica's min_healthy_time ending only at the next tick,
   * up to a tick late for every batch. One timer serves all deployments: the earliest wake.
   */
  private scheduleWake(name: string, atMs: number | null, nowMs: number): void {
    if (atMs === null) this.wakeAtMs.delete(name);
    else this.wakeAtMs.set(name, atMs);
    if (atMs === null || atMs >= this.wakeArmedAtMs) return;
    this.cancelWake?.();
    this.wakeArmedAtMs = atMs;
    this.cancelWake = this.clock.setTimer(Math.max(0, atMs - nowMs), () => this.wake());
  }

  private wake(): void {
    this.cancelWake = null;
    this.wakeArmedAtMs = Number.POSITIVE_INFINITY;
    if (!this.active) return;
    const nowMs = this.clock.wallMs();
    const due = [...this.wakeAtMs].filter(([, atMs]) => atMs <= nowMs).map(([name]) => name);
    for (const name of due) {
      this.wakeAtMs.delete(name);
      this.decide(name);
    }
    // The ones still waiting (a timer may fire a little early, or they were not due): the earliest.
    for (const [name, atMs] of this.wakeAtMs) this.scheduleWake(name, atMs, nowMs);
  }

  private tick(): void {
    if (!this.active) return;
    for (const name of this.activeRollouts()) this.decide(name);
  }

  private decide(name: string): void {
    if (!this.active || this.proposing.has(name)) return;
    const deployment = this.fsm.getDeploymentRecord(name);
    const view = rolloutViewOf(this.fsm, name);
    if (deployment === undefined || view === undefined || !isRolloutActive(view.rollout.state)) return;
    const nowMs = this.clock.wallMs();
    this.scheduleWake(name, view.rollout.state === "running" ? nextReadyAtMs(view, nowMs) : null, nowMs);
    const burnRate = recentBurnRate(deployment.recentOutcomes, nowMs);
    const gate = burnRateGate(view.rollout, burnRate, rolloutPauseBurnRate);
    const proposal =
      gate !== null
        ? gateProposal(name, view.rollout.toVersion, gate.kind, gate.reason)
        : decisionProposal(name, decideRollout(view, nowMs));
    if (proposal === null) return;
    this.logger.info(
      {
        term: this.leadership.term(),
        role: "leader",
        deployment: name,
        version: proposal.version,
        decision: proposal.decision,
        burnRate,
        reason: proposal.reason,
      },
      "rollout decision",
    );
    this.proposing.add(name);
    void this.propose(name, proposal);
  }

  private async propose(name: string, proposal: Proposal): Promise<void> {
    const outcome = await this.proposer.propose(proposal.body, proposal.kind);
    this.proposing.delete(name);
    if (!outcome.ok) {
      // Refused (the state moved, or leadership did): the next tick decides again from the FSM.
      this.logger.info(
        { term: this.leadership.term(), deployment: name, decision: proposal.decision, error: outcome.error.message },
        "rollout decision not applied",
      );
      return;
    }
    const value = outcome.value;
    if (value.kind === "rollout-step" && !value.applied) {
      this.logger.info({ term: this.leadership.term(), deployment: name, why: value.ignoredReason }, "step ignored");
      return;
    }
    if (value.kind === "rollout-step") this.steps.inc();
    if (proposal.finish !== null) this.finished.inc({ outcome: proposal.finish });
    // Something moved: the next step may be possible at once (stops after new replicas count).
    if (this.active) this.markDirty(name);
  }
}

function gateProposal(name: string, version: number, kind: "pause" | "resume", reason: string): Proposal {
  const fields = { deployment: name, by: RolloutPauser.ROLLOUT_PAUSER_BURN_RATE, reason, actor: leaderActor };
  const body: CommandBody =
    kind === "pause"
      ? { kind: "rollout-pause", rolloutPause: { ...fields, toVersion: version } }
      : { kind: "rollout-resume", rolloutResume: { ...fields, toVersion: version } };
  return { body, kind: "rollout-control", decision: `burn-rate-${kind}`, version, reason, finish: null };
}

function decisionProposal(name: string, decision: RolloutDecision): Proposal | null {
  const body = rolloutCommandOf(name, decision);
  if (body === null) return null;
  switch (decision.kind) {
    case "wait":
    case "await-promotion":
      return null;
    case "step":
      return {
        body,
        kind: "rollout-step",
        decision: `step ${decision.stepSeq}: start ${decision.startCount}, stop ${decision.stopIds.length}`,
        version: decision.toVersion,
        reason: decision.reason,
        finish: null,
      };
    case "succeed":
    case "fail":
      return {
        body,
        kind: "rollout-finish",
        decision: decision.kind,
        version: decision.toVersion,
        reason: decision.reason,
        finish: decision.kind === "succeed" ? "succeeded" : "failed",
      };
    case "revert":
      return {
        body,
        kind: "rollout-revert",
        decision: `revert to v${decision.revertTo}`,
        version: decision.toVersion,
        reason: decision.reason,
        finish: "reverted",
      };
    default:
      return assertNever(decision, "rollout decision");
  }
}
