/**
 * AgentService (proto/agent/v1/agent.proto), served by every replica. Only the leader answers:
 * a follower throws the not-leader error, which grpc-status turns into UNAVAILABLE with the
 * x-leader-id / x-leader-address trailers the agents follow.
 */
import type * as grpc from "@grpc/grpc-js";
import {
  AgentServiceService,
  ReportOutcome,
  type AgentServiceServer,
  type ContainerReport,
  type HeartbeatRequest,
  type HeartbeatResponse,
  type RegisterRequest,
  type RegisterResponse,
  type ReportResult,
  type ReportStatusRequest,
  type ReportStatusResponse,
} from "../gen/agent/v1/agent.js";
import { fsmLimits, validateNodeRegistration, type ClusterFsm } from "../fsm/index.js";
import { assert } from "../lib/assert.js";
import { OrchestratorError } from "../lib/errors.js";
import type { Logger } from "../lib/logger.js";
import type { RaftNode, RoleChange } from "../raft/io/raft-node.js";
import { AssignmentFeed } from "./agent-assignments.js";
import { NotReadyNodes } from "./agent-not-ready.js";
import { agentServiceLimits } from "./agent-limits.js";
import { checkAgentId, checkNodeIds, checkReportCount, healthStateOf, reportProblem } from "./agent-validation.js";
import { AssignmentStream, type WatchCall } from "./agent-watch.js";
import { anonymousCaller, type AccessControl, type Caller } from "./access-control.js";
import { CommandProposer, type CommandOrigin } from "./command-proposer.js";
import { isExpectedError, toServiceError } from "./grpc-status.js";
import type { MembersView } from "./members-view.js";
import { apiError } from "./raft-failure-status.js";

/**
 * Where the service records that a node heartbeated: the health controller's table on a
 * replica, which judges liveness from it and clears it when this replica stops leading.
 */
export interface HeartbeatRecorder {
  /** `nodeId` (registered) was heard from at `nowMs`, wall-clock milliseconds. */
  record(nodeId: string, nowMs: number): void;
}

export interface AgentServiceDeps {
  readonly node: RaftNode;
  /** The members' addresses: a follower names the leader's API address when it refuses. */
  readonly members: MembersView;
  readonly fsm: ClusterFsm;
  readonly logger: Logger;
  /** Where the leader records heartbeats; the health controller reads them. */
  readonly heartbeats: HeartbeatRecorder;
  /** Wall-clock milliseconds (tests may inject a clock). */
  readonly nowMs?: () => number;
  /** Who calls (the API server's access interceptor); every caller is anonymous when absent. */
  readonly access?: AccessControl;
}

/** Errors that say "try again, maybe elsewhere": a report hitting one fails its whole batch. */
const transientCodes: ReadonlySet<string> = new Set([
  "UNAVAILABLE",
  "DEADLINE_EXCEEDED",
  "RESOURCE_EXHAUSTED",
  "ABORTED",
]);

function unary<Req, Res>(
  logger: Logger,
  members: MembersView,
  method: string,
  fn: (request: Req, caller: Caller) => Promise<Res>,
  access: AccessControl | undefined,
): grpc.handleUnaryCall<Req, Res> {
  return (call: grpc.ServerUnaryCall<Req, Res>, callback: grpc.sendUnaryData<Res>) => {
    fn(call.request, access?.callerOf(call.metadata) ?? anonymousCaller).then(
      (response) => callback(null, response),
      (error: unknown) => {
        if (!isExpectedError(error))
          logger.error(
            { method, err: error instanceof Error ? error.stack : String(error) },
            "agent request failed unexpectedly",
          );
        callback(toServiceError(error, members) as Parameters<grpc.sendUnaryData<Res>>[0]);
      },
    );
  };
}

export function createAgentService(deps: AgentServiceDeps): AgentServiceServer {
  const { node, members, fsm, heartbeats } = deps;
  const logger = deps.logger.child({ component: "agent-service" });
  const nowMs = deps.nowMs ?? Date.now;
  const proposer = new CommandProposer(node);
  const notReadyNodes = new NotReadyNodes({ fsm, proposer, logger });
  const feed = new AssignmentFeed(fsm);
  const streams = new Set<AssignmentStream>();
  const requireLeader = (): void => {
    if (!node.isLeader()) throw node.notLeaderError(node.leaderId());
  };
  let leading = node.isLeader();
  node.on("role-change", (change: RoleChange) => {
    const wasLeading = leading;
    leading = change.role === "leader";
    if (leading || !wasLeading) return;
    for (const stream of [...streams]) stream.deposed(change.leader);
  });

  return {
    register: unary(
      logger,
      members,
      "Register",
      async (request: RegisterRequest, caller) =>
        register(request, agentOrigin(caller, request.agentId), {
          proposer,
          members,
          fsm,
          heartbeats,
          nowMs,
          logger,
          requireLeader,
        }),
      deps.access,
    ),
    heartbeat: unary(
      logger,
      members,
      "Heartbeat",
      async (request: HeartbeatRequest): Promise<HeartbeatResponse> => {
        checkAgentId(request.agentId);
        checkNodeIds(request.nodeIds, "heartbeat");
        requireLeader();
        const now = nowMs();
        const reregisterNodeIds: string[] = [];
        const notReady = notReadyNodes.heartbeat(request.nodeIds, request.notReady?.nodes ?? []);
        for (const id of request.nodeIds) {
          const known = fsm.getNode(id);
          // Only registered nodes are tracked: the tracker stays bounded by the cluster's nodes.
          // A node that is not ready is alive all the same: its heartbeat counts (the record says
          // why it takes nothing new, and the leader declares it down if that lasts too long).
          if (known !== undefined) heartbeats.record(id, now);
          // A down node that cannot run containers is not asked back until it can.
          if (!notReady.has(id) && (known === undefined || known.status === "down")) reregisterNodeIds.push(id);
        }
        return { reregisterNodeIds, revision: fsm.revision };
      },
      deps.access,
    ),
    reportStatus: unary(
      logger,
      members,
      "ReportStatus",
      async (request: ReportStatusRequest, caller) =>
        reportStatus(request, { proposer, members, fsm, requireLeader, origin: agentOrigin(caller, request.agentId) }),
      deps.access,
    ),
    watchAssignments: (call: WatchCall) => {
      try {
        checkAgentId(call.request.agentId);
        checkNodeIds(call.request.nodeIds, "watch");
        requireLeader();
        if (streams.size >= agentServiceLimits.watchStreamsMax) {
          throw new OrchestratorError(
            "RESOURCE_EXHAUSTED",
            `this replica already serves ${streams.size} assignment streams; retry later or on the leader of a larger cluster`,
          );
        }
      } catch (error) {
        const status = toServiceError(error, members);
        call.emit("error", Object.assign(new Error(status.message), status));
        return;
      }
      const stream = new AssignmentStream(call, { node, members, feed, logger, nowMs }, (ended) =>
        streams.delete(ended),
      );
      streams.add(stream);
      logger.debug({ agent: call.request.agentId, nodes: call.request.nodeIds.length }, "agent watching assignments");
      void stream.start();
    },
  };
}

/** An agent's commands name its credentials, or its own id when it has none (no TLS, no --acl). */
function agentOrigin(caller: Caller, agentId: string): CommandOrigin {
  return { caller, fallbackActor: `agent:${agentId}`.slice(0, fsmLimits.actorLengthMax) };
}

/** Serves AgentService on `server` (every replica's API server). */
export function registerAgentService(server: grpc.Server, deps: AgentServiceDeps): void {
  server.addService(AgentServiceService, createAgentService(deps));
}

interface RegisterContext {
  readonly proposer: CommandProposer;
  readonly members: MembersView;
  readonly fsm: ClusterFsm;
  readonly heartbeats: HeartbeatRecorder;
  readonly nowMs: () => number;
  readonly logger: Logger;
  readonly requireLeader: () => void;
}

async function register(
  request: RegisterRequest,
  origin: CommandOrigin,
  context: RegisterContext,
): Promise<RegisterResponse> {
  checkAgentId(request.agentId);
  checkNodeIds(
    request.nodes.map((n) => n.nodeId),
    "registration",
  );
  for (const spec of request.nodes) {
    const checked = validateNodeRegistration(spec);
    if (!checked.ok) throw new OrchestratorError(checked.code, `node ${spec.nodeId}: ${checked.message}`);
  }
  context.requireLeader();
  // One command per node, all proposed in this turn: the Raft driver commits them as one batch.
  const outcomes = await Promise.allSettled(
    request.nodes.map((spec) =>
      context.proposer.propose(
        origin,
        {
          kind: "register-node",
          registerNode: {
            nodeId: spec.nodeId,
            region: spec.region,
            capacity: spec.capacity,
            agentAddress: spec.agentAddress,
          },
        },
        "register-node",
      ),
    ),
  );
  const now = context.nowMs();
  const nodes: RegisterResponse["nodes"] = [];
  for (const [index, outcome] of outcomes.entries()) {
    const nodeId = request.nodes[index].nodeId;
    if (outcome.status === "rejected") {
      const error = apiError(outcome.reason, context.members);
      if (error instanceof OrchestratorError && !transientCodes.has(error.code))
        throw new OrchestratorError(error.code, `node ${nodeId}: ${error.message}`, error.details);
      throw error;
    }
    // A registration is a sign of life too.
    context.heartbeats.record(nodeId, now);
    nodes.push({ nodeId, created: outcome.value.created });
  }
  const created = nodes.filter((n) => n.created).length;
  context.logger.info(
    { agent: request.agentId, nodes: nodes.length, created, revision: context.fsm.revision },
    "agent registered its nodes",
  );
  return { nodes, revision: context.fsm.revision };
}

interface ReportContext {
  readonly proposer: CommandProposer;
  readonly members: MembersView;
  readonly fsm: ClusterFsm;
  readonly requireLeader: () => void;
  readonly origin: CommandOrigin;
}

async function reportStatus(request: ReportStatusRequest, context: ReportContext): Promise<ReportStatusResponse> {
  checkAgentId(request.agentId);
  checkReportCount(request.reports.length);
  context.requireLeader();
  // One command per report, all proposed in this turn (group commit). Reports are idempotent,
  // so a batch failing half-way on a leadership change is simply sent again by the agent.
  const results = await Promise.all(request.reports.map((report) => reportOne(report, context)));
  return { results, revision: context.fsm.revision };
}

async function reportOne(report: ContainerReport, { proposer, members, origin }: ReportContext): Promise<ReportResult> {
  const { containerId } = report;
  const problem = reportProblem(report);
  if (problem !== null) return { containerId, outcome: ReportOutcome.REPORT_OUTCOME_REFUSED, message: problem };
  const health = healthStateOf(report.health);
  assert(health !== null, "reportProblem checks the health");
  try {
    const value = await proposer.propose(
      origin,
      {
        kind: "container-status",
        containerStatus: {
          containerId,
          nodeId: report.nodeId,
          state: report.state,
          health,
          message: report.message,
          ...(report.instanceRestartCount !== undefined ? { instanceRestartCount: report.instanceRestartCount } : {}),
          ...(report.addresses !== undefined ? { addresses: report.addresses } : {}),
        },
      },
      "container-status",
    );
    if (!value.applied)
      return { containerId, outcome: ReportOutcome.REPORT_OUTCOME_IGNORED, message: value.ignoredReason };
    return { containerId, outcome: ReportOutcome.REPORT_OUTCOME_APPLIED, message: "" };
  } catch (thrown) {
    // A Raft refusal is judged by its API status, like every other failure.
    const error = apiError(thrown, members);
    if (error instanceof OrchestratorError && !transientCodes.has(error.code)) {
      return { containerId, outcome: ReportOutcome.REPORT_OUTCOME_REFUSED, message: error.message };
    }
    throw error;
  }
}
