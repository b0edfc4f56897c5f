import type { ServerWritableStream, handleUnaryCall, sendUnaryData, ServerUnaryCall } from "@grpc/grpc-js";

import { assertNever } from "../lib/assert.js";
import { realClock, type Clock } from "../lib/clock.js";
import type { Logger } from "../lib/logger.js";
import { OrchestratorError } from "../lib/errors.js";
import type { RaftNode } from "../raft/io/raft-node.js";
import {
  containerToProto,
  fsmLimits,
  deploymentToProto,
  eventToProto,
  nodeToProto,
  validateDeploymentName,
  validateDeploymentSpec,
  validateScale,
  type ClusterFsm,
  type StateChange,
} from "../fsm/index.js";
import {
  type ClusterStatusRequest,
  type DeleteRequest,
  type DeployRequest,
  type GetDeploymentRequest,
  type ListContainersRequest,
  type ListDeploymentsRequest,
  type ListNodesRequest,
  type ScaleRequest,
  type TransferLeadershipRequest,
  type ClusterStatusResponse,
  type Member,
  type OrchestratorServiceServer,
  type WatchRequest,
  type WatchResponse,
} from "../gen/orchestrator/v1/orchestrator.js";
import type { Deployment } from "../gen/orchestrator/v1/types.js";
import { anonymousCaller, type AccessControl, type Caller } from "./access-control.js";
import { isReadMethod } from "./access-rules.js";
import { CommandProposer } from "./command-proposer.js";
import { createTokenHandlers } from "./token-handlers.js";
import { createFaultHandlers } from "./fault-handlers.js";
import { isExpectedError, toServiceError } from "./grpc-status.js";
import type { MembersView } from "./members-view.js";
import { createSloHandlers } from "./slo-handlers.js";
import { createApplyHandlers } from "./apply-handlers.js";
import { deployResultToProto } from "./deploy-result.js";
import { createNodeHandlers } from "./node-handlers.js";
import { createRolloutHandlers } from "./rollout-handlers.js";
import { createMemberHandlers } from "./member-handlers.js";
import { MemberOperations, suffrageOf } from "./member-operations.js";
import type { WatchHub } from "./watch-hub.js";
import { snapshotSave } from "./snapshot-save.js";

export interface ServiceDeps {
  readonly node: RaftNode;
  /** The members' addresses: a follower names the leader's API address when it refuses. */
  readonly members: MembersView;
  readonly fsm: ClusterFsm;
  readonly watchHub: WatchHub;
  readonly logger: Logger;
  /** GetSlo's windows end at this clock's wall time (the real clock when absent). */
  readonly clock?: Clock;
  /** InjectFault's timeout per POST to an agent (faultLimits.agentTimeoutMs when absent). */
  readonly agentTimeoutMs?: number;
  /** Who calls (the API server's access interceptor); every caller is anonymous when absent. */
  readonly access?: AccessControl;
  /** The Member* RPCs' operations (built from node, fsm and members when absent). */
  readonly memberOperations?: MemberOperations;
}

/** Changes queued for one slow watcher before its stream is ended. */
const watchQueueMax = 10_000;

type Unary = <Req, Res>(
  method: string,
  fn: (request: Req, caller: Caller) => Promise<Res>,
) => handleUnaryCall<Req, Res>;

/**
 * Wraps a handler so every failure becomes a gRPC status with a message a person can act on.
 * The handler learns its caller (the access check's verdict); a read's token is checked again
 * once the read is done (see isReadMethod).
 */
function unaryWith(logger: Logger, members: MembersView, access: AccessControl | undefined): Unary {
  return <Req, Res>(method: string, fn: (request: Req, caller: Caller) => Promise<Res>) =>
    (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
      const caller = access?.callerOf(call.metadata) ?? anonymousCaller;
      const recheck = access !== undefined && isReadMethod(method);
      fn(call.request, caller)
        .then((response) => {
          const revoked = recheck ? access.recheck(caller) : null;
          if (revoked !== null) throw revoked;
          return response;
        })
        .then(
          (response) => callback(null, response),
          (error: unknown) => {
            if (!isExpectedError(error))
              logger.error(
                { method, err: error instanceof Error ? error.stack : String(error) },
                "request failed unexpectedly",
              );
            const serviceError = toServiceError(error, members);
            // A dependency behind this replica (a node's agent) is unavailable: say which, so the
            // client knows another replica would fare no better (see fault-handlers.ts).
            const agentAddress = error instanceof OrchestratorError ? error.details["agentAddress"] : undefined;
            if (agentAddress !== undefined) serviceError.metadata?.set("x-agent-address", agentAddress);
            callback(serviceError as Parameters<sendUnaryData<Res>>[0]);
          },
        );
    };
}

export function createOrchestratorService(deps: ServiceDeps): OrchestratorServiceServer {
  const { node, members, fsm, logger } = deps;
  const proposer = new CommandProposer(node);
  const readBarrier = async (stale: boolean) => {
    if (!stale) await node.linearizableRead();
  };
  const clock = deps.clock ?? realClock;
  const slo = createSloHandlers({ fsm, readBarrier, wallMs: () => clock.wallMs(), replicaId: () => node.status().id });
  const faults = createFaultHandlers({
    fsm,
    ...(deps.agentTimeoutMs !== undefined ? { agentTimeoutMs: deps.agentTimeoutMs } : {}),
  });
  const rollouts = createRolloutHandlers({ fsm, proposer });
  const nodes = createNodeHandlers({ fsm, proposer });
  const applies = createApplyHandlers({ fsm, proposer, readBarrier });
  const tokens = createTokenHandlers({ fsm, proposer, readBarrier, nowMs: () => clock.wallMs() });
  const unary = unaryWith(logger, members, deps.access);
  const memberHandlers = createMemberHandlers(node, deps.memberOperations ?? new MemberOperations(node, fsm, members));
  const deploymentOrThrow = (name: string): Deployment => {
    const view = fsm.getDeployment(name);
    if (view === undefined)
      throw new OrchestratorError("NOT_FOUND", `deployment ${name} not found; run \`orchctl list\` to see what exists`);
    return deploymentToProto(view);
  };
  // After a write succeeded, the deployment it touched may already be gone: a retried request
  // (same client id and seq) gets its first answer back from the dedup table even if another
  // client deleted the deployment since. The write did succeed, so answer OK without it.
  const deploymentIfAny = (name: string): Deployment | undefined => {
    const view = fsm.getDeployment(name);
    return view === undefined ? undefined : deploymentToProto(view);
  };

  return {
    deploy: unary("Deploy", async (request: DeployRequest, caller) => {
      const spec = validateDeploymentSpec(request.spec, fsm.nodeCapacities());
      if (!spec.ok) throw new OrchestratorError(spec.code, spec.message);
      // Who asked travels in the command's envelope (the proposer stamps it), not in its body.
      const value = await proposer.propose(
        { header: request.header, caller },
        { kind: "deploy", deploy: { spec: request.spec!, force: request.force ?? false } },
        "deploy",
      );
      return {
        deployment: deploymentIfAny(value.name),
        created: value.created,
        revision: fsm.revision,
        result: deployResultToProto(value.result),
        version: value.version,
      };
    }),
    scale: unary("Scale", async (request: ScaleRequest, caller) => {
      const invalid = validateScale(request.name, request.replicas);
      if (invalid !== null) throw new OrchestratorError(invalid.code, invalid.message);
      const value = await proposer.propose(
        { header: request.header, caller },
        { kind: "scale", scale: { name: request.name, replicas: request.replicas } },
        "scale",
      );
      return { deployment: deploymentIfAny(value.name), revision: fsm.revision };
    }),
    delete: unary("Delete", async (request: DeleteRequest, caller) => {
      const invalid = validateDeploymentName(request.name);
      if (invalid !== null) throw new OrchestratorError(invalid.code, invalid.message);
      await proposer.propose(
        { header: request.header, caller },
        { kind: "delete", delete: { name: request.name } },
        "delete",
      );
      return { revision: fsm.revision };
    }),
    getDeployment: unary("GetDeployment", async (request: GetDeploymentRequest) => {
      const invalid = validateDeploymentName(request.name);
      if (invalid !== null) throw new OrchestratorError(invalid.code, invalid.message);
      await readBarrier(request.stale);
      const deployment = deploymentOrThrow(request.name);
      const containers = fsm.listContainers({ deployment: request.name }).containers.map(containerToProto);
      return { deployment, containers, revision: fsm.revision };
    }),
    listDeployments: unary("ListDeployments", async (request: ListDeploymentsRequest) => {
      await readBarrier(request.stale);
      return { deployments: fsm.listDeployments().map(deploymentToProto), revision: fsm.revision };
    }),
    listContainers: unary("ListContainers", async (request: ListContainersRequest) => {
      await readBarrier(request.stale);
      const page = fsm.listContainers({
        ...(request.deployment !== "" ? { deployment: request.deployment } : {}),
        ...(request.node !== "" ? { node: request.node } : {}),
        limit: request.limit,
      });
      return { containers: page.containers.map(containerToProto), revision: fsm.revision, total: page.total };
    }),
    listNodes: unary("ListNodes", async (request: ListNodesRequest) => {
      await readBarrier(request.stale);
      return {
        nodes: fsm.listNodes().map((n) => nodeToProto(n, fsm.nodeContainerCount(n.id))),
        revision: fsm.revision,
      };
    }),
    clusterStatus: unary("ClusterStatus", async (_request: ClusterStatusRequest) => clusterStatus(node, members)),
    transferLeadership: unary("TransferLeadership", async (request: TransferLeadershipRequest) => {
      if (!node.isLeader()) throw node.notLeaderError(node.leaderId());
      const leaderId = await node.transferLeadership(request.to === "" ? undefined : request.to);
      return { leaderId, term: node.status().term };
    }),
    watch: (call: ServerWritableStream<WatchRequest, WatchResponse>) => watch(call, deps),
    getSlo: unary("GetSlo", slo.getSlo),
    injectFault: unary("InjectFault", faults.injectFault),
    rolloutAction: unary("RolloutAction", rollouts.rolloutAction),
    apply: unary("Apply", applies.apply),
    plan: unary("Plan", applies.plan),
    aclBootstrap: unary("AclBootstrap", tokens.aclBootstrap),
    tokenCreate: unary("TokenCreate", tokens.tokenCreate),
    tokenList: unary("TokenList", tokens.tokenList),
    tokenRevoke: unary("TokenRevoke", tokens.tokenRevoke),
    memberList: unary("MemberList", memberHandlers.memberList),
    memberAdd: unary("MemberAdd", memberHandlers.memberAdd),
    memberPromote: unary("MemberPromote", memberHandlers.memberPromote),
    memberRemove: unary("MemberRemove", memberHandlers.memberRemove),
    nodeEligibility: unary("NodeEligibility", nodes.nodeEligibility),
    nodeDrain: unary("NodeDrain", nodes.nodeDrain),
    snapshotSave: (call) => void snapshotSave(call, { node, members, logger }),
  };
}

function clusterStatus(node: RaftNode, directory: MembersView): ClusterStatusResponse {
  const status = node.status();
  const leaderAddress = status.leader === "" ? "" : (directory.addresses(status.leader)?.api ?? "");
  const members: Member[] = [];
  const ids = new Set([...directory.ids(), ...status.conf.voters, ...status.conf.learners]);
  for (const id of [...ids].sort()) {
    const addresses = directory.addresses(id);
    const progress = status.progress.get(id);
    const suffrage = suffrageOf(id, status);
    const role =
      id === status.leader
        ? "leader"
        : suffrage === "voter"
          ? "follower"
          : suffrage === "learner"
            ? "learner"
            : "unknown";
    members.push({
      id,
      raftAddress: addresses?.raft ?? "",
      apiAddress: addresses?.api ?? "",
      role,
      matchIndex: progress?.match ?? 0,
      reachable: id === status.id || (progress?.recentActive ?? false),
      suffrage,
      lastContactMs: lastContactMs(node, id),
    });
  }
  return {
    replicaId: status.id,
    role: status.role,
    leaderId: status.leader,
    leaderAddress,
    term: status.term,
    commitIndex: status.commit,
    appliedIndex: status.applied,
    members,
  };
}

/** Milliseconds since this replica last heard from `id` (0 for itself, -1: not since it started). */
function lastContactMs(node: RaftNode, id: string): number {
  if (id === node.id) return 0;
  const heard = node.lastHeardFromMs(id);
  return heard === undefined ? -1 : Math.max(0, Date.now() - heard);
}

/** Streams changes after `from_revision` (0: the current state first), following the FSM live. */
function watch(call: ServerWritableStream<WatchRequest, WatchResponse>, deps: ServiceDeps): void {
  const { fsm, watchHub } = deps;
  const filter = call.request.deployment;
  const queue: (StateChange | "restored")[] = [];
  let ended = false;
  const end = (error?: OrchestratorError) => {
    if (ended) return;
    ended = true;
    unsubscribe();
    // grpc-js sends no status for destroy(); emitting "error" ends the stream with the status and trailers.
    if (error !== undefined)
      call.emit("error", Object.assign(new Error(error.message), toServiceError(error, deps.members)));
    else call.end();
  };
  const unsubscribe = watchHub.subscribe((change) => {
    queue.push(change);
    if (queue.length > watchQueueMax)
      end(
        new OrchestratorError(
          "RESOURCE_EXHAUSTED",
          `watcher fell more than ${watchQueueMax} changes behind; watch again from revision ${fsm.revision}`,
        ),
      );
    else flush();
  });
  call.on("cancelled", () => end());
  call.on("close", () => end());
  const write = (response: WatchResponse | undefined) => {
    if (response !== undefined && !ended) call.write(response);
  };
  // A watcher's token is checked again with every change it is sent: a revocation (or the
  // token's expiry) ends the stream on this replica as soon as this replica knows of it.
  const caller = deps.access?.callerOf(call.metadata) ?? anonymousCaller;
  const flush = () => {
    const revoked = queue.length > 0 ? (deps.access?.recheck(caller) ?? null) : null;
    if (revoked !== null) end(revoked);
    while (queue.length > 0 && !ended) {
      const change = queue.shift()!;
      if (change === "restored") {
        for (const response of currentState(fsm, filter)) write(response);
      } else {
        write(changeToResponse(fsm, change, filter));
      }
    }
  };
  const from = call.request.fromRevision;
  if (from === 0) {
    for (const response of currentState(fsm, filter)) write(response);
  } else {
    const changes = watchHub.changesSince(from);
    if (changes === undefined) {
      end(
        new OrchestratorError(
          "FAILED_PRECONDITION",
          `revision ${from} is older than this replica remembers; watch from 0 to get the current state`,
        ),
      );
      return;
    }
    for (const change of changes) write(changeToResponse(fsm, change, filter));
  }
  flush();
}

function currentState(fsm: ClusterFsm, filter: string): WatchResponse[] {
  const revision = fsm.revision;
  const out: WatchResponse[] = [];
  const base = {
    revision,
    action: "put",
    deployment: undefined,
    container: undefined,
    node: undefined,
    event: undefined,
  };
  if (filter === "")
    for (const n of fsm.listNodes())
      out.push({ ...base, kind: "node", node: nodeToProto(n, fsm.nodeContainerCount(n.id)) });
  for (const view of fsm.listDeployments()) {
    if (filter !== "" && view.deployment.spec.name !== filter) continue;
    out.push({ ...base, kind: "deployment", deployment: deploymentToProto(view) });
  }
  const containers = fsm.listContainers({
    ...(filter !== "" ? { deployment: filter } : {}),
    limit: fsmLimits.containersListMax,
  }).containers;
  for (const c of containers) out.push({ ...base, kind: "container", container: containerToProto(c) });
  return out;
}

function changeToResponse(fsm: ClusterFsm, change: StateChange, filter: string): WatchResponse | undefined {
  const base: WatchResponse = {
    revision: change.revision,
    kind: change.kind,
    action: change.action,
    deployment: undefined,
    container: undefined,
    node: undefined,
    event: undefined,
  };
  switch (change.kind) {
    case "deployment": {
      if (filter !== "" && change.id !== filter) return undefined;
      const view = fsm.getDeployment(change.id);
      if (change.action === "delete" || view === undefined) {
        return { ...base, action: "delete", deployment: { spec: { name: change.id } } as Deployment };
      }
      return { ...base, deployment: deploymentToProto(view) };
    }
    case "container": {
      const container = fsm.getContainer(change.id);
      if (change.action === "delete" || container === undefined) {
        if (filter !== "" && !change.id.startsWith(`${filter}-`)) return undefined;
        return { ...base, action: "delete", container: { id: change.id } as ReturnType<typeof containerToProto> };
      }
      if (filter !== "" && container.deployment !== filter) return undefined;
      return { ...base, container: containerToProto(container) };
    }
    case "node": {
      if (filter !== "") return undefined;
      const n = fsm.getNode(change.id);
      if (n === undefined)
        return { ...base, action: "delete", node: { id: change.id } as ReturnType<typeof nodeToProto> };
      return { ...base, node: nodeToProto(n, fsm.nodeContainerCount(n.id)) };
    }
    case "event": {
      const event = fsm
        // One entry's events: far fewer than the ring holds.
        .events({ sinceRevision: change.revision, limit: fsmLimits.eventsMax })
        .find((e) => String(e.seq) === change.id);
      if (event === undefined) return undefined;
      if (filter !== "" && event.deployment !== filter) return undefined;
      return { ...base, event: eventToProto(event) };
    }
    default:
      return assertNever(change.kind, "state change kind");
  }
}
