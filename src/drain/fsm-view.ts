/**
 * The drain core's edges on the FSM: the view of one draining node it decides on, and the FSM
 * command that records a decision. The leader's drain controller is then a thin loop: read
 * drainViewOf, decideDrain, propose drainCommandOf.
 */
import type { ClusterReadView, CommandBody, ContainerRecord } from "../fsm/index.js";
import { fsmLimits, isConverged } from "../fsm/index.js";
import { assert, assertNever } from "../lib/assert.js";
import {
  drainStepContainersMax,
  type DrainDecision,
  type DrainDeploymentView,
  type DrainReplica,
  type DrainView,
} from "./core/index.js";

assert(
  drainStepContainersMax === fsmLimits.drainStepContainersMax,
  "the drain core and the FSM agree on a step's size",
);

function replicaOf(c: Readonly<ContainerRecord>): DrainReplica {
  return {
    id: c.id,
    deployment: c.deployment,
    ordinal: c.ordinal,
    node: c.node,
    desired: c.desired,
    state: c.state,
    health: c.health,
    healthySinceMs: c.healthySinceMs,
  };
}

/** The node's drain as the core reads it; undefined unless the node is draining. */
export function drainViewOf(fsm: ClusterReadView, nodeId: string): DrainView | undefined {
  const node = fsm.getNode(nodeId);
  const drain = node?.drain;
  if (node === undefined || drain === null || drain === undefined || drain.state !== "draining") return undefined;
  const onNode = fsm.listContainers({ node: nodeId, limit: Number.MAX_SAFE_INTEGER }).containers.map(replicaOf);
  const deployments = new Map<string, DrainDeploymentView>();
  for (const replica of onNode) {
    if (replica.desired !== "running" || deployments.has(replica.deployment)) continue;
    const record = fsm.getDeploymentRecord(replica.deployment);
    if (record === undefined) continue;
    const containers = fsm
      .listContainers({ deployment: replica.deployment, limit: Number.MAX_SAFE_INTEGER })
      .containers.map(replicaOf);
    const wanted = new Set(containers.filter((c) => c.desired === "running").map((c) => c.id));
    deployments.set(replica.deployment, {
      name: replica.deployment,
      replicas: record.spec.replicas,
      maxParallel: record.spec.update.maxParallel,
      maxUnavailable: record.spec.maxUnavailable,
      minHealthyTimeMs: record.spec.update.minHealthyTimeMs,
      converged: isConverged(record),
      containers,
      migrations: record.migrations.filter((m) => wanted.has(m.from) && wanted.has(m.to)),
    });
  }
  return {
    nodeId,
    stepSeq: drain.stepSeq,
    deadlineAtMs: drain.deadlineAtMs,
    ignoreSingletons: drain.ignoreSingletons,
    onNode,
    deployments,
  };
}

/** The command recording `decision` for the node; null for a wait. */
export function drainCommandOf(nodeId: string, decision: DrainDecision): CommandBody | null {
  switch (decision.kind) {
    case "wait":
      return null;
    case "step":
      return {
        kind: "node-drain-step",
        nodeDrainStep: {
          nodeId,
          stepSeq: decision.stepSeq,
          migrateContainerIds: [...decision.migrateIds],
          stopContainerIds: [...decision.stopIds],
          atDeadline: decision.atDeadline,
          reason: decision.reason,
        },
      };
    case "finish":
      return {
        kind: "node-drain-finish",
        nodeDrainFinish: { nodeId, stepSeq: decision.stepSeq, reason: decision.reason },
      };
    default:
      return assertNever(decision, "drain decision");
  }
}
