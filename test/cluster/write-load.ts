import { DeployRequest, type DeployResponse } from "../../src/gen/orchestrator/v1/orchestrator.js";
import { DeploymentSpec } from "../../src/gen/orchestrator/v1/types.js";
import type { TestCluster } from "./harness.js";

/** One write of the load: when it started and ended, and whether the cluster acknowledged it. */
export interface WriteRecord {
  readonly name: string;
  readonly startedMs: number;
  readonly endedMs: number;
  readonly acknowledged: boolean;
  /** orchctl's stderr when it failed. */
  readonly error?: string;
}

/**
 * A steady stream of `orchctl deploy` commands with unique names, from `writers` concurrent
 * loops, through every endpoint (the CLI finds the leader, follows redirects and retries across
 * failovers with the same request id). Stops when stop() is called; every write is recorded.
 */
export class WriteLoad {
  readonly records: WriteRecord[] = [];
  private stopping = false;
  private readonly loops: Promise<void>[] = [];

  constructor(
    private readonly cluster: TestCluster,
    private readonly prefix: string,
    writers: number,
    /** orchctl --timeout per write, in seconds: long enough to ride out a failover. */
    private readonly timeoutSeconds = 30,
  ) {
    for (let w = 0; w < writers; w++) this.loops.push(this.loop(w));
  }

  acknowledged(): string[] {
    return this.records.filter((r) => r.acknowledged).map((r) => r.name);
  }

  /** Writes acknowledged after `ms` (a Date.now() time). */
  acknowledgedAfter(ms: number): number {
    return this.records.filter((r) => r.acknowledged && r.endedMs > ms).length;
  }

  /** Lets each writer finish its current write, then resolves. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.loops);
  }

  private async loop(writer: number): Promise<void> {
    for (let i = 0; !this.stopping; i++) {
      const name = `${this.prefix}-${writer}-${i}`;
      const startedMs = Date.now();
      const result = await this.cluster.orchctl([
        "--timeout",
        String(this.timeoutSeconds),
        "deploy",
        name,
        "--image",
        "nginx:1.27",
        "--cpu",
        "100m",
        "--memory",
        "64Mi",
      ]);
      this.records.push({
        name,
        startedMs,
        endedMs: Date.now(),
        acknowledged: result.code === 0,
        ...(result.code === 0 ? {} : { error: result.stderr.trim() }),
      });
    }
  }
}

/** The longest time between two consecutive acknowledgements, in ms: the write outage. */
export function longestAckGapMs(records: readonly WriteRecord[]): number {
  const acks = records
    .filter((r) => r.acknowledged)
    .map((r) => r.endedMs)
    .sort((a, b) => a - b);
  let gap = 0;
  for (let i = 1; i < acks.length; i++) gap = Math.max(gap, acks[i] - acks[i - 1]);
  return gap;
}

/**
 * `count` one-replica deployments named `<prefix>-<i>` straight to the leader over gRPC,
 * `workers` at a time (each worker its own client id); `acknowledged` hears each one answered.
 */
export async function deployMany(
  cluster: TestCluster,
  leaderId: string,
  prefix: string,
  count: number,
  acknowledged: (name: string, response: DeployResponse) => void,
  workers = 8,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: workers }, async (_, worker) => {
      for (let seq = 1; ; seq++) {
        const i = next++;
        if (i >= count) return;
        const name = `${prefix}-${i}`;
        const spec = DeploymentSpec.fromPartial({
          name,
          image: "nginx:1.27",
          replicas: 1,
          cpuMillicores: 100,
          memoryMib: 64,
        });
        const response = await cluster.call(
          leaderId,
          "deploy",
          DeployRequest.fromPartial({ header: { clientId: `${prefix}-writer-${worker}`, seq }, spec }),
        );
        acknowledged(name, response);
      }
    }),
  );
}
