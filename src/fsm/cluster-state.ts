/**
 * The cluster state store: the replicated records plus derived indexes, and the only code that
 * mutates them. Each mutation keeps node allocations and indexes exact and notes the change for
 * the change feed, so the command handlers cannot forget either.
 *
 * Replicated state: nodes, deployments, containers (Maps, iterated in insertion order, which the
 * snapshot preserves), the event ring, the client sessions, the open operations, the outcome
 * buckets and the revision. Derived state: the indexes below (and the ledger's per-deployment
 * index), rebuilt on restore. Their iteration order is NOT part of the replicated state (a
 * restore rebuilds them in another order), so code that acts on an index sorts first.
 */
import { assert, fail } from "../lib/assert.js";
import { ClientSessions } from "./client-sessions.js";
import { EventRing, type NewEvent } from "./event-ring.js";
import { fsmLimits } from "./limits.js";
import { OperationLedger } from "./operation-ledger.js";
import { OutcomeBuckets } from "./outcome-buckets.js";
import { TokenTable } from "./token-table.js";
import {
  containerId,
  containerTransitionAllowed,
  fitsOn,
  holdsCapacity,
  isRolloutActive,
  isTerminal,
  type ContainerRecord,
  type ContainerState,
  type DeploymentRecord,
  type DeploymentSpec,
  type EventKind,
  type FsmEvent,
  type Health,
  type NodeRecord,
  type Resources,
  type VersionRecord,
} from "./state.js";

export type ChangeKind = "deployment" | "container" | "node" | "event";
export type ChangeAction = "put" | "delete";

export interface StateChange {
  readonly revision: number;
  readonly kind: ChangeKind;
  readonly action: ChangeAction;
  readonly id: string;
}

/** Where a control-plane replica is reached. */
export interface MemberAddressRecord {
  readonly id: string;
  /** host:port of its Raft transport. */
  readonly raftAddress: string;
  /** host:port of its gRPC API. */
  readonly apiAddress: string;
}

export class ClusterState {
  readonly nodes = new Map<string, NodeRecord>();
  readonly deployments = new Map<string, DeploymentRecord>();
  readonly containers = new Map<string, ContainerRecord>();
  readonly events = new EventRing(fsmLimits.eventsMax, fsmLimits.recentEventsMax);
  readonly sessions = new ClientSessions(fsmLimits.clientSessionsMax);
  /** At most one open operation per deployment, so the deployments' bound is the ledger's. */
  readonly operations = new OperationLedger(fsmLimits.deploymentsMax);
  readonly outcomes = new OutcomeBuckets(fsmLimits.outcomeBucketsMax, fsmLimits.outcomeBucketMs);
  /** Control-plane members' addresses by replica id (Raft's configuration says who votes). */
  readonly members = new Map<string, MemberAddressRecord>();
  /** Set by apply when `members` changed; the FSM tells its member listeners and clears it. */
  membersChanged = false;
  /** The last applied log index. */
  revision = 0;
  /** The revision of the last deployment delete: apply's check index covers deletions with it. */
  deletedRevision = 0;
  readonly tokens = new TokenTable(fsmLimits.tokensMax);
  /** The revision of the ACL bootstrap; 0 until the cluster is bootstrapped (once, ever). */
  aclBootstrappedRevision = 0;
  /**
   * The actor of the command being applied: every event it makes names it. Not replicated state
   * of its own: apply sets it from each entry before anything else.
   */
  actor = "";

  /** Container ids by deployment name (including stopping containers of a deleted deployment). */
  private readonly byDeployment = new Map<string, Set<string>>();
  /** Pending (unplaced) container ids by deployment name. */
  private readonly pendingByDeployment = new Map<string, Set<string>>();
  /** Ids of the containers holding capacity on each node: its assignments. */
  private readonly holdingByNode = new Map<string, Set<string>>();
  /**
   * The revision of the last change to any container of each deployment (created, placed,
   * moved through its lifecycle, health, removed), so a reader that summarised a deployment's
   * containers can tell, in O(1), whether its summary is still current.
   */
  private readonly containersChangedAt = new Map<string, number>();
  /** Changes of the command being applied, collapsed per entity, in first-touched order. */
  private changes = new Map<string, StateChange>();

  // ---- change feed ----

  private noteChange(kind: ChangeKind, action: ChangeAction, id: string): void {
    // Map.set on a present key keeps its position: the entity stays where it was first touched.
    this.changes.set(`${kind}\u0000${id}`, { revision: this.revision, kind, action, id });
  }

  /** Hands over the changes noted since the last call. */
  takeChanges(): StateChange[] {
    const taken = [...this.changes.values()];
    this.changes = new Map();
    return taken;
  }

  /** See containersChangedAt; 0 for a deployment whose containers never changed. */
  containersRevision(deployment: string): number {
    return this.containersChangedAt.get(deployment) ?? 0;
  }

  private noteContainerChange(container: ContainerRecord, action: ChangeAction): void {
    this.containersChangedAt.set(container.deployment, this.revision);
    this.noteChange("container", action, container.id);
  }

  // ---- reads used by the handlers ----

  containersOf(deployment: string): ContainerRecord[] {
    return this.lookup(this.byDeployment.get(deployment));
  }

  pendingOf(deployment: string): ContainerRecord[] {
    return this.lookup(this.pendingByDeployment.get(deployment));
  }

  pendingCount(deployment: string): number {
    return this.pendingByDeployment.get(deployment)?.size ?? 0;
  }

  holdingOn(nodeId: string): ContainerRecord[] {
    return this.lookup(this.holdingByNode.get(nodeId));
  }

  holdingCount(nodeId: string): number {
    return this.holdingByNode.get(nodeId)?.size ?? 0;
  }

  containerCount(deployment: string): number {
    return this.byDeployment.get(deployment)?.size ?? 0;
  }

  nodeCapacities(): Resources[] {
    return [...this.nodes.values()].map((node) => node.capacity);
  }

  private lookup(ids: Set<string> | undefined): ContainerRecord[] {
    if (ids === undefined) return [];
    return [...ids].map((id) => {
      const container = this.containers.get(id);
      if (container === undefined) fail(`index names missing container ${id}`);
      return container;
    });
  }

  // ---- events ----

  addEvent(
    atMs: number,
    kind: EventKind,
    fields: Partial<Pick<NewEvent, "deployment" | "container" | "node">>,
    message: string,
  ): FsmEvent {
    const event = this.events.append({
      revision: this.revision,
      atMs,
      kind,
      deployment: fields.deployment ?? "",
      container: fields.container ?? "",
      node: fields.node ?? "",
      message,
      actor: this.actor,
    });
    this.noteChange("event", "put", String(event.seq));
    return event;
  }

  // ---- nodes ----

  putNode(node: NodeRecord): void {
    if (!this.nodes.has(node.id)) assert(this.nodes.size < fsmLimits.nodesMax, "nodes over their bound");
    this.nodes.set(node.id, node);
    this.noteChange("node", "put", node.id);
  }

  touchNode(node: NodeRecord): void {
    assert(this.nodes.get(node.id) === node, "touching a node that is not in the state");
    this.noteChange("node", "put", node.id);
  }

  // ---- deployments ----

  /** Ordinals continue after those of any container still stopping under the same name. */
  createDeployment(
    spec: DeploymentSpec,
    first: Omit<VersionRecord, "version" | "spec" | "revision" | "outcome">,
  ): DeploymentRecord {
    assert(!this.deployments.has(spec.name), "deployment already exists");
    assert(this.deployments.size < fsmLimits.deploymentsMax, "deployments over their bound");
    let nextOrdinal = 0;
    for (const leftover of this.containersOf(spec.name)) nextOrdinal = Math.max(nextOrdinal, leftover.ordinal + 1);
    const deployment: DeploymentRecord = {
      spec,
      version: 1,
      createdRevision: this.revision,
      updatedRevision: this.revision,
      specRevision: this.revision,
      nextContainerOrdinal: nextOrdinal,
      pendingReason: "",
      lastOutcome: null,
      recentOutcomes: [],
      history: [{ ...first, version: 1, spec, revision: this.revision, outcome: "pending" }],
      rollout: null,
      migrations: [],
    };
    this.deployments.set(spec.name, deployment);
    this.noteChange("deployment", "put", spec.name);
    return deployment;
  }

  touchDeployment(deployment: DeploymentRecord): void {
    assert(this.deployments.get(deployment.spec.name) === deployment, "touching a deployment that is not in the state");
    deployment.updatedRevision = this.revision;
    this.noteChange("deployment", "put", deployment.spec.name);
  }

  deleteDeployment(name: string): void {
    assert(this.deployments.delete(name), "deleting an unknown deployment");
    this.deletedRevision = this.revision;
    this.noteChange("deployment", "delete", name);
  }

  // ---- containers ----

  /** A new pending container of `deployment`, wanted running. */
  createContainer(deployment: DeploymentRecord): ContainerRecord {
    assert(this.containers.size < fsmLimits.containersMax, "containers over their bound");
    const name = deployment.spec.name;
    const ordinal = deployment.nextContainerOrdinal;
    deployment.nextContainerOrdinal += 1;
    const container: ContainerRecord = {
      id: containerId(name, ordinal),
      deployment: name,
      ordinal,
      version: deployment.version,
      cpuMillicores: deployment.spec.cpuMillicores,
      memoryMib: deployment.spec.memoryMib,
      node: "",
      region: "",
      desired: "running",
      state: "pending",
      restartCount: 0,
      nextRestartAtMs: 0,
      backoffStep: 0,
      health: "unknown",
      healthySinceMs: 0,
      placedAtMs: 0,
      updatedRevision: this.revision,
      addresses: [],
    };
    if (this.containers.has(container.id)) fail(`container ${container.id} already exists`);
    this.containers.set(container.id, container);
    addTo(this.byDeployment, name, container.id);
    addTo(this.pendingByDeployment, name, container.id);
    this.noteContainerChange(container, "put");
    return container;
  }

  /** Places a pending container: it becomes scheduled and holds its request on the node. */
  placeContainer(container: ContainerRecord, node: NodeRecord, atMs: number): void {
    assert(container.state === "pending", "placing a container that is not pending");
    assert(container.node === "", "placing a container that already has a node");
    assert(container.desired === "running", "placing a container that is wanted stopped");
    assert(node.status === "ready", "placing on a node that is not ready");
    assert(node.eligible, "placing on an ineligible node");
    assert(node.notReadyReason === "", "placing on a node whose agent cannot run containers");
    assert(fitsOn(node, container), "placing a container that does not fit");
    container.node = node.id;
    container.region = node.region;
    container.state = "scheduled";
    container.placedAtMs = atMs;
    container.updatedRevision = this.revision;
    if (!removeFrom(this.pendingByDeployment, container.deployment, container.id))
      fail(`pending index misses ${container.id}`);
    this.allocate(container);
    this.clearPendingReasonIfNonePending(container.deployment);
    this.noteContainerChange(container, "put");
  }

  /**
   * One step of the lifecycle; an illegal step is a bug (inputs are checked before this).
   * Entering restarting counts a restart; leaving it ends the restart's not-before time.
   */
  transitionContainer(container: ContainerRecord, to: ContainerState): void {
    if (!containerTransitionAllowed(container.state, to))
      fail(`container ${container.id} cannot go from ${container.state} to ${to}`);
    assert(to !== "scheduled", "containers are scheduled only by placement");
    const wasHolding = holdsCapacity(container);
    if (container.state === "restarting") container.nextRestartAtMs = 0;
    container.state = to;
    if (to === "restarting") container.restartCount += 1;
    const holding = holdsCapacity(container);
    // Capacity is taken only by placement; every later step keeps or releases it.
    if (!(wasHolding || !holding)) fail(`container ${container.id} would take capacity by going to ${to}`);
    if (wasHolding && !holding) this.release(container);
    container.updatedRevision = this.revision;
    this.noteContainerChange(container, "put");
  }

  /** A placed, live container is wanted stopped: it keeps its capacity until it is seen to stop. */
  stopContainer(container: ContainerRecord): void {
    assert(container.node !== "", "stopping an unplaced container (remove it instead)");
    assert(container.desired === "running", "stopping a container twice");
    // An ended one is removed instead; a crashed one would otherwise drop its room unreleased.
    assert(!isTerminal(container.state), "stopping a container that has ended (remove it instead)");
    container.desired = "stopped";
    container.updatedRevision = this.revision;
    this.noteContainerChange(container, "put");
  }

  /**
   * A container lost with its node that a replacement takes over from: no longer wanted, it is
   * kept (wanted stopped, holding nothing) as recent history of its deployment.
   */
  retireLostContainer(container: ContainerRecord): void {
    assert(container.state === "lost", "retiring a container that is not lost");
    assert(container.desired === "running", "retiring a container twice");
    container.desired = "stopped";
    container.updatedRevision = this.revision;
    this.noteContainerChange(container, "put");
  }

  /** Records a health verdict; healthySinceMs starts when it turns healthy and ends when it stops being so. */
  setHealth(container: ContainerRecord, health: Health, atMs: number): void {
    if (container.health === health) return;
    container.health = health;
    container.healthySinceMs = health === "healthy" ? atMs : 0;
    this.touchContainer(container);
  }

  /** A new version whose spec matches the one the container runs takes it over. */
  relabelContainer(container: ContainerRecord, version: number): void {
    assert(version > container.version, "relabelling a container to an older version");
    container.version = version;
    this.touchContainer(container);
  }

  touchContainer(container: ContainerRecord): void {
    assert(this.containers.get(container.id) === container, "touching a container that is not in the state");
    container.updatedRevision = this.revision;
    this.noteContainerChange(container, "put");
  }

  /** Forgets a container, releasing what it held. */
  removeContainer(container: ContainerRecord): void {
    assert(this.containers.get(container.id) === container, "removing a container that is not in the state");
    if (holdsCapacity(container)) this.release(container);
    if (container.state === "pending") {
      if (!removeFrom(this.pendingByDeployment, container.deployment, container.id))
        fail(`pending index misses ${container.id}`);
      this.clearPendingReasonIfNonePending(container.deployment);
    }
    if (!removeFrom(this.byDeployment, container.deployment, container.id))
      fail(`deployment index misses ${container.id}`);
    this.containers.delete(container.id);
    this.noteContainerChange(container, "delete");
  }

  private allocate(container: ContainerRecord): void {
    const node = this.nodes.get(container.node);
    if (node === undefined) fail(`container ${container.id} is on unknown node ${container.node}`);
    node.allocated = {
      cpuMillicores: node.allocated.cpuMillicores + container.cpuMillicores,
      memoryMib: node.allocated.memoryMib + container.memoryMib,
    };
    if (node.allocated.cpuMillicores > node.capacity.cpuMillicores) fail(`node ${node.id} cpu over-committed`);
    if (node.allocated.memoryMib > node.capacity.memoryMib) fail(`node ${node.id} memory over-committed`);
    addTo(this.holdingByNode, node.id, container.id);
    this.noteChange("node", "put", node.id);
  }

  private release(container: ContainerRecord): void {
    const node = this.nodes.get(container.node);
    if (node === undefined) fail(`container ${container.id} is on unknown node ${container.node}`);
    if (!removeFrom(this.holdingByNode, node.id, container.id))
      fail(`container ${container.id} did not hold capacity on ${node.id}`);
    node.allocated = {
      cpuMillicores: node.allocated.cpuMillicores - container.cpuMillicores,
      memoryMib: node.allocated.memoryMib - container.memoryMib,
    };
    if (!(node.allocated.cpuMillicores >= 0 && node.allocated.memoryMib >= 0))
      fail(`node ${node.id} allocation went negative`);
    this.noteChange("node", "put", node.id);
  }

  private clearPendingReasonIfNonePending(deploymentName: string): void {
    const deployment = this.deployments.get(deploymentName);
    if (deployment === undefined || deployment.pendingReason === "" || this.pendingCount(deploymentName) > 0) return;
    deployment.pendingReason = "";
    this.touchDeployment(deployment);
  }

  // ---- restore ----

  /** Loads a container from a snapshot; call rebuildIndexes() once all are loaded. */
  restoreContainer(container: ContainerRecord): void {
    if (this.containers.has(container.id)) fail(`snapshot repeats container ${container.id}`);
    this.containers.set(container.id, container);
  }

  /** Rebuilds the derived indexes and checks the stored allocations against the containers. */
  rebuildIndexes(): void {
    assert(this.byDeployment.size === 0 && this.holdingByNode.size === 0, "indexes rebuilt twice");
    const allocated = new Map<string, Resources>();
    for (const container of this.containers.values()) {
      addTo(this.byDeployment, container.deployment, container.id);
      // Whatever a reader summarised before the restore is stale.
      this.containersChangedAt.set(container.deployment, this.revision);
      if (container.state === "pending") addTo(this.pendingByDeployment, container.deployment, container.id);
      if (!holdsCapacity(container)) continue;
      addTo(this.holdingByNode, container.node, container.id);
      const sum = allocated.get(container.node) ?? { cpuMillicores: 0, memoryMib: 0 };
      sum.cpuMillicores += container.cpuMillicores;
      sum.memoryMib += container.memoryMib;
      allocated.set(container.node, sum);
    }
    for (const node of this.nodes.values()) {
      const sum = allocated.get(node.id) ?? { cpuMillicores: 0, memoryMib: 0 };
      if (sum.cpuMillicores !== node.allocated.cpuMillicores)
        fail(`snapshot node ${node.id} cpu allocation disagrees with its containers`);
      if (sum.memoryMib !== node.allocated.memoryMib)
        fail(`snapshot node ${node.id} memory allocation disagrees with its containers`);
    }
  }

  // ---- invariants ----

  /** Checks every invariant of the state; a failure is a bug. O(containers). */
  checkInvariants(): void {
    const allocated = new Map<string, Resources>();
    const wantedRunning = new Map<string, number>();
    const wantedCurrent = new Map<string, number>();
    const lostKept = new Map<string, number>();
    const onePerNode = new Set<string>();
    for (const container of this.containers.values()) {
      this.checkContainer(container);
      if (container.desired === "running") {
        wantedRunning.set(container.deployment, (wantedRunning.get(container.deployment) ?? 0) + 1);
        if (container.version === this.deployments.get(container.deployment)?.version)
          wantedCurrent.set(container.deployment, (wantedCurrent.get(container.deployment) ?? 0) + 1);
      }
      if (container.state === "lost") lostKept.set(container.deployment, (lostKept.get(container.deployment) ?? 0) + 1);
      if (!holdsCapacity(container)) continue;
      const sum = allocated.get(container.node) ?? { cpuMillicores: 0, memoryMib: 0 };
      sum.cpuMillicores += container.cpuMillicores;
      sum.memoryMib += container.memoryMib;
      allocated.set(container.node, sum);
      // One per node binds the replicas of the version that asks it (older ones were placed without it).
      const owner = this.deployments.get(container.deployment);
      if (container.desired === "running" && owner?.spec.onePerNode === true && container.version === owner.version) {
        const key = `${container.deployment}\u0000${container.node}`;
        if (onePerNode.has(key)) fail(`deployment ${container.deployment} has two replicas on node ${container.node}`);
        onePerNode.add(key);
      }
    }
    for (const node of this.nodes.values()) {
      const sum = allocated.get(node.id) ?? { cpuMillicores: 0, memoryMib: 0 };
      if (node.allocated.cpuMillicores !== sum.cpuMillicores)
        fail(`node ${node.id} allocated cpu ${node.allocated.cpuMillicores} != placed ${sum.cpuMillicores}`);
      if (node.allocated.memoryMib !== sum.memoryMib)
        fail(`node ${node.id} allocated memory ${node.allocated.memoryMib} != placed ${sum.memoryMib}`);
      if (node.allocated.cpuMillicores > node.capacity.cpuMillicores) fail(`node ${node.id} cpu over-committed`);
      if (node.allocated.memoryMib > node.capacity.memoryMib) fail(`node ${node.id} memory over-committed`);
      if (node.drain?.state === "draining") assert(!node.eligible, `node ${node.id} is draining but eligible`);
    }
    for (const [name, deployment] of this.deployments) {
      if (deployment.spec.name !== name) fail(`deployment ${name} is filed under another name`);
      this.checkVersions(name, deployment, wantedRunning.get(name) ?? 0, wantedCurrent.get(name) ?? 0);
      if (this.pendingCount(name) === 0)
        assert(deployment.pendingReason === "", `deployment ${name} has a pending reason but nothing pending`);
      if (deployment.recentOutcomes.length > fsmLimits.recentOutcomesKeptMax)
        fail(`deployment ${name} keeps more recent outcomes than allowed`);
      if ((lostKept.get(name) ?? 0) > fsmLimits.lostContainersKeptPerDeploymentMax)
        fail(`deployment ${name} keeps more lost containers than allowed`);
    }
    this.operations.checkInvariants();
    for (const operation of this.operations.values()) {
      const deployment = this.deployments.get(operation.deployment);
      if (deployment === undefined)
        fail(`operation ${operation.id} is open for missing deployment ${operation.deployment}`);
      if (!(operation.startedRevision >= deployment.createdRevision && operation.startedRevision <= this.revision))
        fail(`operation ${operation.id} started outside its deployment's life`);
    }
    this.outcomes.checkInvariants();
    this.checkIndexes();
    assert(this.containers.size <= fsmLimits.containersMax, "containers over their bound");
    assert(this.deployments.size <= fsmLimits.deploymentsMax, "deployments over their bound");
    assert(this.nodes.size <= fsmLimits.nodesMax, "nodes over their bound");
  }

  /**
   * Without a version change under way (no rollout, or one that succeeded or reverted), the
   * deployment runs exactly `replicas` containers, all of its version. While one is under way or
   * after one failed, old and new run side by side, never more of the new version than `replicas`.
   */
  private checkVersions(name: string, deployment: DeploymentRecord, wanted: number, current: number): void {
    const history = deployment.history;
    if (history.length === 0 || history[history.length - 1].version !== deployment.version)
      fail(`deployment ${name} history does not end at its version ${deployment.version}`);
    for (let i = 1; i < history.length; i++)
      if (!(history[i - 1].version < history[i].version)) fail(`deployment ${name} history out of order`);
    if (history.length > fsmLimits.versionHistoryMax + 1) fail(`deployment ${name} history over its bound`);
    // A drain's replacement runs beside the replica it replaces until that one stops.
    const migrating = this.openMigrations(deployment).length;
    if (current > deployment.spec.replicas + migrating) fail(`deployment ${name} runs more new replicas than it wants`);
    const rollout = deployment.rollout;
    const converged = rollout === null || rollout.state === "succeeded" || rollout.state === "reverted";
    if (converged && !(wanted === deployment.spec.replicas + migrating && current === wanted))
      fail(
        `deployment ${name} wants ${deployment.spec.replicas} replicas but has ${wanted} (${current} of v${deployment.version})`,
      );
    if (rollout !== null && isRolloutActive(rollout.state) && rollout.toVersion !== deployment.version)
      fail(`deployment ${name} rolls out to v${rollout.toVersion}, not its version ${deployment.version}`);
    if (rollout !== null && rollout.state === "paused") assert(rollout.pausedBy !== null, `${name} paused by nobody`);
  }

  /** The deployment's migrations whose replica and replacement are both still wanted running. */
  openMigrations(deployment: DeploymentRecord): DeploymentRecord["migrations"] {
    const wanted = (id: string) => this.containers.get(id)?.desired === "running";
    return deployment.migrations.filter((m) => wanted(m.from) && wanted(m.to));
  }

  private checkContainer(container: ContainerRecord): void {
    const id = container.id;
    if (id !== containerId(container.deployment, container.ordinal))
      fail(`container ${id} id does not match its deployment and ordinal`);
    if (!((container.node === "") === (container.state === "pending")))
      fail(`container ${id}: unplaced exactly while pending`);
    if (container.node !== "") {
      const node = this.nodes.get(container.node);
      if (node === undefined) fail(`container ${id} is on unknown node ${container.node}`);
      if (container.region !== node.region) fail(`container ${id} region differs from its node's`);
    } else {
      if (container.region !== "") fail(`unplaced container ${id} has a region`);
    }
    const deployment = this.deployments.get(container.deployment);
    if (container.desired === "running") {
      if (deployment === undefined) fail(`container ${id} is wanted running but its deployment is gone`);
      if (container.ordinal >= deployment.nextContainerOrdinal)
        fail(`container ${id} ordinal beyond its deployment's next`);
    } else {
      if (container.node === "") fail(`unplaced container ${id} is wanted stopped (it should have been removed)`);
      // A lost one is a replaced replica kept as history; any other that ended is removed.
      if (!(holdsCapacity(container) || container.state === "lost"))
        fail(`container ${id} ended and is wanted stopped (it should have been removed)`);
    }
    if (container.state === "lost") {
      if (container.desired !== "stopped")
        fail(`lost container ${id} is still wanted running (it should have been replaced)`);
      if (deployment === undefined) fail(`lost container ${id} outlived its deployment`);
    }
    if (container.state !== "restarting")
      assert(container.nextRestartAtMs === 0, `container ${id} has a restart time but is ${container.state}`);
    if (container.health !== "healthy")
      assert(container.healthySinceMs === 0, `container ${id} has a healthy-since time but is ${container.health}`);
    if (container.backoffStep > fsmLimits.restartBackoffStepMax) fail(`container ${id} backoff step over its bound`);
    if (container.updatedRevision > this.revision) fail(`container ${id} updated in the future`);
  }

  private checkIndexes(): void {
    let indexed = 0;
    for (const [name, ids] of this.byDeployment) {
      if (ids.size <= 0) fail(`empty index entry for ${name}`);
      for (const id of ids)
        assert(this.containers.get(id)?.deployment === name, `deployment index lists ${id} under ${name}`);
      indexed += ids.size;
    }
    assert(indexed === this.containers.size, "deployment index misses containers");
    let pending = 0;
    for (const [name, ids] of this.pendingByDeployment) {
      if (ids.size <= 0) fail(`empty pending index entry for ${name}`);
      for (const id of ids) assert(this.containers.get(id)?.state === "pending", `pending index lists ${id}`);
      pending += ids.size;
    }
    let holding = 0;
    for (const [nodeId, ids] of this.holdingByNode) {
      if (ids.size <= 0) fail(`empty node index entry for ${nodeId}`);
      for (const id of ids) {
        const container = this.containers.get(id);
        if (!(container !== undefined && container.node === nodeId && holdsCapacity(container)))
          fail(`node index lists ${id} under ${nodeId}`);
      }
      holding += ids.size;
    }
    let pendingTotal = 0;
    let holdingTotal = 0;
    for (const container of this.containers.values()) {
      if (container.state === "pending") pendingTotal += 1;
      if (holdsCapacity(container)) holdingTotal += 1;
    }
    assert(pending === pendingTotal, "pending index misses containers");
    assert(holding === holdingTotal, "node index misses containers");
  }
}

function addTo(index: Map<string, Set<string>>, key: string, id: string): void {
  let ids = index.get(key);
  if (ids === undefined) {
    ids = new Set();
    index.set(key, ids);
  }
  if (ids.has(id)) fail(`index already lists ${id} under ${key}`);
  ids.add(id);
}

function removeFrom(index: Map<string, Set<string>>, key: string, id: string): boolean {
  const ids = index.get(key);
  if (ids === undefined || !ids.delete(id)) return false;
  if (ids.size === 0) index.delete(key);
  return true;
}
