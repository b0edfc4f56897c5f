import { Gauge, type Registry } from "prom-client";
import { containerStates, knownRegions, type ClusterFsm, type NodeRecord } from "../fsm/index.js";

const nodeStatuses = ["ready", "down", "draining"] as const;
const bytesPerMib = 1024 * 1024;

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
  registerCapacityGauge(
    registry,
    fsm,
    "orchestrator_nodes_cpu_capacity_cores",
    "CPU capacity of the nodes, by region and status, in cores.",
    (n) => n.capacity.cpuMillicores / 1000,
  );
  registerCapacityGauge(
    registry,
    fsm,
    "orchestrator_nodes_cpu_allocated_cores",
    "CPU requested by the containers placed on the nodes, by region and status, in cores.",
    (n) => n.allocated.cpuMillicores / 1000,
  );
  registerCapacityGauge(
    registry,
    fsm,
    "orchestrator_nodes_memory_capacity_bytes",
    "Memory capacity of the nodes, by region and status, in bytes.",
    (n) => n.capacity.memoryMib * bytesPerMib,
  );
  registerCapacityGauge(
    registry,
    fsm,
    "orchestrator_nodes_memory_allocated_bytes",
    "Memory requested by the containers placed on the nodes, by region and status, in bytes.",
    (n) => n.allocated.memoryMib * bytesPerMib,
  );
  new Gauge({
    name: "orchestrator_containers",
    help: "Containers by lifecycle state.",
    labelNames: ["state"],
    registers: [registry],
    collect() {
      // One pass over the containers: per-deployment views would also scan the event ring.
      const counts = fsm.containerStateCounts();
      this.reset();
      for (const state of containerStates) this.set({ state }, counts[state]);
    },
  });
  new Gauge({
    name: "orchestrator_deployments",
    help: "Deployments in the cluster state.",
    registers: [registry],
    collect() {
      this.set(fsm.deploymentCount());
    },
  });
}

/**
 * A gauge summing `value` over the nodes of each region and status, every combination present
 * (0 when empty), so "capacity by region" has a series per region from the first scrape.
 */
function registerCapacityGauge(
  registry: Registry,
  fsm: ClusterFsm,
  name: string,
  help: string,
  value: (node: Readonly<NodeRecord>) => number,
): void {
  new Gauge({
    name,
    help,
    labelNames: ["region", "status"],
    registers: [registry],
    collect() {
      const sums = new Map<string, number>();
      for (const region of knownRegions) for (const status of nodeStatuses) sums.set(`${region}\u0000${status}`, 0);
      for (const node of fsm.listNodes()) {
        const key = `${node.region}\u0000${node.status}`;
        sums.set(key, (sums.get(key) ?? 0) + value(node));
      }
      this.reset();
      for (const [key, sum] of sums) {
        const [region, status] = key.split("\u0000");
        this.set({ region, status }, sum);
      }
    },
  });
}
