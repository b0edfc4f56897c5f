/**
 * Heartbeats for the agent's live nodes, one call per period (a slow one is not overlapped).
 * The leader answers with the nodes it wants registered again.
 */
import type { Logger } from "../../lib/logger.js";
import { agentLimits } from "../limits.js";
import type { AgentMetrics } from "./agent-metrics.js";
import { RpcFailure, type ControlPlaneClient } from "./control-plane-client.js";

export interface HeartbeaterDeps {
  readonly agentId: string;
  readonly client: ControlPlaneClient;
  readonly logger: Logger;
  readonly metrics: AgentMetrics;
  readonly intervalMs: number;
  readonly aliveNodeIds: () => string[];
  /** Why the nodes cannot run containers now (the engine is down), or null when they can. */
  readonly notReadyReason?: () => string | null;
  readonly onReregister: (nodeIds: readonly string[]) => void;
}

export class Heartbeater {
  private timer: NodeJS.Timeout | null = null;
  private inFlight = false;
  private failing = false;
  private stopped = false;

  constructor(private readonly deps: HeartbeaterDeps) {}

  start(): void {
    if (this.timer !== null || this.stopped) return;
    this.timer = setInterval(() => void this.beat(), this.deps.intervalMs);
    void this.beat();
  }

  /** An extra heartbeat now (a node came back). */
  beatNow(): void {
    void this.beat();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private async beat(): Promise<void> {
    if (this.inFlight || this.stopped) return;
    const nodeIds = this.deps.aliveNodeIds();
    if (nodeIds.length === 0) return;
    this.inFlight = true;
    const { client, logger, metrics } = this.deps;
    try {
      const reason = this.deps.notReadyReason?.() ?? null;
      const notReady = reason === null ? {} : { notReady: { nodes: nodeIds.map((nodeId) => ({ nodeId, reason })) } };
      const response = await client.call(
        "heartbeat",
        { agentId: this.deps.agentId, nodeIds, ...notReady },
        agentLimits.heartbeatTimeoutMs,
      );
      metrics.heartbeats.inc({ result: "ok" });
      if (this.failing) logger.info({ leader: client.current() }, "heartbeats reach the leader again");
      this.failing = false;
      if (response.reregisterNodeIds.length > 0 && !this.stopped) {
        logger.info(
          { nodes: response.reregisterNodeIds },
          "the leader does not know these nodes as ready; registering them again",
        );
        this.deps.onReregister(response.reregisterNodeIds);
      }
    } catch (error) {
      if (!(error instanceof RpcFailure)) throw error;
      metrics.heartbeats.inc({ result: "failed" });
      // One line per outage, not one per heartbeat.
      if (!this.failing && !this.stopped)
        logger.warn({ err: error.message }, "heartbeat failed; retrying every period");
      this.failing = true;
    } finally {
      this.inFlight = false;
    }
  }
}
