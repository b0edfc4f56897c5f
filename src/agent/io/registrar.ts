/**
 * Registers the agent's nodes with the leader: all of them at start, and any node the leader
 * asks about later (one it does not know, or has marked down while the node was alive).
 * Requests for a node already waiting or in flight are merged.
 */
import type { NodeSpec } from "../../gen/agent/v1/agent.js";
import type { Logger } from "../../lib/logger.js";
import { agentLimits } from "../limits.js";
import type { AgentMetrics } from "./agent-metrics.js";
import { RpcFailure, sleep, type ControlPlaneClient } from "./control-plane-client.js";

export interface RegistrarDeps {
  readonly agentId: string;
  readonly client: ControlPlaneClient;
  readonly logger: Logger;
  readonly metrics: AgentMetrics;
  readonly specOf: (nodeId: string) => NodeSpec;
  readonly nodeAlive: (nodeId: string) => boolean;
  readonly signal: AbortSignal;
}

export class Registrar {
  private readonly waiting = new Set<string>();
  private readonly inFlight = new Set<string>();
  private running = false;
  private registeredOnce = false;

  constructor(private readonly deps: RegistrarDeps) {}

  /** True once any registration succeeded. */
  get registered(): boolean {
    return this.registeredOnce;
  }

  request(nodeIds: readonly string[]): void {
    for (const id of nodeIds) if (!this.inFlight.has(id)) this.waiting.add(id);
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.waiting.size > 0 && !this.deps.signal.aborted) {
        const ids = [...this.waiting].filter((id) => this.deps.nodeAlive(id)).slice(0, agentLimits.nodesMax);
        this.waiting.clear();
        if (ids.length === 0) break;
        for (const id of ids) this.inFlight.add(id);
        try {
          await this.register(ids);
        } finally {
          this.inFlight.clear();
        }
      }
    } finally {
      this.running = false;
    }
  }

  private async register(ids: readonly string[]): Promise<void> {
    const { client, logger, metrics, signal } = this.deps;
    const request = { agentId: this.deps.agentId, nodes: ids.map((id) => this.deps.specOf(id)) };
    for (;;) {
      try {
        const response = await client.callRetrying("register", request, {
          timeoutMs: agentLimits.callTimeoutMs,
          signal,
          onRetry: (failure) => {
            metrics.registrations.inc({ result: "failed" });
            logger.debug({ err: failure.message }, "registration attempt failed; retrying");
          },
        });
        metrics.registrations.inc({ result: "ok" });
        this.registeredOnce = true;
        const created = response.nodes.filter((n) => n.created).map((n) => n.nodeId);
        logger.info({ nodes: ids, created, revision: response.revision, leader: client.current() }, "nodes registered");
        return;
      } catch (error) {
        if (signal.aborted) return;
        if (!(error instanceof RpcFailure)) throw error;
        metrics.registrations.inc({ result: "refused" });
        logger.error(
          { err: error.message, nodes: ids },
          "the leader refused to register the nodes; fix the agent's flags, retrying later",
        );
        await sleep(agentLimits.registerRetryAfterRefusalMs, signal).catch(() => undefined);
        if (signal.aborted) return;
      }
    }
  }
}
