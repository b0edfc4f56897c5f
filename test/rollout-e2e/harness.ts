import { randomUUID } from "node:crypto";
import { DeployRequest, GetDeploymentRequest, InjectFaultRequest } from "../../src/gen/orchestrator/v1/orchestrator.js";
import {
  DeploymentSpec,
  Strategy,
  type Deployment,
  type Event,
  type HealthCheck,
  type UpdatePolicy,
} from "../../src/gen/orchestrator/v1/types.js";
import { HealthCluster, containerView, sleep, type ContainerView } from "../health-e2e/harness.js";

/**
 * Rollouts end to end: three real replicas and three real node agents (test/health-e2e/harness.ts),
 * driven through the gRPC API. A sampler reads the deployment every ~100 ms all along, so a test
 * sees the healthy count and every container at each moment, whatever the leader does.
 */

export const sampleEveryMs = 100;

export interface RolloutDeploySpec {
  readonly name: string;
  readonly image: string;
  readonly replicas: number;
  readonly update: UpdatePolicy;
  readonly healthCheck?: Partial<HealthCheck>;
}

/** A container with the version it runs. */
export interface VersionedContainer extends ContainerView {
  readonly version: number;
}

export interface RolloutView {
  readonly deployment: Deployment;
  readonly containers: VersionedContainer[];
}

export interface Sample {
  readonly atMs: number;
  readonly view: RolloutView;
  /** Containers wanted running that run and are healthy. */
  readonly healthy: number;
}

export class RolloutCluster {
  private readonly clientId = `rollout-e2e-${randomUUID()}`;
  private seq = 0;
  /** Every event seen by get(), by revision/kind/container. */
  private readonly seen = new Map<string, Event>();

  private constructor(readonly h: HealthCluster) {}

  static async start(name: string): Promise<RolloutCluster> {
    return new RolloutCluster(await HealthCluster.start(name, 1));
  }

  async close(): Promise<void> {
    await this.h.close();
  }

  async deploy(spec: RolloutDeploySpec, force = false): Promise<Deployment> {
    this.seq += 1;
    const full = DeploymentSpec.fromPartial({
      name: spec.name,
      image: spec.image,
      replicas: spec.replicas,
      cpuMillicores: 250,
      memoryMib: 128,
      strategy: Strategy.STRATEGY_SPREAD,
      healthCheck: { periodMs: 300, timeoutMs: 200, failureThreshold: 2, successThreshold: 1, ...spec.healthCheck },
      update: spec.update,
    });
    const response = await this.h.call(
      "deploy",
      DeployRequest.fromPartial({ header: { clientId: this.clientId, seq: this.seq }, spec: full, force }),
    );
    if (response.deployment === undefined) throw new Error(`deploy ${spec.name}: no deployment in the answer`);
    return response.deployment;
  }

  /** A linearizable read of the deployment with its containers' versions; remembers its events. */
  async get(name: string): Promise<RolloutView> {
    const response = await this.h.call("getDeployment", GetDeploymentRequest.fromPartial({ name }));
    const deployment = response.deployment;
    if (deployment === undefined) throw new Error(`deployment ${name} missing from its GetDeployment answer`);
    for (const e of deployment.recentEvents) this.seen.set(`${e.revision}/${e.kind}/${e.container}`, e);
    return {
      deployment,
      containers: response.containers.map((c) => ({ ...containerView(c), version: c.version })),
    };
  }

  /** Every event of `kind` seen so far, oldest first. */
  events(kind: string): Event[] {
    return [...this.seen.values()].filter((e) => e.kind === kind).sort((a, b) => a.revision - b.revision);
  }

  /** Every instance of `image`, on every agent, behaves this way (InjectFault target "image"). */
  async imageFault(image: string, action: "crash" | "unhealthy" | "slow-start" | "healthy"): Promise<void> {
    await this.h.call("injectFault", InjectFaultRequest.fromPartial({ target: "image", id: image, action }));
  }

  /** Starts sampling the deployment every ~100 ms until the returned stop is called. */
  sample(name: string): { readonly samples: Sample[]; stop(): Promise<void> } {
    const samples: Sample[] = [];
    let stopped = false;
    const loop = (async () => {
      while (!stopped) {
        const view = await this.get(name);
        samples.push({ atMs: Date.now(), view, healthy: healthyCount(view.containers) });
        await sleep(sampleEveryMs);
      }
    })();
    return {
      samples,
      async stop() {
        stopped = true;
        await loop;
      },
    };
  }
}

export function healthyCount(containers: readonly ContainerView[]): number {
  return containers.filter((c) => c.desired === "running" && c.state === "running" && c.health === "healthy").length;
}
