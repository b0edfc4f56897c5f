import type { Server as GrpcServer } from "@grpc/grpc-js";
import type { Server as HttpServer } from "node:http";
import { Registry } from "prom-client";
import { startApiServer } from "../api/api-server.js";
import { WatchHub } from "../api/watch-hub.js";
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
import { raftControllerPorts } from "./controller-ports-raft.js";
import { RolloutController } from "../rollout/io/rollout-controller.js";
import { serverCredentials } from "../lib/tls-material.js";
import { transportSecurity, type ReplicaSecurity } from "./replica-security.js";
import { registerSecurityMetrics } from "./security-metrics.js";

export interface ReplicaOptions {
  readonly id: string;
  /** Every replica with its Raft and API addresses (--peers, --peer-apis). */
  readonly members: MembersDirectory;
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
    ...(tls !== undefined ? { transportSecurity: transportSecurity(tls) } : {}),
  });
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
  const health = new HealthController(ports, logger.child({ component: "health" }), registry);
  health.start();
  const heartbeats = health.heartbeats;
  const rollouts = new RolloutController(ports, logger.child({ component: "rollout" }), registry);
  rollouts.start();
  await node.start();

  const api: GrpcServer = await startApiServer(
    options.apiAddress,
    {
      node,
      members: options.members,
      fsm,
      watchHub,
      logger,
      heartbeats,
    },
    tls !== undefined ? serverCredentials(tls) : undefined,
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
      api.forceShutdown();
      await new Promise<void>((resolve) => http.close(() => resolve()));
      logger.info({ term: node.status().term, role: node.status().role }, "stopped");
    },
  };
}
