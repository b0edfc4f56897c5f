import { Gauge, type Registry } from "prom-client";
import { containerStates, knownRegions, type ClusterFsm } from "../fsm/index.js";

const nodeStatuses = ["ready", "down", "draining"] as const;

/**
 * Gauges of the replicated cluster state, read from this replica's FSM at scrape time, so
 * every replica reports them (a follower's view trails the leader's by its apply lag).
 */
export function registerClusterMetrics(registry: Registry, fsm: ClusterFsm): void {
  new Gauge({
    name: "orchestrator_nodes",
    help: "Nodes by region and status.",
    labelNames: ["region", "status"],
    registers: [registry],
    collect() {
      const counts = new Map<string, number>();
      for (const region of knownRegions) for (const status of nodeStatuses) counts.set(`${region}\u0000${status}`, 0);
      for (const node of fsm.listNodes()) {
        const key = `${node.region}\u0000${node.status}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      this.reset();
      for (const [key, value] of counts) {
        const [region, status] = key.split("\u0000");
        this.set({ region, status }, value);
      }
    },
  });
  new Gauge({
    name: "orchestrator_containers",
    help: "Containers by lifecycle state.",
    labelNames: ["state"],
    registers: [registry],
    collect() {
      const counts = new Map<string, number>(containerStates.map((s) => [s, 0]));
      for (const view of fsm.listDeployments()) {
        for (const state of containerStates) counts.set(state, (counts.get(state) ?? 0) + view.status.byState[state]);
      }
      this.reset();
      for (const [state, value] of counts) this.set({ state }, value);
    },
  });
  new Gauge({
    name: "orchestrator_deployments",
    help: "Deployments in the cluster state.",
    registers: [registry],
    collect() {
      this.set(fsm.listDeployments().length);
    },
  });
}
