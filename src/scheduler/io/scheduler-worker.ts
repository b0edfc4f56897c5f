import { assertNever } from "../../lib/assert.js";
import { Counter, Histogram, type Registry } from "prom-client";
import type { CancelTimer, Clock } from "../../lib/clock.js";
import type { Logger } from "../../lib/logger.js";
import {
  fsmLimits,
  holdsCapacity,
  type ClusterReadView,
  type ControllerPorts,
  type DeploymentSpec,
  type LeadershipChange,
  type LeadershipSignal,
  type NodeRecord,
  type Proposer,
  type StateChange,
} from "../../fsm/index.js";
import { SchedulerState, planDeployment, type NodeView, type Plan, type PlacementRequest } from "../core/index.js";

/** The values of the placements counter's `strategy` label (DeploymentSpec["strategy"]). */
const placementStrategies: readonly DeploymentSpec["strategy"][] = ["binpack", "spread", "latency"];
/** How long to wait before re-evaluating a deployment whose plan the FSM partly rejected. */
const retryDelayMs = 50;
/**
 * Evaluations run back to back before the worker yields to the event loop; their plans are
 * proposed together and share Raft round trips.
 */
const evaluationsPerTurnMax = 16;

export function nodeView(node: Readonly<NodeRecord>): NodeView {
  return {
    id: node.id,
    region: node.region,
    cpuCapacity: node.capacity.cpuMillicores,
    memoryCapacity: node.capacity.memoryMib,
    cpuAllocated: node.allocated.cpuMillicores,
    memoryAllocated: node.allocated.memoryMib,
    // A live node that takes no new work is "draining" to the scheduler (cordoned or draining); one
    // whose agent cannot run containers is as good as down (rejected as "node-not-ready").
    status:
      node.notReadyReason !== "" && node.status === "ready"
        ? "down"
        : node.status === "ready" && !node.eligible
          ? "draining"
          : node.status,
  };
}

/**
 * The leader's scheduler: turns deployment and node changes into evaluations, plans each
 * against its model of the cluster, and proposes the plan through the log. The FSM re-checks
 * every placement at apply time; what it rejects is simply evaluated again.
 *
 * It plans only while the leadership signal says "leading", which comes after the new leader
 * applied its own first entry of the term (Nomad's barrier on establishing leadership): before
 * that the FSM may lag an earlier leader's last plans, and plans made from it would place
 * containers that are already placed.
 */
export class SchedulerWorker {
  private model: SchedulerState | null = null;
  private readonly queue = new Set<string>();
  private running = false;
  private readonly fsm: ClusterReadView;
  private readonly proposer: Proposer;
  private readonly leadership: LeadershipSignal;
  private readonly clock: Clock;
  /** Re-evaluations waiting out retryDelayMs; cancelled when leadership ends. */
  private readonly retries = new Set<CancelTimer>();
  private readonly unsubscribe: (() => void)[] = [];
  private readonly placements: Counter<"strategy">;
  private readonly planDuration: Histogram;
  private readonly rejected: Counter;

  constructor(
    ports: ControllerPorts,
    private readonly logger: Logger,
    registry: Registry,
  ) {
    this.fsm = ports.state;
    this.proposer = ports.proposer;
    this.leadership = ports.leadership;
    this.clock = ports.clock;
    this.placements = new Counter({
      name: "orchestrator_scheduler_placements_total",
      help: "Containers placed by this replica's scheduler (leader only), by strategy.",
      labelNames: ["strategy"],
      registers: [registry],
    });
    // Every strategy's series exists from the start, at 0 on followers too, so rate() and
    // increase() see a leader's first placements instead of a series appearing mid-way.
    for (const strategy of placementStrategies) this.placements.inc({ strategy }, 0);
    this.planDuration = new Histogram({
      name: "orchestrator_scheduler_plan_duration_seconds",
      help: "Time to compute one deployment's plan (leader only).",
      buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1],
      registers: [registry],
    });
    this.rejected = new Counter({
      name: "orchestrator_scheduler_plan_rejections_total",
      help: "Placements the FSM refused at apply time (stale plans), to be planned again.",
      registers: [registry],
    });
  }

  start(): void {
    this.unsubscribe.push(
      this.leadership.onChange((change: LeadershipChange) => {
        if (change.kind === "leading") this.activate();
        else this.deactivate();
      }),
      this.fsm.onChange((change) => this.onChange(change)),
      this.fsm.onRestore(() => {
        if (this.model !== null) this.activate();
      }),
    );
    if (this.leadership.isLeader()) this.activate();
  }

  /** Stops listening and planning; proposals in flight still finish. */
  stop(): void {
    for (const unsubscribe of this.unsubscribe.splice(0)) unsubscribe();
    this.deactivate();
  }

  private activate(): void {
    this.model = SchedulerState.fromNodes(this.fsm.listNodes().map(nodeView));
    this.enqueueAllPending();
    this.logger.info(
      { term: this.leadership.term(), role: "leader", nodes: this.model.nodeCount, queued: this.queue.size },
      "scheduler active",
    );
  }

  private deactivate(): void {
    this.model = null;
    this.queue.clear();
    for (const cancel of this.retries) cancel();
    this.retries.clear();
  }

  private onChange(change: StateChange): void {
    const model = this.model;
    if (model === null) return;
    switch (change.kind) {
      case "node": {
        const record = this.fsm.getNode(change.id);
        if (record === undefined) {
          model.removeNode(change.id);
          return;
        }
        const wasReady = model.node(change.id)?.status === "ready";
        const view = nodeView(record);
        model.upsertNode(view);
        // Capacity appeared: everything still pending may fit now.
        if (view.status === "ready" && !wasReady) this.enqueueAllPending();
        return;
      }
      case "deployment":
        if (change.action === "put") this.enqueue(change.id);
        return;
      case "container": {
        const container = this.fsm.getContainer(change.id);
        if (container !== undefined && container.state === "pending") this.enqueue(container.deployment);
        return;
      }
      case "event":
        return;
      default:
        return assertNever(change.kind, "state change kind");
    }
  }

  private enqueueAllPending(): void {
    // Not listDeployments(): that summarises every container of every deployment (a second or
    // more at a million containers, on the Raft loop when called from a role change).
    for (const name of this.fsm.deploymentsWithPending()) this.enqueue(name);
  }

  private enqueue(name: string): void {
    this.queue.add(name);
    if (!this.running) {
      this.running = true;
      setImmediate(() => void this.drain());
    }
  }

  private async drain(): Promise<void> {
    try {
      while (this.model !== null && this.queue.size > 0) {
        // Plan up to evaluationsPerTurnMax deployments back to back, each against the model with
        // the plans before it applied (optimistically), propose them all, then wait for all of
        // them: the plans share appends and fsyncs instead of paying a commit round trip each
        // (one at a time, a million placements took ~1,000 sequential commits). Nothing else can
        // change the model between these plans: they are made in one synchronous stretch, and
        // the FSM applies them in the order proposed.
        const proposals: Promise<void>[] = [];
        for (const name of this.nextDeployments(evaluationsPerTurnMax)) {
          if (this.model === null) break;
          this.queue.delete(name);
          const proposal = this.evaluate(name);
          if (proposal !== null) proposals.push(proposal);
        }
        await Promise.all(proposals);
        await new Promise((resolve) => setImmediate(resolve));
      }
    } finally {
      this.running = false;
      if (this.model !== null && this.queue.size > 0) this.enqueue(this.queue.values().next().value as string);
    }
  }

  /**
   * The next `count` deployments to plan, largest request first (binpack packs close to
   * first-fit-decreasing that way), in one pass over the queue: picking one at a time was
   * O(queue) per pick. Queued deployments with nothing pending leave the queue here.
   */
  private nextDeployments(count: number): string[] {
    const best: Array<{ name: string; size: number }> = [];
    for (const name of this.queue) {
      // The record, not getDeployment(): that visits every container of the deployment.
      const spec = this.fsm.getDeploymentRecord(name)?.spec;
      if (spec === undefined || this.fsm.pendingCount(name) === 0) {
        this.queue.delete(name);
        continue;
      }
      const size = spec.cpuMillicores + spec.memoryMib;
      if (best.length === count && size <= best[best.length - 1].size) continue;
      let at = best.length;
      while (at > 0 && best[at - 1].size < size) at--;
      best.splice(at, 0, { name, size });
      if (best.length > count) best.pop();
    }
    return best.map((b) => b.name);
  }

  /** Plans one deployment and starts proposing the plan; null when there is nothing to propose. */
  private evaluate(name: string): Promise<void> | null {
    const model = this.model;
    const deployment = this.fsm.getDeploymentRecord(name);
    if (model === null || deployment === undefined) return null;
    // Only replicas of the current version are placed (by its spec's constraints and requests):
    // a pending one of an older version is left to the rollout, which removes it.
    const pending = this.fsm.pendingContainers(name).filter((c) => c.version === deployment.version);
    if (pending.length === 0) return null;
    const request = this.placementRequest(
      name,
      pending.map((c) => c.id),
    );
    if (request === undefined) return null;
    const seed = evaluationSeed(name, this.fsm.revision);
    const started = this.clock.nowMs();
    const plan = planDeployment(model, request, seed);
    this.planDuration.observe((this.clock.nowMs() - started) / 1000);
    const reasonChanged = plan.pendingReason !== deployment.pendingReason;
    if (plan.placements.length === 0 && !reasonChanged) return null;
    model.applyPlan(plan, request);
    return this.propose(plan, request);
  }

  private placementRequest(name: string, containerIds: string[]): PlacementRequest | undefined {
    const deployment = this.fsm.getDeploymentRecord(name);
    if (deployment === undefined) return undefined;
    const spec = deployment.spec;
    const existing = new Map<string, number>();
    for (const c of this.fsm.listContainers({ deployment: name, limit: fsmLimits.containersListMax }).containers) {
      if (holdsCapacity(c)) existing.set(c.node, (existing.get(c.node) ?? 0) + 1);
    }
    return {
      deployment: name,
      deploymentVersion: deployment.version,
      cpuMillicores: spec.cpuMillicores,
      memoryMib: spec.memoryMib,
      strategy: spec.strategy,
      regions: spec.regions,
      clientRegions: spec.clientRegions,
      onePerNode: spec.onePerNode,
      containerIds,
      existing,
    };
  }

  /** Proposes the plan in chunks the FSM accepts; anything rejected is planned again shortly. */
  private async propose(plan: Plan, request: PlacementRequest): Promise<void> {
    const chunkMax = fsmLimits.placementsPerPlanMax;
    const chunks = plan.placements.length === 0 ? [[]] : chunk(plan.placements, chunkMax);
    let rejected = 0;
    for (const placements of chunks) {
      const outcome = await this.proposer.propose(
        {
          kind: "apply-plan",
          applyPlan: {
            planId: plan.planId,
            seed: plan.seed,
            deployment: plan.deployment,
            deploymentVersion: plan.deploymentVersion,
            placements,
            pendingReason: plan.pendingReason,
          },
        },
        "apply-plan",
      );
      if (!outcome.ok) {
        // Lost leadership or a timeout: the next leader (or the retry) plans from its own state.
        this.logger.warn(
          {
            term: this.leadership.term(),
            role: this.leadership.isLeader() ? "leader" : "follower",
            plan: plan.planId,
            err: outcome.error.message,
          },
          "plan proposal failed",
        );
        rejected += placements.length;
        continue;
      }
      const value = outcome.value;
      this.placements.inc({ strategy: request.strategy }, value.placed);
      rejected += value.rejected;
      if (value.rejected > 0)
        this.logger.info(
          { term: this.leadership.term(), role: "leader", plan: plan.planId, rejections: value.rejections },
          "plan partly rejected at apply; replanning",
        );
    }
    if (plan.unplaced.length > 0)
      this.logger.info(
        {
          term: this.leadership.term(),
          role: "leader",
          deployment: plan.deployment,
          unplaced: plan.unplaced.length,
          reason: plan.pendingReason,
        },
        "replicas remain pending",
      );
    if (rejected > 0) {
      this.rejected.inc(rejected);
      this.resyncNodes(plan);
      this.retryLater(request.deployment);
    }
  }

  private retryLater(deployment: string): void {
    if (this.model === null) return;
    const cancel = this.clock.setTimer(retryDelayMs, () => {
      this.retries.delete(cancel);
      if (this.model !== null) this.enqueue(deployment);
    });
    this.retries.add(cancel);
  }

  /**
   * The model booked the plan's allocations before proposing it (applyPlan above). A placement
   * the FSM refused, or a proposal that failed, changed no node record, so no FSM change would
   * ever take that guess back: the nodes would look fuller than they are until something else
   * touched them. So take the FSM's records for these nodes instead. No plan is made while
   * proposals are in flight (drain waits for all of a turn's proposals before planning again),
   * and whatever still lands on these nodes afterwards (a later plan of the same turn, a failed
   * proposal that commits after all) arrives as an ordinary node change, so the model is exact
   * again before the next plan.
   */
  private resyncNodes(plan: Plan): void {
    const model = this.model;
    if (model === null) return;
    for (const nodeId of new Set(plan.placements.map((placement) => placement.nodeId))) {
      const record = this.fsm.getNode(nodeId);
      if (record === undefined) model.removeNode(nodeId);
      else model.upsertNode(nodeView(record));
    }
  }
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Randomness for a plan, derived from the evaluation so a post-mortem (and `orchctl plan`) can replay it. */
export function evaluationSeed(name: string, revision: number): number {
  let hash = 2166136261 ^ revision;
  for (let i = 0; i < name.length; i++) hash = Math.imul(hash ^ name.charCodeAt(i), 16777619);
  return hash >>> 0;
}
