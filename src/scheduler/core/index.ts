/**
 * The scheduler core: a model of the cluster's capacity (SchedulerState) and the pure placement
 * engine that plans against it (planDeployment). No IO, no clock; randomness only from the seed.
 */
export { SchedulerState } from "./scheduler-state.js";
export { planDeployment, planId } from "./plan-deployment.js";
export {
  defaultPlannerConfig,
  defaultRegionLatencyMs,
  latencyMs,
  meanLatencyMs,
  plannerConfig,
  sampleSize,
  type PlannerConfig,
  type RegionLatencyMatrix,
} from "./planner-config.js";
export { schedulerLimits } from "./limits.js";
export { pendingSentence } from "./feasibility.js";
export {
  rejectionReasons,
  type NodeStatus,
  type NodeView,
  type Placement,
  type PlacementRequest,
  type Plan,
  type Region,
  type RejectionCount,
  type RejectionReason,
  type Strategy,
} from "./types.js";
