/**
 * A small simulated world for the rollout core: the real ClusterFsm, a first-fit scheduler onto
 * random nodes, agents that start and stop containers, probes whose verdicts come from the image
 * (a "bad" image is never healthy) and from injected failures, and the rollout controller's loop
 * (rolloutViewOf -> decideRollout -> rolloutCommandOf) applied through the FSM's commands.
 */
import { HealthState } from "../../src/gen/orchestrator/v1/fsm.js";
import { ContainerState, type UpdatePolicy } from "../../src/gen/orchestrator/v1/types.js";
import { ClusterFsm, encodeCommand, fitsOn, type ApplyResult, type CommandBody } from "../../src/fsm/index.js";
import { Prng } from "../../src/lib/prng.js";
import { decideRollout, type RolloutDecision } from "../../src/rollout/core/index.js";
import { rolloutCommandOf, rolloutViewOf } from "../../src/rollout/fsm-view.js";
import { spec, t0 } from "../fsm/helpers.js";

export const tickMs = 1_000;

export interface WorldConfig {
  readonly seed: number;
  readonly nodes: number;
  /** Per node, in replicas of 500m cpu. */
  readonly slotsPerNode: number;
  readonly replicas: number;
  readonly policy: Required<UpdatePolicy>;
  /** The new version's image is never healthy. */
  readonly badImage: boolean;
  /** Chance per tick and running container of an injected failure (unhealthy). */
  readonly failureChance: number;
  /** Chance per tick that a node dies (declared down); it comes back 3 ticks later. */
  readonly nodeLossChance?: number;
}

/** What a step did to the healthy count, for the invariant. */
export interface StepRecord {
  readonly atMs: number;
  readonly healthyBefore: number;
  readonly healthyAfter: number;
  readonly replicas: number;
  readonly maxParallel: number;
  readonly isRevert: boolean;
  readonly stoppedImages: readonly string[];
  readonly targetImage: string;
}

export class World {
  readonly fsm = new ClusterFsm();
  readonly random: Prng;
  readonly steps: StepRecord[] = [];
  readonly decisions: RolloutDecision[] = [];
  nowMs = t0;
  private index = 0;

  constructor(readonly config: WorldConfig) {
    this.random = new Prng(config.seed);
    for (let n = 0; n < config.nodes; n++)
      this.ok({
        kind: "register-node",
        registerNode: {
          nodeId: `n${n}`,
          region: "us-east-1",
          capacity: { cpuMillicores: 500 * config.slotsPerNode, memoryMib: 256 * config.slotsPerNode },
          agentAddress: `n${n}:9101`,
        },
      });
  }

  apply(body: CommandBody): ApplyResult {
    this.index += 1;
    const result = this.fsm.apply(this.index, encodeCommand({ clientId: "", seq: 0, atMs: this.nowMs, body }));
    this.fsm.checkInvariants();
    return result;
  }

  ok(body: CommandBody): void {
    const result = this.apply(body);
    if (!result.ok) throw new Error(`${body.kind} refused: ${result.code} ${result.message}`);
  }

  deploy(image: string, policy: Partial<UpdatePolicy> = {}): void {
    this.ok({
      kind: "deploy",
      deploy: { spec: spec({ image, replicas: this.config.replicas, update: { ...this.config.policy, ...policy } }) },
    });
  }

  imageOf(version: number): string {
    return this.fsm.getDeploymentRecord("web")?.history.find((v) => v.version === version)?.spec.image ?? "?";
  }

  /** The healthy replicas wanted running, as the invariant counts them. */
  healthy(): number {
    return this.fsm
      .listContainers({ deployment: "web", limit: 100_000 })
      .containers.filter((c) => c.desired === "running" && c.state === "running" && c.health === "healthy").length;
  }

  /** One tick of the world: scheduler, agents, probes, then the rollout controller. */
  tick(): void {
    this.nowMs += tickMs;
    this.nodes();
    this.schedule();
    this.agents();
    this.probes();
    this.control();
  }

  /** Brings a fresh deployment to all-healthy and closes its deploy operation (its version is then stable). */
  settle(): void {
    for (let i = 0; i < 20; i++) {
      this.nowMs += tickMs;
      this.schedule();
      this.agents();
      for (const c of this.containers()) if (c.state === "running" && c.health !== "healthy") this.health(c.id, true);
    }
    const op = this.fsm.openOperation("web");
    if (op !== undefined)
      this.ok({ kind: "operation-outcome", operationOutcome: { operationId: op.id, succeeded: true, reason: "" } });
  }

  private containers() {
    return this.fsm.listContainers({ deployment: "web", limit: 100_000 }).containers;
  }

  private readonly downUntil = new Map<string, number>();

  private nodes(): void {
    for (const [id, until] of this.downUntil)
      if (this.nowMs >= until) {
        this.downUntil.delete(id);
        const node = this.fsm.getNode(id)!;
        this.ok({
          kind: "register-node",
          registerNode: { nodeId: id, region: node.region, capacity: node.capacity, agentAddress: node.agentAddress },
        });
      }
    if (!this.random.chance(this.config.nodeLossChance ?? 0)) return;
    const id = `n${this.random.nextInt(this.config.nodes)}`;
    if (this.downUntil.has(id)) return;
    this.downUntil.set(id, this.nowMs + 3 * tickMs);
    this.ok({ kind: "node-down", nodeDown: { nodeId: id, reason: "injected" } });
  }

  private schedule(): void {
    const record = this.fsm.getDeploymentRecord("web");
    if (record === undefined) return;
    const pending = this.fsm.pendingContainers("web").filter((c) => c.version === record.version);
    if (pending.length === 0) return;
    const nodes = this.fsm.listNodes().filter((n) => n.status === "ready");
    if (nodes.length === 0) return;
    const used = new Map(nodes.map((n) => [n.id, { ...n.allocated }]));
    const placements: { containerId: string; nodeId: string }[] = [];
    for (const c of pending) {
      const start = this.random.nextInt(nodes.length);
      for (let k = 0; k < nodes.length; k++) {
        const node = nodes[(start + k) % nodes.length];
        const allocated = used.get(node.id)!;
        if (!fitsOn({ capacity: node.capacity, allocated }, c)) continue;
        allocated.cpuMillicores += c.cpuMillicores;
        allocated.memoryMib += c.memoryMib;
        placements.push({ containerId: c.id, nodeId: node.id });
        break;
      }
    }
    const unplaced = pending.length - placements.length;
    this.ok({
      kind: "apply-plan",
      applyPlan: {
        planId: `p${this.index}`,
        seed: 1,
        deployment: "web",
        deploymentVersion: record.version,
        placements,
        pendingReason: unplaced > 0 ? `0/${nodes.length} nodes: insufficient cpu` : "",
      },
    });
  }

  private agents(): void {
    for (const c of this.containers()) {
      if (c.node === "") continue;
      if (c.desired === "stopped" && c.state !== "lost") {
        this.ok(status(c.id, c.node, ContainerState.CONTAINER_STATE_STOPPED));
        continue;
      }
      if (c.state === "scheduled" || c.state === "starting")
        this.ok(status(c.id, c.node, ContainerState.CONTAINER_STATE_RUNNING));
    }
  }

  private probes(): void {
    for (const c of this.containers()) {
      if (c.desired !== "running" || !(c.state === "running" || c.state === "unhealthy")) continue;
      const bad = this.imageOf(c.version) === "bad:2";
      const fails = bad || this.random.chance(this.config.failureChance);
      if (fails) {
        if (c.health !== "unhealthy") this.health(c.id, false);
      } else if (c.health !== "healthy" && (c.health === "unknown" || this.random.chance(0.5))) {
        this.health(c.id, true);
      }
    }
  }

  private health(id: string, healthy: boolean): void {
    this.ok({
      kind: "container-health",
      containerHealth: {
        containerId: id,
        health: healthy ? HealthState.HEALTH_STATE_HEALTHY : HealthState.HEALTH_STATE_UNHEALTHY,
        reason: "",
      },
    });
  }

  /** The rollout controller's loop, as the leader runs it. */
  control(): RolloutDecision | null {
    const view = rolloutViewOf(this.fsm, "web");
    if (view === undefined) return null;
    const decision = decideRollout(view, this.nowMs);
    this.decisions.push(decision);
    const command = rolloutCommandOf("web", decision);
    if (command === null) return decision;
    const record = this.fsm.getDeploymentRecord("web")!;
    const before = this.healthy();
    const stoppedImages =
      decision.kind === "step"
        ? decision.stopIds.map((id) => this.imageOf(this.fsm.getContainer(id)?.version ?? 0))
        : [];
    const isRevert = record.rollout?.isRevert ?? false;
    const targetImage = record.spec.image;
    this.ok(command);
    // A deposed leader proposing the same step again (or a retry): applied once, never twice.
    if (decision.kind === "step" && this.random.chance(0.3)) {
      const again = this.apply(command);
      if (!(again.ok && again.value.kind === "rollout-step" && !again.value.applied))
        throw new Error(`a repeated step was applied again: ${JSON.stringify(again)}`);
    }
    if (decision.kind === "step")
      this.steps.push({
        atMs: this.nowMs,
        healthyBefore: before,
        healthyAfter: this.healthy(),
        replicas: record.spec.replicas,
        maxParallel: record.spec.update.maxParallel,
        isRevert,
        stoppedImages,
        targetImage,
      });
    return decision;
  }
}

function status(containerId: string, nodeId: string, state: ContainerState): CommandBody {
  return {
    kind: "container-status",
    containerStatus: { containerId, nodeId, state, health: HealthState.HEALTH_STATE_UNSPECIFIED, message: "" },
  };
}
