import type { Server as HttpServer } from "node:http";
import { Registry } from "prom-client";
import { startApiServer, type RunningApiServer } from "../api/api-server.js";
import { WatchHub } from "../api/watch-hub.js";
import { AccessControl } from "../api/access-control.js";
import { ClusterFsm } from "../fsm/index.js";
import { createLogger, type Logger } from "../lib/logger.js";
import { RaftNode } from "../raft/io/raft-node.js";
import type { MembersDirectory } from "./members-directory.js";
import { startHttpServer } from "./http-server.js";
import { registerRaftMetrics } from "./raft-metrics.js";
import { registerClusterMetrics } from "./cluster-metrics.js";
import { registerSloMetrics } from "./slo-metrics.js";
import { registerProcessMetrics } from "../lib/process-metrics.js";
import { SchedulerWorker } from "../scheduler/io/scheduler-worker.js";
import { HealthController } from "../health/io/health-controller.js";
import type { NodeHeartbeats } from "../health/io/node-heartbeats.js";
import { WorkerProber } from "../health/io/worker-prober.js";
import { raftControllerPorts } from "./controller-ports-raft.js";
import { RolloutController } from "../rollout/io/rollout-controller.js";
import { realClock } from "../lib/clock.js";
import { mutualTlsListener } from "../lib/tls-listener.js";
import { DrainController } from "../drain/io/drain-controller.js";
import { transportSecurity, type ReplicaSecurity } from "./replica-security.js";
import { registerSecurityMetrics } from "./security-metrics.js";
import { raftMembershipPort } from "./controller-ports-raft.js";
import { MemberOperations } from "../api/member-operations.js";
import { MemberController } from "../members/io/member-controller.js";
import { autopilotDefaults } from "../members/io/autopilot-defaults.js";
import { followMembership } from "./members-sync.js";
import { assert } from "../lib/assert.js";

export interface ReplicaOptions {
  readonly id: string;
  /**
   * Every replica with its Raft and API addresses: from --peers / --peer-apis or a --join
   * answer at first, then kept current from the replicated membership.
   */
  readonly members: MembersDirectory;
  /** A new member (--join): a fresh store starts empty and learns the configuration from the leader. */
  readonly join?: boolean;
  /** Voter health reporting and dead-voter removal (defaults: 30 s, no removal). */
  readonly autopilot?: { readonly deadAfterMs: number; readonly removeDead: boolean };
  readonly apiAddress: string;
  readonly metricsAddress: string;
  readonly dataDir: string;
  readonly region: string;
  readonly snapshotEveryEntries: number;
  /** Entries kept behind each snapshot for briefly lagging followers (RaftNode's default when absent). */
  readonly snapshotKeepEntries?: number;
  readonly tickMs: number;
  /** Mutual TLS material and --insecure; plaintext when absent. */
  readonly security?: ReplicaSecurity;
  /** --acl: every API call needs a token (docs/security.md, "Tokens and roles"). */
  readonly acl?: boolean;
  /** Salt of the founding cluster id (--cluster-token). */
  readonly clusterToken?: string;
  /** The cluster id this replica was told (a joiner); founding replicas derive theirs. */
  readonly clusterId?: string;
  /** --force-new-cluster: become the only voter of a new cluster (see force-new-cluster.ts). */
  readonly forceNewCluster?: boolean;
}

export interface RunningReplica {
  readonly node: RaftNode;
  readonly fsm: ClusterFsm;
  readonly logger: Logger;
  readonly heartbeats: NodeHeartbeats;
  stop(reason: string): Promise<void>;
}

/** Wires one replica: Raft node + cluster state + API + metrics. */
export async function startReplica(options: ReplicaOptions): Promise<RunningReplica> {
  const logger = createLogger({ replica: options.id, region: options.region });
  const fsm = new ClusterFsm();
  const tls = options.security?.tls;
  if (tls === undefined && options.security?.insecure === true)
    logger.warn("started with --insecure: the API and Raft are served in plaintext beyond loopback");
  const node = await RaftNode.open({
    id: options.id,
    join: options.join === true,
    peers: options.members.raftAddresses(),
    dataDir: options.dataDir,
    logger,
    stateMachine: fsm,
    tickMs: options.tickMs,
    snapshotEveryEntries: options.snapshotEveryEntries,
    snapshotKeepEntries: options.snapshotKeepEntries,
    ...(options.clusterToken !== undefined ? { clusterToken: options.clusterToken } : {}),
    ...(options.clusterId !== undefined ? { clusterId: options.clusterId } : {}),
    ...(options.forceNewCluster === true ? { forceNewCluster: true } : {}),
    ...(tls !== undefined ? { transportSecurity: transportSecurity(tls, logger) } : {}),
  });
  const membershipRefusal = followMembership(node, fsm, options.members, options.dataDir, logger);
  if (membershipRefusal !== null) {
    await node.stop();
    throw new Error(membershipRefusal);
  }
  const registry = new Registry();
  registry.setDefaultLabels({ replica: options.id });
  registerProcessMetrics(registry, "orchestrator_");
  registerRaftMetrics(registry, node);
  registerClusterMetrics(registry, fsm);
  registerSloMetrics(registry, fsm);
  registerSecurityMetrics(registry, node, options.security ?? {});
  const watchHub = new WatchHub(fsm);
  node.on("fatal", () => {
    // The disk or an invariant failed: exit and let the supervisor restart us from disk.
    process.exit(70);
  });
  // One leadership signal (with the catch-up barrier) and one proposer for every controller.
  const ports = raftControllerPorts(node, fsm, logger.child({ component: "leadership" }), options.members);
  const scheduler = new SchedulerWorker(ports, logger.child({ component: "scheduler" }), registry);
  scheduler.start();
  const healthLogger = logger.child({ component: "health" });
  // Probes go out from a thread of their own, so a leader probing thousands of containers keeps
  // its event loop for Raft, placements and rollouts.
  const prober = new WorkerProber({
    onThreadFailure: (error) =>
      healthLogger.error({ err: error.message }, "the probe thread failed; probing from the main thread from now on"),
  });
  const health = new HealthController({ ...ports, prober }, healthLogger, registry);
  health.start();
  const heartbeats = health.heartbeats;
  const rollouts = new RolloutController(ports, logger.child({ component: "rollout" }), registry);
  rollouts.start();
  const memberOperations = new MemberOperations(node, fsm, options.members);
  const self = options.members.addresses(options.id);
  assert(self !== undefined, "this replica has no addresses in its members directory");
  const memberController = new MemberController(
    ports.leadership,
    ports.clock,
    raftMembershipPort(node, memberOperations, options.members),
    {
      selfAddresses: { raft: self.raft, api: options.apiAddress },
      deadAfterMs: options.autopilot?.deadAfterMs ?? autopilotDefaults.deadAfterMs,
      removeDead: options.autopilot?.removeDead ?? false,
      minVoters: autopilotDefaults.minVoters,
      promoteHeardWithinMs: autopilotDefaults.promoteHeardWithinMs,
    },
    logger.child({ component: "members" }),
    registry,
  );
  memberController.start();
  const drains = new DrainController(ports, logger.child({ component: "drain" }), registry);
  drains.start();
  await node.start();

  const access = new AccessControl({
    state: fsm,
    acl: options.acl === true,
    certificateRoles: tls !== undefined,
    catchUp: () => node.linearizableRead(),
  });
  if (access.aclEnabled && fsm.aclBootstrappedRevision === 0)
    logger.info("started with --acl: every call needs a token; run `orchctl acl bootstrap` once to get the first");
  const api: RunningApiServer = await startApiServer(
    options.apiAddress,
    {
      node,
      members: options.members,
      memberOperations,
      fsm,
      watchHub,
      logger,
      heartbeats,
      access,
    },
    tls !== undefined ? mutualTlsListener({ material: tls, logger, clock: realClock, serves: "api" }) : undefined,
  );
  const http: HttpServer = await startHttpServer(options.metricsAddress, registry, {
    notReadyReason() {
      const status = node.status();
      if (status.leader === "") return "no leader known yet";
      if (status.applied < node.startCommitIndex)
        return `catching up: applied ${status.applied} of ${node.startCommitIndex}`;
      return null;
    },
  });
  const status = node.status();
  logger.info(
    {
      term: status.term,
      role: status.role,
      api: options.apiAddress,
      metrics: options.metricsAddress,
      dataDir: options.dataDir,
      clusterId: node.clusterId,
      peers: options.members.toJSON(),
    },
    "replica started",
  );
  return {
    node,
    fsm,
    logger,
    heartbeats,
    async stop(reason: string) {
      const s = node.status();
      logger.info({ term: s.term, role: s.role, reason }, "stopping");
      await node.stop({ transferLeadership: true });
      await health.stop();
      scheduler.stop();
      rollouts.stop();
      memberController.stop();
      drains.stop();
      await api.stop();
      await new Promise<void>((resolve) => http.close(() => resolve()));
      logger.info({ term: node.status().term, role: node.status().role }, "stopped");
    },
  };
}
