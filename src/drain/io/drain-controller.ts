import { Counter, Gauge, type Registry } from "prom-client";
import {
  LeaderLoop,
  type ClusterReadView,
  type ControllerPorts,
  type LeadershipSignal,
  type Proposer,
  type StateChange,
} from "../../fsm/index.js";
import { assertNever } from "../../lib/assert.js";
import type { CancelTimer, Clock } from "../../lib/clock.js";
import type { Logger } from "../../lib/logger.js";
import { decideDrain, type DrainDecision } from "../core/index.js";
import { drainCommandOf, drainViewOf } from "../fsm-view.js";

/** How often every drain is decided again (deadlines and min_healthy_time end on time, not on a change). */
export const drainTickMs = 200;
/** Changes within this long are decided together: a drain of 100 containers changes many at once. */
export const drainChangeBatchMs = 50;

/**
 * The leader's drain controller: for each draining node, on every tick and on changes, reads the
 * node's view, asks the pure core (decideDrain) and proposes the matching command. Every decision
 * is a command in the log, so a new leader continues the same drain from the FSM; the step
 * counter in each step makes a step proposed twice (by a deposed leader and its successor) apply
 * once. One proposal in flight per node; a refused or ignored one is decided again next turn.
 */
export class DrainController {
  private readonly loop: LeaderLoop;
  private cancelBatch: CancelTimer | null = null;
  private readonly fsm: ClusterReadView;
  private readonly proposer: Proposer;
  private readonly leadership: LeadershipSignal;
  private readonly clock: Clock;
  /** Nodes that may be draining (pruned when they are not). */
  private readonly tracked = new Set<string>();
  private readonly proposing = new Set<string>();
  private dirty = false;
  private readonly steps: Counter<"kind">;

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
      name: "drain",
      tickMs: drainTickMs,
      onChange: (change) => this.onChange(change),
      seed: () => this.seed(),
      tick: () => this.tick(),
      onActivate: () => this.proposing.clear(),
      onDeactivate: () => {
        this.cancelBatch?.();
        this.cancelBatch = null;
        this.dirty = false;
      },
      activeFields: () => ({ drains: this.drainingNodes().length }),
    });
    this.steps = new Counter({
      name: "orchestrator_drain_steps_total",
      help: "Drain decisions this replica proposed as leader and the log applied, by kind (step, finish).",
      labelNames: ["kind"],
      registers: [registry],
    });
    for (const kind of ["step", "finish"]) this.steps.inc({ kind }, 0);
    const draining = () => (this.active ? this.drainingNodes().length : 0);
    new Gauge({
      name: "orchestrator_drains_active",
      help: "Nodes being drained; leader only, 0 on followers.",
      registers: [registry],
      collect() {
        this.set(draining());
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

  private seed(): void {
    for (const node of this.fsm.listNodes()) if (node.drain?.state === "draining") this.tracked.add(node.id);
  }

  private drainingNodes(): string[] {
    const ids: string[] = [];
    for (const id of this.tracked) {
      if (this.fsm.getNode(id)?.drain?.state === "draining") ids.push(id);
      else this.tracked.delete(id);
    }
    return ids;
  }

  private onChange(change: StateChange): void {
    if (change.kind === "node" && this.fsm.getNode(change.id)?.drain?.state === "draining") this.tracked.add(change.id);
    if (!this.active || this.tracked.size === 0) return;
    if (change.kind === "event") return;
    // Any container or node change may let a drain move (a replacement turned healthy, one stopped).
    this.dirty = true;
    this.cancelBatch ??= this.clock.setTimer(drainChangeBatchMs, () => {
      this.cancelBatch = null;
      if (this.dirty) this.tick();
    });
  }

  private tick(): void {
    this.dirty = false;
    if (!this.active) return;
    for (const id of this.drainingNodes()) this.decide(id);
  }

  private decide(nodeId: string): void {
    if (!this.active || this.proposing.has(nodeId)) return;
    const view = drainViewOf(this.fsm, nodeId);
    if (view === undefined) return;
    const decision = decideDrain(view, this.clock.wallMs());
    const body = drainCommandOf(nodeId, decision);
    if (body === null) return;
    this.logger.info(
      { term: this.leadership.term(), role: "leader", node: nodeId, decision: describe(decision) },
      "drain decision",
    );
    this.proposing.add(nodeId);
    void this.propose(nodeId, body, decision);
  }

  private async propose(
    nodeId: string,
    body: NonNullable<ReturnType<typeof drainCommandOf>>,
    decision: DrainDecision,
  ): Promise<void> {
    const kind = decision.kind === "finish" ? "node-drain-finish" : "node-drain-step";
    const outcome = await this.proposer.propose(body, kind);
    this.proposing.delete(nodeId);
    if (!outcome.ok) {
      // Refused (the state moved, or leadership did): the next turn decides again from the FSM.
      this.logger.info(
        { term: this.leadership.term(), node: nodeId, decision: describe(decision), error: outcome.error.message },
        "drain decision not applied",
      );
      return;
    }
    if (!outcome.value.applied) {
      this.logger.info(
        { term: this.leadership.term(), node: nodeId, why: outcome.value.ignoredReason },
        "drain step ignored",
      );
      return;
    }
    this.steps.inc({ kind: decision.kind === "finish" ? "finish" : "step" });
    // Something moved: the next step may be possible at once.
    if (this.active) this.decide(nodeId);
  }
}

function describe(decision: DrainDecision): string {
  switch (decision.kind) {
    case "wait":
      return `wait: ${decision.reason}`;
    case "step":
      return `step ${decision.stepSeq}: migrate ${decision.migrateIds.length}, stop ${decision.stopIds.length}${decision.atDeadline ? " at the deadline" : ""}`;
    case "finish":
      return `finish: ${decision.reason}`;
    default:
      return assertNever(decision, "drain decision");
  }
}
