/**
 * A writer that keeps writing through a leader crash: every write is retried until some replica
 * acknowledges it, and the time and replica of every acknowledgement are recorded, so a failover
 * benchmark can measure the gap in acknowledged writes around a kill. How to attempt a write and
 * where to go after a failure are the system's business (`FollowingSystem`): our cluster names
 * the leader in the failure's trailers, etcd is asked for its leader through Maintenance.Status.
 */
import * as grpc from "@grpc/grpc-js";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import type { OrchestratorServiceClient, ScaleResponse } from "../src/gen/orchestrator/v1/orchestrator.js";
import { toRpcFailure } from "../src/lib/rpc-failure.js";
import { EtcdChannel, encodePutRequest } from "./etcd-client.js";
import { errorText } from "./load-generator.js";
import { clusterStatus, findLeader, orchestratorChannel } from "./orchestrator-bench-client.js";

export interface Ack {
  /** performance.now() when the acknowledgement arrived. */
  readonly atMs: number;
  /** Index into the system's endpoints of the replica that acknowledged. */
  readonly endpoint: number;
}

export interface FollowingSystem {
  readonly endpoints: readonly string[];
  /** Where the first write goes: the current leader. */
  initial(): Promise<number>;
  /** One attempt of write `seq` at endpoints[index]; throws on any failure. */
  attempt(index: number, seq: number): Promise<void>;
  /** Where to try next after `error` at endpoints[index]; may wait (it is the system's retry pacing). */
  next(index: number, error: unknown): Promise<number>;
  /** Makes sure every channel is connected (after a replica restarts). */
  warm(): Promise<void>;
  close(): void;
}

const writerLimits = {
  /** One write is given up (and counted as an error) after this long. */
  writeMsMax: 20_000,
  /** Acknowledgements kept; a failover run makes a few tens of thousands. */
  acksMax: 1_000_000,
  /** Pause after a full round of failed attempts over every endpoint. */
  roundPauseMs: 2,
  attemptTimeoutMs: 2_000,
  statusTimeoutMs: 100,
  /** How long one search for etcd's leader may poll before the writer just tries the next member. */
  leaderSearchMsMax: 5_000,
  failedAttemptsKept: 2_000,
} as const;

/** One failed attempt, kept so a round can show how the writer got through a failover. */
export interface FailedAttempt {
  readonly startMs: number;
  readonly endMs: number;
  readonly endpoint: number;
  readonly error: string;
}

export class FollowingWriter {
  readonly acks: Ack[] = [];
  /** The most recent failed attempts (at most failedAttemptsKept). */
  failedAttempts: FailedAttempt[] = [];
  private current = 0;
  attempts = 0;
  failures = 0;

  constructor(readonly system: FollowingSystem) {}

  /** Points the writer at the current leader; call once before the first write. */
  async start(): Promise<void> {
    this.current = await this.system.initial();
  }

  async write(seq: number, signal?: AbortSignal): Promise<void> {
    const started = performance.now();
    for (;;) {
      const index = this.current;
      this.attempts += 1;
      const attemptStart = performance.now();
      try {
        await this.system.attempt(index, seq);
        if (this.acks.length < writerLimits.acksMax) this.acks.push({ atMs: performance.now(), endpoint: index });
        return;
      } catch (error) {
        this.failures += 1;
        this.failedAttempts.push({
          startMs: attemptStart,
          endMs: performance.now(),
          endpoint: index,
          error: errorText(error),
        });
        if (this.failedAttempts.length > writerLimits.failedAttemptsKept)
          this.failedAttempts = this.failedAttempts.slice(-writerLimits.failedAttemptsKept / 2);
        if (signal?.aborted === true || performance.now() - started > writerLimits.writeMsMax) throw error;
        this.current = await this.system.next(index, error);
      }
    }
  }

  /** The first acknowledgement after `afterMs` from a replica other than `excluded`, if any yet. */
  firstAckAfter(afterMs: number, excluded: number): Ack | undefined {
    let earliest: Ack | undefined;
    for (let i = this.acks.length - 1; i >= 0 && this.acks[i].atMs > afterMs; i--)
      if (this.acks[i].endpoint !== excluded) earliest = this.acks[i];
    return earliest;
  }

  /** The last acknowledgement at or before `atMs`. */
  lastAckAtOrBefore(atMs: number): Ack | undefined {
    for (let i = this.acks.length - 1; i >= 0; i--) if (this.acks[i].atMs <= atMs) return this.acks[i];
    return undefined;
  }
}

/**
 * Our cluster: Scale requests with a RequestHeader (a retry after a crash carries the same
 * clientId/seq, so it is applied at most once). After a failure: go where the x-leader-address
 * trailer points, else to the next replica, at once; pause 2 ms after each full round of failures.
 */
export class OursFollowingSystem implements FollowingSystem {
  private readonly channels: OrchestratorServiceClient[];
  private consecutiveFailures = 0;

  constructor(
    readonly endpoints: readonly string[],
    private readonly clientId: string,
    private readonly deployment: string,
  ) {
    this.channels = endpoints.map((e) => orchestratorChannel(e));
  }

  async initial(): Promise<number> {
    const leader = await findLeader(this.endpoints);
    return Math.max(0, this.endpoints.indexOf(leader.apiAddress));
  }

  attempt(index: number, seq: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.channels[index].scale(
        { header: { clientId: this.clientId, seq }, name: this.deployment, replicas: seq % 2 },
        new grpc.Metadata(),
        { deadline: Date.now() + writerLimits.attemptTimeoutMs },
        (error: grpc.ServiceError | null, _response: ScaleResponse) => {
          if (error !== null) {
            reject(error);
            return;
          }
          this.consecutiveFailures = 0;
          resolve();
        },
      );
    });
  }

  async next(index: number, error: unknown): Promise<number> {
    this.consecutiveFailures += 1;
    if (this.consecutiveFailures % this.endpoints.length === 0) await sleep(writerLimits.roundPauseMs);
    // The trailers are read as every client of ours reads them (src/lib); the walk itself stays
    // here, so that each attempt, redirects included, is counted and timed by the writer.
    const redirect = toRpcFailure(error, this.endpoints[index]).leaderRedirect;
    const target = redirect === undefined ? -1 : this.endpoints.indexOf(redirect.address);
    if (target >= 0 && target !== index) return target;
    return (index + 1) % this.endpoints.length;
  }

  async warm(): Promise<void> {
    await Promise.all(this.channels.map((c) => clusterStatus(c, 2_000).catch(() => undefined)));
  }

  close(): void {
    for (const c of this.channels) c.close();
  }
}

/**
 * etcd: Puts of `valueBytes` to the member believed to be leader. A follower would forward a Put
 * to the leader it still believes in, and that Put would hang until its deadline if the leader is
 * dead; so after a failure this writer polls Maintenance.Status on every member (every 2 ms) and
 * writes to the first member that reports itself leader. That is the most favourable client for
 * etcd we can write: no time is lost waiting on a proposal forwarded to a dead leader.
 */
export class EtcdFollowingSystem implements FollowingSystem {
  private readonly channels: EtcdChannel[];
  private readonly value: Buffer;

  constructor(
    readonly endpoints: readonly string[],
    private readonly keyPrefix: string,
    valueBytes: number,
  ) {
    this.channels = endpoints.map((e) => new EtcdChannel(e));
    this.value = Buffer.alloc(valueBytes, 0x61);
  }

  /**
   * The member that reports itself leader. Starting (and staying) at the leader matters for etcd:
   * a follower forwards a Put to the leader it believes in, so a writer parked on a follower
   * would hang until its deadline when that leader dies.
   */
  initial(): Promise<number> {
    return this.next(0, null);
  }

  attempt(index: number, seq: number): Promise<void> {
    return this.channels[index].put(
      encodePutRequest(Buffer.from(`${this.keyPrefix}/${seq % 1000}`), this.value),
      writerLimits.attemptTimeoutMs,
    );
  }

  async next(index: number, _error: unknown): Promise<number> {
    const deadline = performance.now() + writerLimits.leaderSearchMsMax;
    while (performance.now() < deadline) {
      const views = await Promise.all(
        this.channels.map((c) => c.status(writerLimits.statusTimeoutMs).catch(() => null)),
      );
      const leader = views.findIndex((v) => v !== null && v.leaderId !== "0" && v.memberId === v.leaderId);
      if (leader >= 0) return leader;
      await sleep(writerLimits.roundPauseMs);
    }
    return (index + 1) % this.endpoints.length;
  }

  async warm(): Promise<void> {
    await Promise.all(this.channels.map((c) => c.status(2_000).catch(() => undefined)));
  }

  close(): void {
    for (const c of this.channels) c.close();
  }
}
