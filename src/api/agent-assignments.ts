/**
 * What the cluster wants on an agent's nodes, as one level-triggered snapshot, and the feed that
 * tells each watching stream when its nodes were touched.
 */
import type { Assignment, NodeAssignments, WatchAssignmentsResponse } from "../gen/agent/v1/agent.js";
import { NodeStatus, type Workload as PbWorkload } from "../gen/orchestrator/v1/types.js";
import {
  containerStateToProto,
  desiredStateToProto,
  fsmLimits,
  nodeStatusToProto,
  versionEntry,
  type ClusterFsm,
  type ContainerRecord,
  type DeploymentSpec,
  type StateChange,
  workloadToProto,
} from "../fsm/index.js";

/** Something that wants to know when the state of its nodes may have changed. */
export interface AssignmentWatcher {
  /** True when the change may alter this watcher's next snapshot. */
  touches(change: StateChange): boolean;
  /** Called (synchronously, during apply) after each relevant change, or after a restore. */
  changed(): void;
}

/**
 * One subscription to the FSM for all assignment streams of a replica. It also caches each
 * deployment's health-check path: reading it through the FSM's deployment view costs a walk over
 * the deployment's containers and events, too much to repeat for every container of every snapshot.
 */
export class AssignmentFeed {
  private readonly watchers = new Set<AssignmentWatcher>();
  /** The parts of a version's spec an agent runs by, per deployment and version. */
  private readonly runSpecByDeployment = new Map<string, Map<number, RunSpec>>();

  constructor(private readonly fsm: ClusterFsm) {
    fsm.onChange((change) => {
      if (change.kind === "deployment") this.runSpecByDeployment.delete(change.id);
      if (change.kind === "event") return;
      for (const watcher of this.watchers) if (watcher.touches(change)) watcher.changed();
    });
    fsm.onRestore(() => {
      this.runSpecByDeployment.clear();
      for (const watcher of this.watchers) watcher.changed();
    });
  }

  get watcherCount(): number {
    return this.watchers.size;
  }

  subscribe(watcher: AssignmentWatcher): () => void {
    this.watchers.add(watcher);
    return () => this.watchers.delete(watcher);
  }

  /** The node a container is on now ('' when unknown or not placed). */
  nodeOf(containerId: string): string {
    return this.fsm.getContainer(containerId)?.node ?? "";
  }

  /** The full snapshot for `nodeIds`, in their order. */
  snapshot(nodeIds: readonly string[]): WatchAssignmentsResponse {
    return { revision: this.fsm.revision, nodes: nodeIds.map((id) => this.nodeAssignments(id)) };
  }

  private nodeAssignments(nodeId: string): NodeAssignments {
    const node = this.fsm.getNode(nodeId);
    if (node === undefined) return { nodeId, status: NodeStatus.NODE_STATUS_UNSPECIFIED, assignments: [] };
    // The node filter lists exactly the containers holding capacity there: placed and not ended,
    // or crashed while wanted running (they keep their room until the leader restarts them).
    const { containers } = this.fsm.listContainers({ node: nodeId, limit: fsmLimits.containersListMax });
    return { nodeId, status: nodeStatusToProto(node.status), assignments: containers.map((c) => this.assignment(c)) };
  }

  private assignment(container: Readonly<ContainerRecord>): Assignment {
    return {
      containerId: container.id,
      deployment: container.deployment,
      version: container.version,
      desiredState: desiredStateToProto(container.desired),
      state: containerStateToProto(container.state),
      cpuMillicores: container.cpuMillicores,
      memoryMib: container.memoryMib,
      ...this.runSpec(container.deployment, container.version),
      restartCount: container.restartCount,
      nextRestartAtMs: container.nextRestartAtMs,
    };
  }

  /** What the container's own version runs: during a rollout old replicas keep their image and path. */
  private runSpec(deployment: string, version: number): RunSpec {
    let byVersion = this.runSpecByDeployment.get(deployment);
    if (byVersion === undefined) {
      if (this.runSpecByDeployment.size >= fsmLimits.deploymentsMax) this.runSpecByDeployment.clear();
      byVersion = new Map();
      this.runSpecByDeployment.set(deployment, byVersion);
    }
    let run = byVersion.get(version);
    if (run === undefined) {
      // Empty for a deleted deployment: its remaining containers are all being stopped.
      const record = this.fsm.getDeploymentRecord(deployment);
      const spec = record === undefined ? undefined : (versionEntry(record, version)?.spec ?? record.spec);
      run = { healthCheckPath: spec?.healthCheck.path ?? "", image: spec?.image ?? "", ...workloadOf(spec) };
      byVersion.set(version, run);
    }
    return run;
  }
}

interface RunSpec {
  readonly healthCheckPath: string;
  readonly image: string;
  readonly workload?: PbWorkload;
  readonly healthPort?: string;
}

/** Sent only when the deployment has one, so simulated deployments' snapshots stay as small as before. */
function workloadOf(spec: DeploymentSpec | undefined): Pick<RunSpec, "workload" | "healthPort"> {
  if (spec === undefined) return {};
  const hasWorkload = spec.command !== "" || spec.args.length > 0 || spec.env.length > 0 || spec.ports.length > 0;
  return {
    ...(hasWorkload ? { workload: workloadToProto(spec) } : {}),
    ...(spec.healthCheck.port !== "" ? { healthPort: spec.healthCheck.port } : {}),
  };
}
