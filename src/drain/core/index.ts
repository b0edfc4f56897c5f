/**
 * The pure drain core (issue 14, point 4): from a draining node, its containers and their
 * deployments' policies and budgets, the next decision of the leader's drain controller. No IO,
 * no clock: `nowMs` is an argument. Pipeline: drain-view (the input) -> decide-drain.
 */
export { decideDrain, isHealthy, isReady } from "./decide-drain.js";
export type { DrainDecision, DrainDeploymentView, DrainReplica, DrainView, ReplicaState } from "./drain-view.js";
export { drainStepContainersMax } from "./limits.js";
