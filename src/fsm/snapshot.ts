/**
 * Snapshot codec: the whole state as one `orchestrator.v1.FsmSnapshot` message. It is written and
 * read record by record (the same bytes the generated FsmSnapshot codec would produce), so a
 * million containers never exist twice in memory as state objects and message objects at once.
 *
 * Records are written in the state's iteration order and restored in it, so a restored replica
 * iterates, and therefore applies, exactly like one that never snapshotted.
 */
import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { addressesFromProto, addressesToProto, workloadFromProto } from "./workload.js";
import { assert, fail } from "../lib/assert.js";
import {
  ClientSessionRecord,
  ContainerRecord as PbContainerRecord,
  MemberAddressRecord as PbMemberAddressRecord,
  DeploymentRecord as PbDeploymentRecord,
  NodeRecord as PbNodeRecord,
  OperationOutcomeRecord as PbOperationOutcomeRecord,
  OperationRecord as PbOperationRecord,
  OutcomeBucketRecord,
  TokenRecord as PbTokenRecord,
} from "../gen/orchestrator/v1/fsm.js";
import { Event as PbEvent } from "../gen/orchestrator/v1/types.js";
import * as pb from "../gen/orchestrator/v1/types.js";
import type { ApplyResult } from "./apply-result.js";
import type { ClientSession } from "./client-sessions.js";
import { ClusterState } from "./cluster-state.js";
import {
  deploymentDefaults,
  isKnownRegion,
  snapshotFormatVersion,
  snapshotFormatVersionMin,
  type Region,
} from "./limits.js";
import { isTokenRole } from "./token-roles.js";
import {
  containerStateFromProto,
  containerStateToProto,
  desiredStateFromProto,
  desiredStateToProto,
  eventToProto,
  healthFromProto,
  healthToProto,
  nodeDrainFromProto,
  nodeDrainToProto,
  nodeStatusFromProto,
  nodeStatusToProto,
  operationKindFromProto,
  operationKindToProto,
  rolloutToProto,
  specToProto,
  versionToProto,
  strategyFromProto,
} from "./proto-convert.js";
import {
  containerId,
  type ContainerRecord,
  type DeploymentRecord,
  type DeploymentSpec,
  type EventKind,
  type FsmEvent,
  type NodeDrainRecord,
  type NodeRecord,
  type OperationKind,
  type OperationOutcome,
  type OperationRecord,
  type OutcomeBucket,
  type RolloutRecord,
  type RolloutState,
  type TokenRecord,
  type VersionOutcome,
  type VersionRecord,
} from "./state.js";

/** Field numbers of FsmSnapshot (proto/orchestrator/v1/fsm.proto). */
const field = {
  formatVersion: 1,
  revision: 2,
  eventsAppendedTotal: 3,
  nodes: 4,
  deployments: 5,
  containers: 6,
  events: 7,
  clientSessions: 8,
  openOperations: 9,
  outcomeBuckets: 10,
  deletedRevision: 11,
  tokens: 12,
  aclBootstrappedRevision: 13,
  members: 14,
} as const;
const fieldNoMax = Math.max(...Object.values(field));
const varintFields: ReadonlySet<number> = new Set([
  field.formatVersion,
  field.revision,
  field.eventsAppendedTotal,
  field.deletedRevision,
  field.aclBootstrappedRevision,
]);

function tag(fieldNo: number, wireType: WireType): number {
  return (fieldNo << 3) | wireType;
}

export function encodeSnapshot(state: ClusterState): Uint8Array {
  const steps = encodeSnapshotSteps(state, Number.POSITIVE_INFINITY);
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value;
  }
}

/**
 * The same encoding, pausing (yield) after every `recordsPerStep` records, so a large state can
 * be encoded a slice at a time between other work. The state must not change until it returns.
 */
export function* encodeSnapshotSteps(state: ClusterState, recordsPerStep: number): Generator<void, Uint8Array, void> {
  const writer = new BinaryWriter();
  writer.uint32(tag(field.formatVersion, WireType.Varint)).uint32(snapshotFormatVersion);
  if (state.revision !== 0) writer.uint32(tag(field.revision, WireType.Varint)).uint64(state.revision);
  if (state.deletedRevision !== 0)
    writer.uint32(tag(field.deletedRevision, WireType.Varint)).uint64(state.deletedRevision);
  if (state.events.appendedTotal !== 0)
    writer.uint32(tag(field.eventsAppendedTotal, WireType.Varint)).uint64(state.events.appendedTotal);
  if (state.aclBootstrappedRevision !== 0)
    writer.uint32(tag(field.aclBootstrappedRevision, WireType.Varint)).uint64(state.aclBootstrappedRevision);
  const message = (fieldNo: number): BinaryWriter => writer.uint32(tag(fieldNo, WireType.LengthDelimited)).fork();
  let records = 0;
  const pauseDue = (): boolean => ++records % recordsPerStep === 0;
  for (const node of state.nodes.values()) {
    PbNodeRecord.encode(nodeToRecord(node), message(field.nodes)).join();
    if (pauseDue()) yield;
  }
  for (const deployment of state.deployments.values()) {
    PbDeploymentRecord.encode(deploymentToRecord(deployment), message(field.deployments)).join();
    if (pauseDue()) yield;
  }
  for (const container of state.containers.values()) {
    PbContainerRecord.encode(containerToRecord(container), message(field.containers)).join();
    if (pauseDue()) yield;
  }
  for (const event of state.events.oldestFirst()) PbEvent.encode(eventToProto(event), message(field.events)).join();
  for (const session of state.sessions.values())
    ClientSessionRecord.encode(sessionToRecord(session), message(field.clientSessions)).join();
  for (const operation of state.operations.values())
    PbOperationRecord.encode(operationToRecord(operation), message(field.openOperations)).join();
  for (const bucket of state.outcomes.values())
    OutcomeBucketRecord.encode(bucket, message(field.outcomeBuckets)).join();
  for (const token of state.tokens.values()) PbTokenRecord.encode(token, message(field.tokens)).join();
  for (const member of [...state.members.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)))
    PbMemberAddressRecord.encode(member, message(field.members)).join();
  return writer.finish();
}

/** Builds a state from a snapshot. A snapshot that does not decode or is inconsistent is a bug. */
export function decodeSnapshot(bytes: Uint8Array): ClusterState {
  const state = new ClusterState();
  const reader = new BinaryReader(bytes);
  const events: FsmEvent[] = [];
  const sessions: ClientSession[] = [];
  const operations: OperationRecord[] = [];
  const buckets: OutcomeBucket[] = [];
  const tokens: TokenRecord[] = [];
  const names = new Map<string, string>();
  let formatVersion = 0;
  let eventsAppendedTotal = 0;
  while (reader.pos < reader.len) {
    const fieldTag = reader.uint32();
    const fieldNo = fieldTag >>> 3;
    const wireType = (fieldTag & 7) as WireType;
    const expected: WireType = varintFields.has(fieldNo) ? WireType.Varint : WireType.LengthDelimited;
    if (fieldNo > fieldNoMax || fieldNo === 0) {
      reader.skip(wireType);
      continue;
    }
    if (wireType !== expected) fail(`snapshot field ${fieldNo} has wire type ${wireType}`);
    switch (fieldNo) {
      case field.formatVersion:
        formatVersion = reader.uint32();
        if (formatVersion < snapshotFormatVersionMin || formatVersion > snapshotFormatVersion)
          fail(
            `snapshot format ${formatVersion} is not one this replica reads (${snapshotFormatVersionMin}..${snapshotFormatVersion})`,
          );
        break;
      case field.revision:
        state.revision = toNumber(reader.uint64());
        break;
      case field.deletedRevision:
        state.deletedRevision = toNumber(reader.uint64());
        break;
      case field.aclBootstrappedRevision:
        state.aclBootstrappedRevision = toNumber(reader.uint64());
        break;
      case field.members: {
        const member = PbMemberAddressRecord.decode(reader, reader.uint32());
        if (state.members.has(member.id)) fail(`snapshot repeats member ${member.id}`);
        state.members.set(member.id, { id: member.id, raftAddress: member.raftAddress, apiAddress: member.apiAddress });
        break;
      }
      case field.tokens:
        tokens.push(tokenFromRecord(PbTokenRecord.decode(reader, reader.uint32())));
        break;
      case field.eventsAppendedTotal:
        eventsAppendedTotal = toNumber(reader.uint64());
        break;
      case field.nodes: {
        const node = nodeFromRecord(PbNodeRecord.decode(reader, reader.uint32()));
        if (state.nodes.has(node.id)) fail(`snapshot repeats node ${node.id}`);
        state.nodes.set(node.id, node);
        break;
      }
      case field.deployments: {
        const deployment = deploymentFromRecord(PbDeploymentRecord.decode(reader, reader.uint32()));
        if (state.deployments.has(deployment.spec.name)) fail(`snapshot repeats deployment ${deployment.spec.name}`);
        state.deployments.set(deployment.spec.name, deployment);
        break;
      }
      case field.containers:
        state.restoreContainer(containerFromRecord(PbContainerRecord.decode(reader, reader.uint32()), names));
        break;
      case field.events:
        events.push(eventFromProto(PbEvent.decode(reader, reader.uint32()), events.length));
        break;
      case field.clientSessions:
        sessions.push(sessionFromRecord(ClientSessionRecord.decode(reader, reader.uint32())));
        break;
      case field.openOperations:
        operations.push(operationFromRecord(PbOperationRecord.decode(reader, reader.uint32())));
        break;
      case field.outcomeBuckets: {
        const { minute, succeeded, failed } = OutcomeBucketRecord.decode(reader, reader.uint32());
        buckets.push({ minute, succeeded, failed });
        break;
      }
    }
  }
  assert(formatVersion !== 0, "snapshot without a format version");
  const firstSeq = eventsAppendedTotal - events.length + 1;
  state.events.restore(
    events.map((event, i) => ({ ...event, seq: firstSeq + i })),
    eventsAppendedTotal,
  );
  state.sessions.restore(sessions);
  state.operations.restore(operations);
  state.outcomes.restore(buckets);
  state.tokens.restore(tokens);
  placeRestoredContainers(state);
  state.rebuildIndexes();
  return state;
}

/** Containers store only their node id: take the node's own id string and its region. */
function placeRestoredContainers(state: ClusterState): void {
  for (const container of state.containers.values()) {
    if (container.node === "") continue;
    const node = state.nodes.get(container.node);
    if (node === undefined) fail(`snapshot container ${container.id} is on unknown node ${container.node}`);
    container.node = node.id;
    container.region = node.region;
  }
}

function toNumber(value: bigint | string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) fail(`snapshot number ${value} is out of range`);
  return n;
}

function nodeToRecord(node: NodeRecord): PbNodeRecord {
  return {
    id: node.id,
    region: node.region,
    capacity: node.capacity,
    allocated: node.allocated,
    status: nodeStatusToProto(node.status),
    agentAddress: node.agentAddress,
    lastStatusChangeAtMs: node.lastStatusChangeAtMs,
    statusReason: node.statusReason,
    ineligible: !node.eligible,
    drain: node.drain === null ? undefined : nodeDrainToProto(node.drain),
    notReadyReason: node.notReadyReason,
    notReadySinceMs: node.notReadySinceMs,
  };
}

function nodeFromRecord(record: PbNodeRecord): NodeRecord {
  const status = nodeStatusFromProto(record.status);
  if (status === null) fail(`snapshot node ${record.id} has status ${record.status}`);
  return {
    id: record.id,
    region: region(record.region),
    capacity: { cpuMillicores: record.capacity?.cpuMillicores ?? 0, memoryMib: record.capacity?.memoryMib ?? 0 },
    allocated: { cpuMillicores: record.allocated?.cpuMillicores ?? 0, memoryMib: record.allocated?.memoryMib ?? 0 },
    status,
    agentAddress: record.agentAddress,
    lastStatusChangeAtMs: record.lastStatusChangeAtMs,
    statusReason: record.statusReason,
    eligible: !record.ineligible,
    drain: record.drain === undefined ? null : drainFromRecord(record.id, record.drain),
    notReadyReason: record.notReadyReason,
    notReadySinceMs: record.notReadyReason === "" ? 0 : record.notReadySinceMs,
  };
}

function drainFromRecord(nodeId: string, record: pb.NodeDrain): NodeDrainRecord {
  const drain = nodeDrainFromProto(record);
  if (drain === null) fail(`snapshot node ${nodeId} has drain state ${record.state}`);
  return drain;
}

function region(value: string): Region {
  if (!isKnownRegion(value)) fail(`snapshot names unknown region ${value}`);
  return value;
}

function deploymentToRecord(deployment: DeploymentRecord): PbDeploymentRecord {
  return {
    spec: specToProto(deployment.spec),
    version: deployment.version,
    createdRevision: deployment.createdRevision,
    updatedRevision: deployment.updatedRevision,
    specRevision: deployment.specRevision,
    nextContainerOrdinal: deployment.nextContainerOrdinal,
    pendingReason: deployment.pendingReason,
    lastOutcome: deployment.lastOutcome === null ? undefined : outcomeToRecord(deployment.lastOutcome),
    history: deployment.history.map(versionToProto),
    rollout: deployment.rollout === null ? undefined : rolloutToProto(deployment.rollout),
    recentOutcomes: deployment.recentOutcomes.map((o) => ({ atMs: o.atMs, succeeded: o.succeeded })),
    migrations: deployment.migrations.map((m) => ({ fromContainerId: m.from, toContainerId: m.to })),
  };
}

const versionOutcomes: readonly VersionOutcome[] = ["pending", "succeeded", "failed", "superseded"];
const rolloutStates: readonly RolloutState[] = [
  "running",
  "paused",
  "awaiting-promotion",
  "succeeded",
  "failed",
  "reverted",
];

function versionFromRecord(name: string, record: pb.DeploymentVersion): VersionRecord {
  assert(record.spec !== undefined, `snapshot version ${record.version} of ${name} without a spec`);
  const outcome = versionOutcomes.find((o) => o === record.outcome);
  if (outcome === undefined) fail(`snapshot version ${record.version} of ${name} has outcome ${record.outcome}`);
  return {
    version: record.version,
    spec: specFromProto(record.spec),
    actor: record.actor,
    atMs: record.atMs,
    revision: record.revision,
    reason: record.reason,
    outcome,
  };
}

function rolloutFromRecord(name: string, record: pb.Rollout): RolloutRecord {
  const state = rolloutStates.find((s) => s === record.state);
  if (state === undefined) fail(`snapshot rollout of ${name} has state ${record.state}`);
  const pausedBy = record.pausedBy === "" ? null : record.pausedBy;
  if (!(pausedBy === null || pausedBy === "operator" || pausedBy === "burn-rate"))
    fail(`snapshot rollout of ${name} paused by ${record.pausedBy}`);
  return {
    fromVersion: record.fromVersion,
    toVersion: record.toVersion,
    state,
    isRevert: record.isRevert,
    pausedBy,
    startedAtMs: record.startedAtMs,
    lastProgressAtMs: record.lastProgressAtMs,
    finishedAtMs: record.finishedAtMs,
    reason: record.reason,
    stepSeq: record.stepSeq,
    promoted: record.promoted,
    operationId: record.operationId,
  };
}

function deploymentFromRecord(record: PbDeploymentRecord): DeploymentRecord {
  assert(record.spec !== undefined, "snapshot deployment without a spec");
  return {
    spec: specFromProto(record.spec),
    version: record.version,
    createdRevision: record.createdRevision,
    updatedRevision: record.updatedRevision,
    // Older snapshots lack it: the last update is a safe over-estimate (a check may refuse, never pass wrongly).
    specRevision: record.specRevision ?? record.updatedRevision,
    nextContainerOrdinal: record.nextContainerOrdinal,
    pendingReason: record.pendingReason,
    lastOutcome: record.lastOutcome === undefined ? null : outcomeFromRecord(record.lastOutcome),
    recentOutcomes: record.recentOutcomes.map((o) => ({ atMs: o.atMs, succeeded: o.succeeded })),
    history: record.history.map((entry) => versionFromRecord(record.spec?.name ?? "", entry)),
    rollout: record.rollout === undefined ? null : rolloutFromRecord(record.spec?.name ?? "", record.rollout),
    migrations: record.migrations.map((m) => ({ from: m.fromContainerId, to: m.toContainerId })),
  };
}

function operationKind(kind: PbOperationRecord["kind"], what: string): OperationKind {
  const decoded = operationKindFromProto(kind);
  if (decoded === null) fail(`snapshot ${what} has operation kind ${kind}`);
  return decoded;
}

function operationToRecord(operation: OperationRecord): PbOperationRecord {
  return { ...operation, kind: operationKindToProto(operation.kind) };
}

function operationFromRecord(record: PbOperationRecord): OperationRecord {
  return {
    id: record.id,
    deployment: record.deployment,
    kind: operationKind(record.kind, `operation ${record.id}`),
    startedAtMs: record.startedAtMs,
    deadlineAtMs: record.deadlineAtMs,
    startedRevision: record.startedRevision,
  };
}

function outcomeToRecord(outcome: OperationOutcome): PbOperationOutcomeRecord {
  return { ...outcome, kind: operationKindToProto(outcome.kind) };
}

function outcomeFromRecord(record: PbOperationOutcomeRecord): OperationOutcome {
  return {
    operationId: record.operationId,
    kind: operationKind(record.kind, `outcome of ${record.operationId}`),
    succeeded: record.succeeded,
    reason: record.reason,
    startedAtMs: record.startedAtMs,
    deadlineAtMs: record.deadlineAtMs,
    finishedAtMs: record.finishedAtMs,
  };
}

/** A spec that apply already validated and normalized: every field is present. */
function specFromProto(spec: pb.DeploymentSpec): DeploymentSpec {
  const strategy = strategyFromProto(spec.strategy);
  if (strategy === null) fail(`snapshot deployment ${spec.name} has strategy ${spec.strategy}`);
  if (!(spec.healthCheck !== undefined && spec.restartPolicy !== undefined && spec.update !== undefined))
    fail(`snapshot deployment ${spec.name} lacks its health, restart or update settings`);
  const update = spec.update;
  if (!(update.maxSurge !== undefined && update.minHealthyTimeMs !== undefined && update.autoRevert !== undefined))
    fail(`snapshot deployment ${spec.name} lacks update policy fields`);
  return {
    name: spec.name,
    image: spec.image,
    replicas: spec.replicas,
    cpuMillicores: spec.cpuMillicores,
    memoryMib: spec.memoryMib,
    strategy,
    regions: spec.regions.map(region),
    clientRegions: spec.clientRegions.map(region),
    onePerNode: spec.onePerNode,
    healthCheck: { ...spec.healthCheck, port: spec.healthCheck.port ?? "" },
    restartPolicy: { ...spec.restartPolicy },
    progressDeadlineMs: spec.progressDeadlineMs,
    update: {
      maxParallel: update.maxParallel,
      maxSurge: update.maxSurge,
      minHealthyTimeMs: update.minHealthyTimeMs,
      healthyDeadlineMs: update.healthyDeadlineMs,
      progressDeadlineMs: update.progressDeadlineMs,
      canary: update.canary,
      autoRevert: update.autoRevert,
    },
    // Older snapshots lack it: the default it would have been given.
    maxUnavailable: spec.maxUnavailable ?? deploymentDefaults.maxUnavailable,
    ...workloadFromProto(spec.workload),
  };
}

function containerToRecord(container: ContainerRecord): PbContainerRecord {
  return {
    deployment: container.deployment,
    ordinal: container.ordinal,
    version: container.version,
    cpuMillicores: container.cpuMillicores,
    memoryMib: container.memoryMib,
    nodeId: container.node,
    desiredState: desiredStateToProto(container.desired),
    state: containerStateToProto(container.state),
    restartCount: container.restartCount,
    nextRestartAtMs: container.nextRestartAtMs,
    health: healthToProto(container.health),
    updatedRevision: container.updatedRevision,
    backoffStep: container.backoffStep,
    healthySinceMs: container.healthySinceMs,
    placedAtMs: container.placedAtMs,
    addresses: addressesToProto(container.addresses),
  };
}

/** `names` interns deployment names: a million containers share a few strings. */
function containerFromRecord(record: PbContainerRecord, names: Map<string, string>): ContainerRecord {
  let deployment = names.get(record.deployment);
  if (deployment === undefined) {
    deployment = record.deployment;
    names.set(deployment, deployment);
  }
  const desired = desiredStateFromProto(record.desiredState);
  const state = containerStateFromProto(record.state);
  const health = healthFromProto(record.health);
  const id = containerId(deployment, record.ordinal);
  if (!(desired !== null && state !== null && health !== null)) fail(`snapshot container ${id} has an unknown state`);
  return {
    id,
    deployment,
    ordinal: record.ordinal,
    version: record.version,
    cpuMillicores: record.cpuMillicores,
    memoryMib: record.memoryMib,
    node: record.nodeId,
    region: "",
    desired,
    state,
    restartCount: record.restartCount,
    nextRestartAtMs: record.nextRestartAtMs,
    backoffStep: record.backoffStep,
    health,
    healthySinceMs: record.healthySinceMs,
    placedAtMs: record.placedAtMs,
    updatedRevision: record.updatedRevision,
    addresses: addressesFromProto(record.addresses),
  };
}

function tokenFromRecord(record: PbTokenRecord): TokenRecord {
  if (!isTokenRole(record.role)) fail(`snapshot token ${record.name} has role ${record.role}`);
  return {
    name: record.name,
    role: record.role,
    secretSha256: record.secretSha256,
    createdAtMs: record.createdAtMs,
    expiresAtMs: record.expiresAtMs,
    createdBy: record.createdBy,
    region: record.region,
  };
}

/** The seq is set once the total is known. */
function eventFromProto(event: pb.Event, index: number): FsmEvent {
  return {
    seq: index,
    revision: event.revision,
    atMs: event.atMs,
    kind: event.kind as EventKind,
    deployment: event.deployment,
    container: event.container,
    node: event.node,
    message: event.message,
    actor: event.actor,
  };
}

function sessionToRecord(session: Readonly<ClientSession>): ClientSessionRecord {
  return {
    clientId: session.clientId,
    lastSeq: session.lastSeq,
    lastActiveAtMs: session.lastActiveAtMs,
    resultJson: JSON.stringify(session.result),
  };
}

function sessionFromRecord(record: ClientSessionRecord): ClientSession {
  return {
    clientId: record.clientId,
    lastSeq: record.lastSeq,
    lastActiveAtMs: record.lastActiveAtMs,
    result: JSON.parse(record.resultJson) as ApplyResult,
  };
}
