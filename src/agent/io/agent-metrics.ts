/**
 * The agent's Prometheus metrics (prefix orchestrator_agent_, base units, _total on counters).
 * Gauges of current state are computed at scrape time from the runtime and the node set.
 */
import { Counter, Gauge, Registry } from "prom-client";
import { registerProcessMetrics } from "../../lib/process-metrics.js";
import { localStates, type LocalState } from "../core/container-lifecycle.js";

export interface AgentMetricSources {
  containersByState(): Map<LocalState, number>;
  nodes(): { readonly alive: number; readonly killed: number };
  /** 1 while an assignment stream to the leader is delivering. */
  connected(): number;
  reportsQueued(): number;
}

export interface AgentMetrics {
  readonly registry: Registry;
  readonly reports: Counter<"outcome">;
  readonly reportCalls: Counter<"result">;
  readonly heartbeats: Counter<"result">;
  readonly registrations: Counter<"result">;
  readonly snapshots: Counter;
  readonly streamsOpened: Counter;
  readonly transitions: Counter<"to">;
  readonly healthRequests: Counter<"code">;
  readonly faults: Counter<"fault">;
}

export function createAgentMetrics(
  labels: { readonly agent: string; readonly region: string },
  sources: AgentMetricSources,
): AgentMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ agent: labels.agent, region: labels.region });
  registerProcessMetrics(registry, "orchestrator_agent_");
  const registers = [registry];
  new Gauge({
    name: "orchestrator_agent_containers",
    help: "Simulated containers this agent runs, by local state.",
    labelNames: ["state"],
    registers,
    collect() {
      const counts = sources.containersByState();
      for (const state of localStates) this.set({ state }, counts.get(state) ?? 0);
    },
  });
  new Gauge({
    name: "orchestrator_agent_nodes",
    help: "Simulated nodes of this agent, by status (killed: by fault injection).",
    labelNames: ["status"],
    registers,
    collect() {
      const { alive, killed } = sources.nodes();
      this.set({ status: "alive" }, alive);
      this.set({ status: "killed" }, killed);
    },
  });
  new Gauge({
    name: "orchestrator_agent_connected",
    help: "1 while the assignment stream to the leader is delivering, else 0.",
    registers,
    collect() {
      this.set(sources.connected());
    },
  });
  new Gauge({
    name: "orchestrator_agent_reports_queued",
    help: "Container reports waiting to be sent to the leader.",
    registers,
    collect() {
      this.set(sources.reportsQueued());
    },
  });
  return {
    registry,
    reports: new Counter({
      name: "orchestrator_agent_reports_total",
      help: "Container status reports sent, by the leader's outcome (applied, ignored, refused, unknown) or dropped.",
      labelNames: ["outcome"],
      registers,
    }),
    reportCalls: new Counter({
      name: "orchestrator_agent_report_calls_total",
      help: "ReportStatus calls, by result.",
      labelNames: ["result"],
      registers,
    }),
    heartbeats: new Counter({
      name: "orchestrator_agent_heartbeats_total",
      help: "Heartbeat calls, by result.",
      labelNames: ["result"],
      registers,
    }),
    registrations: new Counter({
      name: "orchestrator_agent_registrations_total",
      help: "Register calls, by result.",
      labelNames: ["result"],
      registers,
    }),
    snapshots: new Counter({
      name: "orchestrator_agent_assignment_snapshots_total",
      help: "Assignment snapshots received and reconciled.",
      registers,
    }),
    streamsOpened: new Counter({
      name: "orchestrator_agent_watch_streams_opened_total",
      help: "WatchAssignments streams opened (first connection and every reconnection).",
      registers,
    }),
    transitions: new Counter({
      name: "orchestrator_agent_container_transitions_total",
      help: "Local container state changes, by new state.",
      labelNames: ["to"],
      registers,
    }),
    healthRequests: new Counter({
      name: "orchestrator_agent_health_requests_total",
      help: "Container health endpoint requests, by answer (status code, hang or reset).",
      labelNames: ["code"],
      registers,
    }),
    faults: new Counter({
      name: "orchestrator_agent_faults_injected_total",
      help: "Faults injected through the HTTP hooks, by kind.",
      labelNames: ["fault"],
      registers,
    }),
  };
}
