/**
 * Keeps one WatchAssignments stream open to the leader. When it breaks (the leader died or
 * stepped down, or it went silent past watchIdleMsMax) the watcher re-resolves the leader (the
 * redirect in the error's trailers, else the next endpoint) and opens it again; every message is
 * a full snapshot, so nothing needs replaying after a reconnect.
 */
import * as grpc from "@grpc/grpc-js";
import type { WatchAssignmentsResponse } from "../../gen/agent/v1/agent.js";
import type { Logger } from "../../lib/logger.js";
import { agentLimits } from "../limits.js";
import type { AgentMetrics } from "./agent-metrics.js";
import { ControlPlaneClient, RpcFailure, sleep } from "./control-plane-client.js";

export interface AssignmentWatcherDeps {
  readonly agentId: string;
  readonly nodeIds: readonly string[];
  readonly client: ControlPlaneClient;
  readonly logger: Logger;
  readonly metrics: AgentMetrics;
  /** `streamSeq` numbers the streams: a new one means a new leader (or the same one, reconnected). */
  readonly onSnapshot: (snapshot: WatchAssignmentsResponse, streamSeq: number) => void;
  readonly signal: AbortSignal;
}

interface StreamOutcome {
  readonly delivered: boolean;
  readonly failure: RpcFailure | null;
  readonly address: string;
}

export class AssignmentWatcher {
  private delivering = false;
  private cancelCurrent: (() => void) | null = null;
  private streamSeq = 0;

  constructor(private readonly deps: AssignmentWatcherDeps) {
    deps.signal.addEventListener("abort", () => this.cancelCurrent?.(), { once: true });
  }

  /** True while a stream is open and has delivered at least one snapshot. */
  get connected(): boolean {
    return this.delivering;
  }

  async run(): Promise<void> {
    const { client, logger, signal } = this.deps;
    const backoff = client.backoff();
    while (!signal.aborted) {
      const outcome = await this.streamOnce();
      if (signal.aborted) return;
      if (outcome.delivered) backoff.reset();
      const redirected =
        outcome.failure?.redirect !== undefined && outcome.failure.redirect.address !== outcome.address;
      const why = outcome.failure === null ? "the leader ended it" : outcome.failure.message;
      if (outcome.delivered)
        logger.warn(
          { from: outcome.address, err: why, next: client.current() },
          "assignment stream broke; reconnecting",
        );
      else
        logger.debug({ from: outcome.address, err: why, next: client.current() }, "assignment stream could not open");
      // A follower named the leader: go straight there. Otherwise back off between rounds.
      if (redirected) continue;
      try {
        if (outcome.failure === null) await sleep(backoff.nextDelayMs(), signal);
        else await client.pauseIfRoundEnded(backoff, signal);
      } catch {
        return;
      }
    }
  }

  private streamOnce(): Promise<StreamOutcome> {
    const { client, metrics } = this.deps;
    return new Promise<StreamOutcome>((resolve) => {
      let delivered = false;
      let idleTimer: NodeJS.Timeout | null = null;
      let finished = false;
      const finish = (failure: RpcFailure | null, address: string): void => {
        if (finished) return;
        finished = true;
        if (idleTimer !== null) clearTimeout(idleTimer);
        this.delivering = false;
        this.cancelCurrent = null;
        resolve({ delivered, failure, address });
      };
      const armIdle = (): void => {
        if (idleTimer !== null) clearTimeout(idleTimer);
        idleTimer = setTimeout(() => {
          handle.cancel();
          client.failed(handle.address);
          finish(
            new RpcFailure(
              grpc.status.DEADLINE_EXCEEDED,
              `no assignment snapshot for ${agentLimits.watchIdleMsMax} ms`,
              handle.address,
              undefined,
            ),
            handle.address,
          );
        }, agentLimits.watchIdleMsMax);
      };
      metrics.streamsOpened.inc();
      const streamSeq = ++this.streamSeq;
      const handle = client.watch(
        { agentId: this.deps.agentId, nodeIds: [...this.deps.nodeIds] },
        {
          onMessage: (snapshot) => {
            if (finished) return;
            if (!delivered)
              this.deps.logger.info({ leader: handle.address, revision: snapshot.revision }, "watching assignments");
            delivered = true;
            this.delivering = true;
            armIdle();
            this.deps.onSnapshot(snapshot, streamSeq);
          },
          onEnd: (failure) => finish(failure, handle.address),
        },
      );
      this.cancelCurrent = () => {
        handle.cancel();
        finish(null, handle.address);
      };
      armIdle();
    });
  }
}
