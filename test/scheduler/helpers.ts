/**
 * Shared generators and independent reference checks for the scheduler tests. The references
 * re-derive capacity, constraints and rejection reasons from the node views and the plan alone,
 * without the core's code, so a test compares the engine with a second opinion.
 */
import fc from "fast-check";
import {
  planDeployment,
  SchedulerState,
  type NodeView,
  type Plan,
  type PlacementRequest,
  type RejectionReason,
  type Strategy,
} from "../../src/scheduler/core/index.js";

export const demoRegions = ["us-east-1", "eu-west-1", "ap-southeast-1"] as const;
/** A region the default latency matrix does not know. */
export const strayRegion = "sa-east-1";

export function node(id: string, region: string, overrides: Partial<NodeView> = {}): NodeView {
  return {
    id,
    region,
    cpuCapacity: 4_000,
    memoryCapacity: 8_192,
    cpuAllocated: 0,
    memoryAllocated: 0,
    status: "ready",
    ...overrides,
  };
}

export function request(overrides: Partial<PlacementRequest> & { replicas?: number } = {}): PlacementRequest {
  const { replicas = 1, ...rest } = overrides;
  const deployment = rest.deployment ?? "web";
  return {
    deployment,
    deploymentVersion: 1,
    cpuMillicores: 500,
    memoryMib: 256,
    strategy: "binpack",
    regions: [],
    clientRegions: [],
    onePerNode: false,
    containerIds: Array.from({ length: replicas }, (_, i) => `${deployment}-${i}`),
    existing: new Map(),
    ...rest,
  };
}

const nodeShape = fc.record({
  region: fc.constantFrom<string>(...demoRegions, ...demoRegions, strayRegion),
  cpuCapacity: fc.constantFrom(0, 1_000, 1_500, 2_000, 4_000, 8_000, 8_000, 16_000),
  memoryCapacity: fc.constantFrom(0, 512, 1_024, 3_000, 4_096, 8_192, 8_192, 16_384),
  cpuUsed: fc.constantFrom(0, 0, 0, 0.1, 0.3, 0.5, 0.77, 0.95, 1),
  memoryUsed: fc.constantFrom(0, 0, 0, 0.1, 0.3, 0.5, 0.77, 0.95, 1),
  status: fc.constantFrom<NodeView["status"]>("ready", "ready", "ready", "ready", "down", "draining"),
});

/** Up to `maxNodes` nodes with unique random ids, random shapes, partly allocated. */
export function clusterArb(maxNodes = 30): fc.Arbitrary<NodeView[]> {
  return fc
    .uniqueArray(fc.tuple(fc.stringMatching(/^[a-z0-9]{1,6}$/), nodeShape), {
      maxLength: maxNodes,
      size: "medium",
      selector: ([id]) => id,
    })
    .map((entries) =>
      entries.map(([id, shape]) => ({
        id: `node-${id}`,
        region: shape.region,
        cpuCapacity: shape.cpuCapacity,
        memoryCapacity: shape.memoryCapacity,
        cpuAllocated: Math.floor(shape.cpuCapacity * shape.cpuUsed),
        memoryAllocated: Math.floor(shape.memoryCapacity * shape.memoryUsed),
        status: shape.status,
      })),
    );
}

export const strategyArb = fc.constantFrom<Strategy>("binpack", "spread", "latency");

/** A request against `nodes`: random size, strategy, constraints and replicas already placed. */
export function requestArb(
  nodes: readonly NodeView[],
  strategy: fc.Arbitrary<Strategy> = strategyArb,
  maxReplicas = 60,
): fc.Arbitrary<PlacementRequest> {
  return fc
    .record({
      cpuMillicores: fc.constantFrom(0, 100, 250, 500, 1_000, 1_500, 3_000),
      memoryMib: fc.constantFrom(0, 128, 256, 1_000, 2_048, 4_096),
      strategy,
      regions: fc.oneof(fc.constant([]), fc.subarray<string>([...demoRegions, strayRegion, "nowhere-1"])),
      clientRegions: fc.subarray<string>([...demoRegions, strayRegion]),
      onePerNode: fc.boolean(),
      replicas: fc.integer({ min: 0, max: maxReplicas }),
      existing: fc
        .subarray(nodes.map((n) => n.id))
        .chain((ids) =>
          fc.tuple(
            fc.constant(ids),
            fc.array(fc.integer({ min: 1, max: 3 }), { minLength: ids.length, maxLength: ids.length }),
          ),
        ),
    })
    .map(({ replicas, existing: [ids, counts], ...rest }) =>
      request({ ...rest, replicas, existing: new Map(ids.map((id, i) => [id, counts[i]])) }),
    );
}

export const seedArb = fc.integer({ min: 0, max: 0xffff_ffff });

/** Replicas placed per node id. */
export function placedPerNode(plan: Plan): Map<string, number> {
  const counts = new Map<string, number>();
  for (const { nodeId } of plan.placements) counts.set(nodeId, (counts.get(nodeId) ?? 0) + 1);
  return counts;
}

/** The node views after the plan's placements, as the FSM would hold them. */
export function nodesAfter(nodes: readonly NodeView[], plan: Plan, req: PlacementRequest): NodeView[] {
  const placed = placedPerNode(plan);
  return nodes.map((n) => {
    const count = placed.get(n.id) ?? 0;
    return {
      ...n,
      cpuAllocated: n.cpuAllocated + count * req.cpuMillicores,
      memoryAllocated: n.memoryAllocated + count * req.memoryMib,
    };
  });
}

/** Reference feasibility, written independently of the core, in the FSM's order. */
export function referenceRejection(n: NodeView, req: PlacementRequest, replicasOnNode: number): RejectionReason | null {
  if (n.status === "draining") return "node-ineligible";
  if (n.status !== "ready") return "node-not-ready";
  if (req.regions.length > 0 && !req.regions.includes(n.region)) return "region-constraint";
  if (n.cpuAllocated + req.cpuMillicores > n.cpuCapacity) return "insufficient-cpu";
  if (n.memoryAllocated + req.memoryMib > n.memoryCapacity) return "insufficient-memory";
  if (req.onePerNode && replicasOnNode > 0) return "one-per-node";
  return null;
}

/** Replicas of the deployment per node after the plan: those already there plus those placed. */
export function replicasAfter(req: PlacementRequest, plan: Plan): Map<string, number> {
  const counts = new Map(req.existing);
  for (const [id, count] of placedPerNode(plan)) counts.set(id, (counts.get(id) ?? 0) + count);
  return counts;
}

/** Nodes that could still take one more container of the request after the plan. */
export function stillFeasible(nodes: readonly NodeView[], req: PlacementRequest, plan: Plan): NodeView[] {
  const replicas = replicasAfter(req, plan);
  return nodesAfter(nodes, plan, req).filter((n) => referenceRejection(n, req, replicas.get(n.id) ?? 0) === null);
}

/** Plans and returns the plan, checking on the way that planning left the model untouched. */
export function planUntouched(state: SchedulerState, req: PlacementRequest, seed: number): Plan {
  const before = state.nodes();
  const plan = planDeployment(state, req, seed);
  state.checkInvariants();
  const after = state.nodes();
  if (JSON.stringify(before) !== JSON.stringify(after)) throw new Error("planDeployment changed the model");
  return plan;
}

export function shuffle<T>(items: readonly T[], order: readonly number[]): T[] {
  const keyed = items.map((item, i) => ({ item, key: order[i % Math.max(1, order.length)] ?? 0, i }));
  return keyed.sort((a, b) => a.key - b.key || a.i - b.i).map(({ item }) => item);
}

/** Runs of consecutive placements on one node: one per selection of the stack. */
export function runs(plan: Plan): number {
  let count = 0;
  plan.placements.forEach((p, i) => {
    if (i === 0 || plan.placements[i - 1].nodeId !== p.nodeId) count += 1;
  });
  return count;
}
