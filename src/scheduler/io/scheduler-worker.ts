import { Counter, Histogram, type Registry } from "prom-client";
import { CommandProposer } from "../../api/command-proposer.js";
import { OrchestratorError } from "../../lib/errors.js";
import type { Logger } from "../../lib/logger.js";
import { fsmLimits, holdsCapacity, type ClusterFsm, type NodeRecord, type StateChange } from "../../fsm/index.js";
import type { RaftNode, RoleChange } from "../../raft/io/raft-node.js";
import { SchedulerState, planDeployment, type NodeView, type Plan, type PlacementRequest } from "../core/index.js";

/** How long to wait before re-evaluating a deployment whose plan the FSM partly rejected. */
const retryDelayMs = 50;
/** Evaluations run back to back before the worker yields to the event loop. */
const evaluationsPerTurnMax = 16;

export function nodeView(node: Readonly<NodeRecord>): NodeView {
  return {
    id: node.id,
    region: node.region,
    cpuCapacity: node.capacity.cpuMillicores,
    memoryCapacity: node.capacity.memoryMib,
    cpuAllocated: node.allocated.cpuMillicores,
    memoryAllocated: node.allocated.memoryMib,
    status: node.status,
  };
}

/**
 * The leader's scheduler: turns deployment and node changes into evaluations, plans each
 * against its model of the cluster, and proposes the plan through Raft. The FSM re-checks
 * every placement at apply time; what it rejects is simply evaluated again.
 */
export class SchedulerWorker {
  private model: SchedulerState | null = null;
  private readonly queue = new Set<string>();
  private running = false;
  private readonly proposer: CommandProposer;
  private readonly placements: Counter<"strategy">;
  private readonly planDuration: Histogram;
  private readonly rejected: Counter;

  constructor(
    private readonly node: RaftNode,
    private readonly fsm: ClusterFsm,
    private readonly logger: Logger,
    registry: Registry,
  ) {
    this.proposer = new CommandProposer(node);
    this.placements = new Counter({
      name: "orchestrator_scheduler_placements_total",
      help: "Containers placed by this replica's scheduler (leader only), by strategy.",
      labelNames: ["strategy"],
      registers: [registry],
    });
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
    this.node.on("role-change", (change: RoleChange) => {
      if (change.role === "leader") this.activate();
      else this.deactivate();
    });
    this.fsm.onChange((change) => this.onChange(change));
    this.fsm.onRestore(() => {
      if (this.model !== null) this.activate();
    });
    if (this.node.isLeader()) this.activate();
  }

  private activate(): void {
    this.model = SchedulerState.fromNodes(this.fsm.listNodes().map(nodeView));
    this.enqueueAllPending();
    this.logger.info({ term: this.node.status().term, role: "leader", nodes: this.model.nodeCount, queued: this.queue.size }, "scheduler active");
  }

  private deactivate(): void {
    this.model = null;
    this.queue.clear();
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
        model.upsertNode(nodeView(record));
        // Capacity appeared: everything still pending may fit now.
        if (record.status === "ready" && !wasReady) this.enqueueAllPending();
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
    }
  }

  private enqueueAllPending(): void {
    for (const view of this.fsm.listDeployments()) {
      if (view.status.byState.pending > 0) this.enqueue(view.deployment.spec.name);
    }
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
      let sinceYield = 0;
      while (this.model !== null && this.queue.size > 0) {
        const name = this.nextDeployment();
        this.queue.delete(name);
        await this.evaluate(name);
        if (++sinceYield >= evaluationsPerTurnMax) {
          sinceYield = 0;
          await new Promise((resolve) => setImmediate(resolve));
        }
      }
    } finally {
      this.running = false;
      if (this.model !== null && this.queue.size > 0) this.enqueue(this.queue.values().next().value as string);
    }
  }

  /** Largest request first: binpack packs close to first-fit-decreasing that way. */
  private nextDeployment(): string {
    let best = "";
    let bestSize = -1;
    for (const name of this.queue) {
      const spec = this.fsm.getDeployment(name)?.deployment.spec;
      const size = spec === undefined ? 0 : spec.cpuMillicores + spec.memoryMib;
      if (size > bestSize) {
        best = name;
        bestSize = size;
      }
    }
    return best;
  }

  private async evaluate(name: string): Promise<void> {
    const model = this.model;
    const view = this.fsm.getDeployment(name);
    if (model === null || view === undefined) return;
    const pending = this.fsm.pendingContainers(name);
    if (pending.length === 0) return;
    const request = this.placementRequest(name, pending.map((c) => c.id));
    if (request === undefined) return;
    const seed = evaluationSeed(name, this.fsm.revision);
    const started = performance.now();
    const plan = planDeployment(model, request, seed);
    this.planDuration.observe((performance.now() - started) / 1000);
    const reasonChanged = plan.pendingReason !== view.deployment.pendingReason;
    if (plan.placements.length === 0 && !reasonChanged) return;
    model.applyPlan(plan, request);
    await this.propose(plan, request);
  }

  private placementRequest(name: string, containerIds: string[]): PlacementRequest | undefined {
    const view = this.fsm.getDeployment(name);
    if (view === undefined) return undefined;
    const spec = view.deployment.spec;
    const existing = new Map<string, number>();
    for (const c of this.fsm.listContainers({ deployment: name, limit: fsmLimits.containersListMax }).containers) {
      if (holdsCapacity(c)) existing.set(c.node, (existing.get(c.node) ?? 0) + 1);
    }
    return {
      deployment: name,
      deploymentVersion: view.deployment.version,
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
      try {
        const value = await this.proposer.propose(
          undefined,
          {
            kind: "apply-plan",
            applyPlan: { planId: plan.planId, seed: plan.seed, deployment: plan.deployment, deploymentVersion: plan.deploymentVersion, placements, pendingReason: plan.pendingReason },
          },
          "apply-plan",
        );
        this.placements.inc({ strategy: request.strategy }, value.placed);
        rejected += value.rejected;
        if (value.rejected > 0) this.logger.info({ term: this.node.status().term, role: "leader", plan: plan.planId, rejections: value.rejections }, "plan partly rejected at apply; replanning");
      } catch (error) {
        // Lost leadership or a timeout: the next leader (or the retry) plans from its own state.
        const term = this.node.status().term;
        this.logger.warn({ term, role: this.node.isLeader() ? "leader" : "follower", plan: plan.planId, err: error instanceof OrchestratorError ? error.message : String(error) }, "plan proposal failed");
        rejected += placements.length;
      }
    }
    if (plan.unplaced.length > 0) this.logger.info({ term: this.node.status().term, role: "leader", deployment: plan.deployment, unplaced: plan.unplaced.length, reason: plan.pendingReason }, "replicas remain pending");
    if (rejected > 0) {
      this.rejected.inc(rejected);
      setTimeout(() => {
        if (this.model !== null) this.enqueue(request.deployment);
      }, retryDelayMs);
    }
  }
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Randomness for a plan, derived from the evaluation so a post-mortem can replay it. */
function evaluationSeed(name: string, revision: number): number {
  let hash = 2166136261 ^ revision;
  for (let i = 0; i < name.length; i++) hash = Math.imul(hash ^ name.charCodeAt(i), 16777619);
  return hash >>> 0;
}
