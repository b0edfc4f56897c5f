/**
 * Three in-process replicas on 127.0.0.1 (real Raft over gRPC, real LevelDB in a temp dir), each
 * serving OrchestratorService and AgentService on its API address, the way the replicas will
 * once AgentService is wired into src/server. A "kill" shuts the replica's sockets and its Raft
 * node down without a leadership transfer, so the others must elect a new leader on their own.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { NodeHeartbeats } from "../../src/health/io/node-heartbeats.js";
import { registerAgentService } from "../../src/api/agent-service.js";
import { CommandProposer } from "../../src/api/command-proposer.js";
import { createOrchestratorService } from "../../src/api/orchestrator-service.js";
import { WatchHub } from "../../src/api/watch-hub.js";
import { ClusterFsm, type ApplyValue, type CommandBody } from "../../src/fsm/index.js";
import { OrchestratorServiceService } from "../../src/gen/orchestrator/v1/orchestrator.js";
import { Strategy, type DeploymentSpec } from "../../src/gen/orchestrator/v1/types.js";
import { createLogger } from "../../src/lib/logger.js";
import { OrchestratorError } from "../../src/lib/errors.js";
import { RaftError } from "../../src/raft/io/raft-error.js";
import { RaftNode } from "../../src/raft/io/raft-node.js";
import type { MemberAddresses } from "../../src/api/members-view.js";
import { MembersDirectory } from "../../src/server/members-directory.js";
import { freePort } from "../../dev/local-cluster/free-port.js";

export interface TestReplica {
  readonly id: string;
  readonly apiAddress: string;
  readonly node: RaftNode;
  readonly fsm: ClusterFsm;
  readonly heartbeats: NodeHeartbeats;
  alive: boolean;
}

const logLevel = process.env["LOG_LEVEL"] ?? "silent";

export class TestCluster {
  private readonly servers = new Map<string, grpc.Server>();

  private constructor(
    readonly replicas: TestReplica[],
    private readonly dataRoot: string,
  ) {}

  static async start(count = 3): Promise<TestCluster> {
    const dataRoot = mkdtempSync(join(tmpdir(), "agent-test-"));
    const peers = new Map<string, MemberAddresses>();
    for (let i = 1; i <= count; i++)
      peers.set(`r${i}`, { raft: `127.0.0.1:${await freePort()}`, api: `127.0.0.1:${await freePort()}` });
    const members = new MembersDirectory(peers);
    const cluster = new TestCluster([], dataRoot);
    for (const [id, addresses] of peers) {
      const logger = createLogger({ replica: id }, logLevel);
      const fsm = new ClusterFsm();
      const node = await RaftNode.open({
        id,
        peers: members.raftAddresses(),
        dataDir: join(dataRoot, id),
        logger,
        stateMachine: fsm,
        tickMs: 10,
      });
      await node.start();
      const heartbeats = new NodeHeartbeats();
      const server = new grpc.Server();
      server.addService(
        OrchestratorServiceService,
        createOrchestratorService({ node, members, fsm, watchHub: new WatchHub(fsm), logger }),
      );
      registerAgentService(server, { node, members, fsm, logger, heartbeats });
      await new Promise<void>((resolve, reject) =>
        server.bindAsync(addresses.api, grpc.ServerCredentials.createInsecure(), (error) =>
          error === null ? resolve() : reject(error),
        ),
      );
      cluster.servers.set(id, server);
      cluster.replicas.push({ id, apiAddress: addresses.api, node, fsm, heartbeats, alive: true });
    }
    return cluster;
  }

  endpoints(): string[] {
    return this.replicas.map((r) => r.apiAddress);
  }

  leader(): TestReplica | undefined {
    return this.replicas.find((r) => r.alive && r.node.isLeader());
  }

  followers(): TestReplica[] {
    return this.replicas.filter((r) => r.alive && !r.node.isLeader());
  }

  async waitForLeader(timeoutMs = 10_000): Promise<TestReplica> {
    let found: TestReplica | undefined;
    await waitFor(() => (found = this.leader()) !== undefined, "a leader", timeoutMs);
    return found!;
  }

  /** Proposes through the current leader, retrying while leadership moves. */
  async propose<K extends ApplyValue["kind"]>(body: CommandBody, kind: K): Promise<Extract<ApplyValue, { kind: K }>> {
    const deadline = performance.now() + 15_000;
    for (;;) {
      const leader = await this.waitForLeader();
      try {
        return await new CommandProposer(leader.node).propose(undefined, body, kind);
      } catch (error) {
        // Leadership moved between picking the leader and proposing: try the next one.
        const moved =
          (error instanceof OrchestratorError && error.code === "UNAVAILABLE") ||
          (error instanceof RaftError && ["not-leader", "transferring", "dropped"].includes(error.reason.kind));
        if (!moved || performance.now() > deadline) throw error;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }

  /** A crash, as far as the others can tell: sockets gone, no leadership transfer. */
  async kill(id: string): Promise<void> {
    const replica = this.replicas.find((r) => r.id === id);
    if (replica === undefined || !replica.alive) return;
    replica.alive = false;
    this.servers.get(id)?.forceShutdown();
    await replica.node.stop({ transferLeadership: false });
  }

  async stop(): Promise<void> {
    for (const replica of this.replicas) await this.kill(replica.id);
    rmSync(this.dataRoot, { recursive: true, force: true });
  }
}

export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A deployment of `replicas` small containers, placed by hand (the scheduler is not wired yet). */
export async function deploy(cluster: TestCluster, name: string, replicas: number): Promise<void> {
  const spec: DeploymentSpec = {
    name,
    image: "nginx:latest",
    replicas,
    cpuMillicores: 500,
    memoryMib: 256,
    strategy: Strategy.STRATEGY_UNSPECIFIED,
    regions: [],
    clientRegions: [],
    onePerNode: false,
    healthCheck: undefined,
    restartPolicy: undefined,
    progressDeadlineMs: 0,
  };
  await cluster.propose({ kind: "deploy", deploy: { spec } }, "deploy");
}

/** Places containers of `deployment` on nodes: `placements` maps container id to node id. */
export async function place(
  cluster: TestCluster,
  deployment: string,
  placements: Record<string, string>,
): Promise<number> {
  const leader = await cluster.waitForLeader();
  const version = leader.fsm.getDeployment(deployment)?.deployment.version ?? 0;
  const value = await cluster.propose(
    {
      kind: "apply-plan",
      applyPlan: {
        planId: `test-${deployment}-${Date.now()}`,
        seed: 1,
        deployment,
        deploymentVersion: version,
        placements: Object.entries(placements).map(([containerId, nodeId]) => ({ containerId, nodeId })),
        pendingReason: "",
      },
    },
    "apply-plan",
  );
  return value.placed;
}
