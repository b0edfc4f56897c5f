/**
 * The replicated cluster state machine. Every replica feeds it the committed Raft entries in
 * log order through apply(); all replicas therefore hold the same state at the same revision.
 *
 * apply() is deterministic: no clock (time comes from the command's at_ms, stamped by the
 * leader), no randomness (the scheduler's choices arrive as plans), no IO, and iteration only in
 * insertion order (which snapshots preserve) or sorted order.
 */
import { assert, assertNever } from "../lib/assert.js";
import { applyAclBootstrap, applyTokenCreate, applyTokenRevoke } from "./apply-acl.js";
import { applyContainerStatus, applyRemoveContainer } from "./apply-container.js";
import { applyDelete, applyDeploy, applyScale } from "./apply-deployment.js";
import { applyNodeDrainFinish, applyNodeDrainStart, applyNodeDrainStep, applyNodeEligibility } from "./apply-drain.js";
import { applyFile } from "./apply-file.js";
import { applyMemberForget, applyMemberSet } from "./apply-member.js";
import { applyContainerHealth, applyResetBackoff, applyRestartContainer } from "./apply-health.js";
import { applyNodeReadiness, applyRegisterNode, applySetNodeStatus } from "./apply-node.js";
import { applyNodeDown } from "./apply-node-down.js";
import { applyOperationOutcome, applyOperationOutcomes } from "./apply-operation.js";
import { applyPlan } from "./apply-plan.js";
import {
  applyRolloutFinish,
  applyRolloutPause,
  applyRolloutPromote,
  applyRolloutResume,
  applyRolloutRevert,
  applyRolloutStep,
  applyRolloutUndo,
} from "./apply-rollout.js";
import type { ApplyResult } from "./apply-result.js";
import type { ClientSession } from "./client-sessions.js";
import { ClusterState, type MemberAddressRecord, type StateChange } from "./cluster-state.js";
import type { ClusterReadView } from "./controller-ports.js";
import { decodeCommand, type DecodedCommand } from "./commands.js";
import {
  containerStateCounts,
  deploymentStatus,
  deploymentView,
  events,
  listContainers,
  type ContainerFilter,
  type ContainerPage,
  type DeploymentStatusSummary,
  type DeploymentView,
  type EventFilter,
} from "./read-model.js";
import { failure, success } from "./result.js";
import { fsmLimits, keepPolicyFormatVersion, snapshotRecordsPerStep } from "./limits.js";
import { decodeSnapshot, encodeSnapshot, encodeSnapshotSteps } from "./snapshot.js";
import type {
  ContainerRecord,
  ContainerState,
  DeploymentRecord,
  FsmEvent,
  NodeRecord,
  OperationRecord,
  OutcomeBucket,
  Resources,
} from "./state.js";
import { validateClientRequest, validateText } from "./validation.js";
import type { TokenRecord } from "./state.js";

export type ChangeListener = (change: StateChange) => void;
export type RestoreListener = (revision: number) => void;
/** The members' address table changed (by apply or by a restore); read it with memberAddresses(). */
export type MembersListener = () => void;

/** Everything the FSM replicates, as plain data in iteration order (for tests and debugging). */
export interface FsmStateDump {
  readonly revision: number;
  readonly nodes: readonly Readonly<NodeRecord>[];
  readonly deployments: readonly DeploymentView["deployment"][];
  readonly containers: readonly Readonly<ContainerRecord>[];
  readonly events: readonly FsmEvent[];
  readonly eventsAppendedTotal: number;
  readonly clientSessions: readonly Readonly<ClientSession>[];
  readonly openOperations: readonly OperationRecord[];
  readonly outcomeBuckets: readonly OutcomeBucket[];
}

export class ClusterFsm implements ClusterReadView {
  private state = new ClusterState();
  private readonly changeListeners = new Set<ChangeListener>();
  private readonly restoreListeners = new Set<RestoreListener>();
  private readonly membersListeners = new Set<MembersListener>();
  private applying = false;
  /** A sliced snapshot (snapshotSteps) is being encoded: applying would change what it encodes. */
  private snapshotting = false;

  /** The index of the last applied log entry (0 before any). */
  /** The revision of the last deployment delete (apply's check index). */
  get deletedRevision(): number {
    return this.state.deletedRevision;
  }

  get revision(): number {
    return this.state.revision;
  }

  /**
   * Applies the committed log entry at `index` (indexes only grow; entries the application
   * does not hand to the FSM, like configuration changes, may leave gaps). Empty data is a
   * leader's no-op entry. Change listeners run after the entry is fully applied.
   */
  apply(index: number, data: Uint8Array): ApplyResult {
    assert(!this.applying, "apply is not re-entrant (a change listener must not apply)");
    assert(!this.snapshotting, "apply while a snapshot is being encoded");
    assert(
      Number.isSafeInteger(index) && index > this.state.revision,
      `apply index ${index} after revision ${this.state.revision}`,
    );
    this.applying = true;
    let result: ApplyResult;
    try {
      this.state.revision = index;
      this.state.actor = "";
      result = data.byteLength === 0 ? success({ kind: "noop" }) : this.applyData(data);
    } finally {
      this.applying = false;
    }
    for (const change of this.state.takeChanges()) {
      for (const listener of this.changeListeners) listener(change);
    }
    if (this.state.membersChanged) {
      this.state.membersChanged = false;
      for (const listener of this.membersListeners) listener();
    }
    return result;
  }

  private applyData(data: Uint8Array): ApplyResult {
    const decoded = decodeCommand(data);
    if (!decoded.ok) return decoded;
    const command = decoded.value;
    const problem =
      validateClientRequest(command.clientId, command.seq) ??
      validateText("actor", command.actor, fsmLimits.actorLengthMax);
    if (problem !== null) return problem;
    this.state.actor = command.actor;
    if (command.clientId === "") return this.execute(command);
    const sessions = this.state.sessions;
    const check = sessions.check(command.clientId, command.seq);
    switch (check.kind) {
      case "duplicate":
        sessions.touch(command.clientId, command.atMs);
        return check.result;
      case "stale":
        return failure(
          "FAILED_PRECONDITION",
          `stale request: client ${command.clientId} sent seq ${command.seq} after seq ${check.lastSeq} was applied; its reply is gone, so check the state and retry with a new sequence number`,
        );
      case "new": {
        const result = this.execute(command);
        sessions.record(command.clientId, command.seq, command.atMs, result);
        return result;
      }
      default:
        return assertNever(check, "session check");
    }
  }

  private execute(command: DecodedCommand): ApplyResult {
    const { body, atMs } = command;
    // Who asked, where a command records it (version history, tokens): entries older than
    // format 6 carry no envelope actor, and their client id was their actor.
    const actor = command.actor !== "" ? command.actor : command.clientId;
    const state = this.state;
    switch (body.kind) {
      case "deploy":
        return applyDeploy(state, body.deploy, actor, atMs, command.formatVersion >= keepPolicyFormatVersion);
      case "scale":
        return applyScale(state, body.scale, atMs);
      case "delete":
        return applyDelete(state, body.delete, atMs);
      case "register-node":
        return applyRegisterNode(state, body.registerNode, atMs);
      case "set-node-status":
        return applySetNodeStatus(state, body.setNodeStatus, atMs);
      case "node-readiness":
        return applyNodeReadiness(state, body.nodeReadiness, atMs);
      case "apply-plan":
        return applyPlan(state, body.applyPlan, atMs);
      case "container-status":
        return applyContainerStatus(state, body.containerStatus, atMs);
      case "remove-container":
        return applyRemoveContainer(state, body.removeContainer, atMs);
      case "container-health":
        return applyContainerHealth(state, body.containerHealth, atMs);
      case "restart-container":
        return applyRestartContainer(state, body.restartContainer, atMs);
      case "reset-backoff":
        return applyResetBackoff(state, body.resetBackoff);
      case "node-down":
        return applyNodeDown(state, body.nodeDown, atMs);
      case "operation-outcome":
        return applyOperationOutcome(state, body.operationOutcome, atMs);
      case "operation-outcomes":
        return applyOperationOutcomes(state, body.operationOutcomes, atMs);
      case "rollout-step":
        return applyRolloutStep(state, body.rolloutStep, atMs);
      case "rollout-finish":
        return applyRolloutFinish(state, body.rolloutFinish, atMs);
      case "rollout-revert":
        return applyRolloutRevert(state, body.rolloutRevert, atMs);
      case "rollout-promote":
        return applyRolloutPromote(state, body.rolloutPromote, atMs);
      case "rollout-pause":
        return applyRolloutPause(state, body.rolloutPause, atMs);
      case "rollout-resume":
        return applyRolloutResume(state, body.rolloutResume, atMs);
      case "rollout-undo":
        return applyRolloutUndo(state, body.rolloutUndo, actor, atMs);
      case "apply-file":
        return applyFile(state, body.applyFile, actor, atMs);
      case "acl-bootstrap":
        return applyAclBootstrap(state, body.aclBootstrap, actor, atMs);
      case "token-create":
        return applyTokenCreate(state, body.tokenCreate, actor, atMs);
      case "token-revoke":
        return applyTokenRevoke(state, body.tokenRevoke, atMs);
      case "member-set":
        return applyMemberSet(state, body.memberSet);
      case "member-forget":
        return applyMemberForget(state, body.memberForget);
      case "node-eligibility":
        return applyNodeEligibility(state, body.nodeEligibility, atMs);
      case "node-drain-start":
        return applyNodeDrainStart(state, body.nodeDrainStart, atMs);
      case "node-drain-step":
        return applyNodeDrainStep(state, body.nodeDrainStep, atMs);
      case "node-drain-finish":
        return applyNodeDrainFinish(state, body.nodeDrainFinish, atMs);
      default:
        return assertNever(body, "command body");
    }
  }

  /** The whole state as an FsmSnapshot message. */
  snapshot(): Uint8Array {
    assert(!this.applying, "snapshot during apply");
    return encodeSnapshot(this.state);
  }

  /**
   * The same snapshot, encoded a slice at a time: each next() does about `recordsPerStep`
   * records, the last returns the bytes. Nothing may be applied until it is done (apply checks);
   * a restore ends it (the next step throws), and so does return().
   */
  *snapshotSteps(recordsPerStep = snapshotRecordsPerStep): Generator<void, Uint8Array, void> {
    assert(!this.applying && !this.snapshotting, "snapshot during apply or another snapshot");
    const state = this.state;
    this.snapshotting = true;
    try {
      const steps = encodeSnapshotSteps(state, recordsPerStep);
      for (;;) {
        const step = steps.next();
        if (step.done === true) return step.value;
        yield;
        assert(this.state === state, "the state was restored during a snapshot");
      }
    } finally {
      if (this.state === state) this.snapshotting = false;
    }
  }

  /** Replaces the whole state with a snapshot's; restore listeners then learn the new revision. */
  restore(bytes: Uint8Array): void {
    assert(!this.applying, "restore during apply");
    this.state = decodeSnapshot(bytes);
    // A snapshot being encoded from the old state is abandoned (its next step throws).
    this.snapshotting = false;
    for (const listener of this.restoreListeners) listener(this.state.revision);
    for (const listener of this.membersListeners) listener();
  }

  /** Crashes (BugIndicatingError) if an invariant does not hold. O(containers): tests and debug. */
  checkInvariants(): void {
    this.state.checkInvariants();
  }

  /**
   * Every change made by apply, after the entry is applied: one per entity touched (its final
   * action), in the order first touched. Returns the unsubscribe function.
   */
  onChange(listener: ChangeListener): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  /** A restore replaced the state wholesale: watchers must resynchronise from the new state. */
  onRestore(listener: RestoreListener): () => void {
    this.restoreListeners.add(listener);
    return () => this.restoreListeners.delete(listener);
  }

  /** The members' address table changed (apply or restore). Returns the unsubscribe function. */
  onMembersChange(listener: MembersListener): () => void {
    this.membersListeners.add(listener);
    return () => this.membersListeners.delete(listener);
  }

  // ---- reads (records are live: treat them as read-only) ----

  /** Every recorded member's addresses, sorted by id. */
  memberAddresses(): MemberAddressRecord[] {
    return [...this.state.members.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  getDeployment(name: string): DeploymentView | undefined {
    const deployment = this.state.deployments.get(name);
    return deployment === undefined ? undefined : deploymentView(this.state, deployment);
  }

  /**
   * The deployment's record alone, O(1): getDeployment also summarises every container of the
   * deployment and scans the event ring, too much for per-evaluation hot paths.
   */
  getDeploymentRecord(name: string): Readonly<DeploymentRecord> | undefined {
    return this.state.deployments.get(name);
  }

  /** Names of the deployments with unplaced containers, sorted: O(deployments), no container is visited. */
  deploymentsWithPending(): string[] {
    return [...this.state.deployments.keys()]
      .filter((name) => this.state.pendingCount(name) > 0)
      .sort((a, b) => (a < b ? -1 : 1));
  }

  /** Sorted by name. */
  /** How many of the deployment's containers are waiting to be placed, O(1). */
  pendingCount(name: string): number {
    return this.state.pendingCount(name);
  }

  /** getDeployment's status alone: O(the deployment's containers), no event scan. */
  getDeploymentStatus(name: string): DeploymentStatusSummary | undefined {
    const deployment = this.state.deployments.get(name);
    return deployment === undefined ? undefined : deploymentStatus(this.state, deployment);
  }

  /**
   * The revision of the last change to any of the deployment's containers (0: none yet). With
   * the record's updatedRevision it tells whether a status summary taken earlier still holds.
   */
  containersRevision(name: string): number {
    return this.state.containersRevision(name);
  }

  /** Containers wanted running, by state, across the cluster (what the containers gauge shows). */
  containerStateCounts(): Record<ContainerState, number> {
    return containerStateCounts(this.state);
  }

  deploymentCount(): number {
    return this.state.deployments.size;
  }

  listDeployments(): DeploymentView[] {
    return [...this.state.deployments.values()]
      .sort((a, b) => (a.spec.name < b.spec.name ? -1 : 1))
      .map((deployment) => deploymentView(this.state, deployment));
  }

  /** Every container, in no particular order, without copying (do not apply while iterating). */
  allContainers(): IterableIterator<Readonly<ContainerRecord>> {
    return this.state.containers.values();
  }

  getContainer(id: string): Readonly<ContainerRecord> | undefined {
    return this.state.containers.get(id);
  }

  /** Deployment filter: by ordinal; node filter: the node's assignments; neither: creation order. */
  listContainers(filter: ContainerFilter = {}): ContainerPage {
    return listContainers(this.state, filter);
  }

  /** A deployment's unplaced containers, by ordinal: the scheduler's work. */
  pendingContainers(deployment: string): Readonly<ContainerRecord>[] {
    return this.state.pendingOf(deployment).sort((a, b) => a.ordinal - b.ordinal);
  }

  getNode(id: string): Readonly<NodeRecord> | undefined {
    return this.state.nodes.get(id);
  }

  /** Sorted by id. */
  listNodes(): Readonly<NodeRecord>[] {
    return [...this.state.nodes.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  /** Containers assigned to a node (holding its capacity). */
  nodeContainerCount(id: string): number {
    return this.state.holdingCount(id);
  }

  /** Capacities of all registered nodes, for validateDeploymentSpec before proposing. */
  nodeCapacities(): Resources[] {
    return this.state.nodeCapacities();
  }

  /** Most recent first. */
  events(filter: EventFilter = {}): FsmEvent[] {
    return events(this.state, filter);
  }

  /** Open deployment operations, in the order they were opened: what the leader must judge. */
  openOperations(): OperationRecord[] {
    return [...this.state.operations.values()];
  }

  /** The deployment's open operation, if any. */
  openOperation(deployment: string): OperationRecord | undefined {
    return this.state.operations.ofDeployment(deployment);
  }

  /** Operation outcomes per minute of leader time over the last 30 days, oldest first (copies). */
  outcomeBuckets(): OutcomeBucket[] {
    return this.state.outcomes.values();
  }

  /** The token whose secret hashes to `secretSha256` (lowercase hex), if any: how a call's token is checked. */
  tokenBySecretHash(secretSha256: string): Readonly<TokenRecord> | undefined {
    return this.state.tokens.bySecretHash(secretSha256);
  }

  getToken(name: string): Readonly<TokenRecord> | undefined {
    return this.state.tokens.get(name);
  }

  /** In creation order. */
  listTokens(): Readonly<TokenRecord>[] {
    return [...this.state.tokens.values()];
  }

  /** The revision of the ACL bootstrap (0: never bootstrapped). */
  get aclBootstrappedRevision(): number {
    return this.state.aclBootstrappedRevision;
  }

  /** The dedup entry of a client, if the table still holds it. */
  clientSession(clientId: string): Readonly<ClientSession> | undefined {
    return this.state.sessions.get(clientId);
  }

  get containerCount(): number {
    return this.state.containers.size;
  }

  dumpState(): FsmStateDump {
    const state = this.state;
    return {
      revision: state.revision,
      nodes: [...state.nodes.values()],
      deployments: [...state.deployments.values()],
      containers: [...state.containers.values()],
      events: state.events.oldestFirst(),
      eventsAppendedTotal: state.events.appendedTotal,
      clientSessions: [...state.sessions.values()],
      openOperations: [...state.operations.values()],
      outcomeBuckets: state.outcomes.values(),
    };
  }
}
