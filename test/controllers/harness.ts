/**
 * Leader controllers in process: a ManualClock, the real FSM behind an InMemoryLog, its
 * LeaderBarrier as the leadership signal, and an InMemoryProposer. No process, no Raft, no
 * wall-clock waiting: the tests move time with advance(), and let the event loop turn (settle)
 * for what the controllers do between timers (the scheduler's drain, proposals on microtasks,
 * probes over real HTTP).
 */
import { Registry } from "prom-client";
import { type ContainerRecord, type ControllerPorts } from "../../src/fsm/index.js";
import { ContainerState, NodeStatus, Strategy, type DeploymentSpec } from "../../src/gen/orchestrator/v1/types.js";
import { HealthState } from "../../src/gen/orchestrator/v1/fsm.js";
import { ManualClock } from "../../src/lib/clock.js";
import { createLogger } from "../../src/lib/logger.js";
import { InMemoryLog, InMemoryProposer } from "./in-memory-proposer.js";

export const logger = createLogger({ test: "controllers" }, process.env["LOG_LEVEL"] ?? "silent");

/** The period of the health controller's timer (controllerTickMs in health-controller.ts). */
export const healthTickMs = 100;
/** One turn of the played agents (playAgents): run() moves the clock by this much between turns. */
export const agentTurnMs = 100;

export class ControllerBench {
  readonly clock = new ManualClock();
  readonly log = new InMemoryLog(this.clock);
  readonly proposer = new InMemoryProposer(this.log, this.clock);
  readonly registry = new Registry();
  private term = 0;

  get fsm(): InMemoryLog["fsm"] {
    return this.log.fsm;
  }

  ports(): ControllerPorts {
    return { state: this.log.fsm, proposer: this.proposer, leadership: this.log.barrier, clock: this.clock };
  }

  /**
   * Raft makes this replica leader of a new term: it appends its first entry of the term, which
   * applies once everything before it has; `behind` committed entries of the earlier leader
   * wait before it (apply them with log.append, then appendNoop for the leader's own entry).
   * With behind = 0 the entry applies at once, and the barrier opens.
   */
  elect(behind = 0): void {
    this.term += 1;
    this.proposer.raftLeader = true;
    const lastIndex = this.log.index + behind + 1;
    this.log.barrier.elected(this.term, lastIndex, this.log.index);
    if (behind === 0) this.log.appendNoop();
  }

  depose(): void {
    this.proposer.raftLeader = false;
    this.log.barrier.deposed(this.term);
  }

  /** Advances the clock in steps of `stepMs`, letting the event loop settle after each step. */
  async advance(totalMs: number, stepMs = healthTickMs, afterStep: () => Promise<void> = settle): Promise<void> {
    for (let done = 0; done < totalMs; done += stepMs) {
      this.clock.advance(Math.min(stepMs, totalMs - done));
      await afterStep();
    }
  }

  // ---- building cluster state the way the agents and the API would, straight into the log

  registerNode(nodeId: string, agentAddress = "127.0.0.1:1", cpuMillicores = 4000): void {
    this.log.ok({
      kind: "register-node",
      registerNode: { nodeId, region: "us-east-1", capacity: { cpuMillicores, memoryMib: 8192 }, agentAddress },
    });
  }

  deploy(spec: Partial<DeploymentSpec> & { name: string }): void {
    this.log.ok({
      kind: "deploy",
      deploy: {
        spec: {
          image: "nginx:1",
          replicas: 1,
          cpuMillicores: 500,
          memoryMib: 256,
          strategy: Strategy.STRATEGY_SPREAD,
          regions: [],
          clientRegions: [],
          onePerNode: false,
          healthCheck: undefined,
          restartPolicy: undefined,
          progressDeadlineMs: 0,
          ...spec,
        },
      },
    });
  }

  place(deployment: string, placements: [containerId: string, nodeId: string][]): void {
    this.log.ok({
      kind: "apply-plan",
      applyPlan: {
        planId: `test-${this.log.index}`,
        seed: 1,
        deployment,
        deploymentVersion: 1,
        placements: placements.map(([containerId, nodeId]) => ({ containerId, nodeId })),
        pendingReason: "",
      },
    });
  }

  /** An agent's report. */
  report(containerId: string, nodeId: string, state: ContainerState): void {
    this.log.ok({
      kind: "container-status",
      containerStatus: { containerId, nodeId, state, health: HealthState.HEALTH_STATE_UNSPECIFIED, message: "" },
    });
  }

  nodeStatus(nodeId: string): string | undefined {
    return this.fsm.getNode(nodeId)?.status;
  }

  // ---- agents and a prober played straight into the log (tests of controllers that wait on health)

  /** What the played prober finds: healthy unless a test says otherwise. */
  protected probedHealthy(_container: Readonly<ContainerRecord>): boolean {
    return true;
  }

  /** The agents and the prober, for one turn: stop what should stop, run what is placed, report health. */
  playAgents(): void {
    const containers = [...this.fsm.allContainers()].map((c) => ({ ...c }));
    for (const c of containers) {
      if (c.node === "") continue;
      if (c.desired === "stopped") {
        if (c.state !== "stopped" && c.state !== "failed" && c.state !== "lost")
          this.report(c.id, c.node, ContainerState.CONTAINER_STATE_STOPPED);
        continue;
      }
      if (c.state === "scheduled" || c.state === "starting") {
        this.report(c.id, c.node, ContainerState.CONTAINER_STATE_RUNNING);
        continue;
      }
      if (c.state !== "running" && c.state !== "unhealthy") continue;
      const healthy = this.probedHealthy(c);
      if ((healthy && c.health === "healthy") || (!healthy && c.health === "unhealthy")) continue;
      this.log.ok({
        kind: "container-health",
        containerHealth: {
          containerId: c.id,
          health: healthy ? HealthState.HEALTH_STATE_HEALTHY : HealthState.HEALTH_STATE_UNHEALTHY,
          reason: "",
        },
      });
    }
  }

  /** Moves time by `totalMs`, with the played agents reporting after every turn. */
  async run(totalMs: number): Promise<void> {
    await this.advance(totalMs, agentTurnMs, async () => {
      await settle();
      this.playAgents();
      await settle();
    });
  }

  /** Runs until `done` holds, at most `limitMs` of clock time. */
  async runUntil(done: () => boolean, what: string, limitMs = 120_000): Promise<void> {
    for (let ms = 0; !done(); ms += agentTurnMs) {
      if (ms > limitMs) throw new Error(`not ${what} after ${limitMs} ms of clock time`);
      await this.run(agentTurnMs);
    }
  }
}

/** Lets the event loop run until nothing the controllers started in this turn is left (bounded). */
export async function settle(turns = 20): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** Waits (real time, generous deadline) for a condition that depends on real IO, such as an HTTP probe. */
export async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise<void>((resolve) => setTimeout(resolve, 1));
  }
}

export { ContainerState, NodeStatus };
