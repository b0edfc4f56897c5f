import * as grpc from "@grpc/grpc-js";
import { createOrchestratorService } from "../../src/api/orchestrator-service.js";
import { WatchHub } from "../../src/api/watch-hub.js";
import { ClusterFsm, encodeCommand, type ApplyValue, type CommandBody } from "../../src/fsm/index.js";
import {
  GetSloRequest,
  InjectFaultRequest,
  OrchestratorServiceClient,
  OrchestratorServiceService,
  type GetSloResponse,
  type InjectFaultResponse,
} from "../../src/gen/orchestrator/v1/orchestrator.js";
import { Strategy, type DeploymentSpec } from "../../src/gen/orchestrator/v1/types.js";
import { ManualClock, type Clock } from "../../src/lib/clock.js";
import { RaftError } from "../../src/raft/io/raft-error.js";
import type { MembersView } from "../../src/api/members-view.js";
import { MembersDirectory } from "../../src/server/members-directory.js";
import { createLogger } from "../../src/lib/logger.js";
import type { RaftNode } from "../../src/raft/io/raft-node.js";

/**
 * The real OrchestratorService over a real gRPC server on 127.0.0.1, backed by an in-process
 * FSM that the test feeds committed commands directly (each with the leader time it wants),
 * and a stand-in for the Raft node that only answers what GetSlo and InjectFault ask of it:
 * the ReadIndex barrier (counted; a "follower" refuses it with the leader's address) and the
 * replica's id.
 */

/** 2023-11-14T22:14:00Z, the start of a minute. */
export const minuteStartMs = 1_700_000_040_000;

export function deploymentSpec(name: string, replicas = 1): DeploymentSpec {
  return {
    name,
    image: "nginx:1",
    replicas,
    cpuMillicores: 100,
    memoryMib: 64,
    strategy: Strategy.STRATEGY_UNSPECIFIED,
    regions: [],
    clientRegions: [],
    onePerNode: false,
    healthCheck: undefined,
    restartPolicy: undefined,
    progressDeadlineMs: 60_000,
  };
}

/** Applies commands to an FSM at consecutive indexes, as a replica's Raft driver would. */
export class FsmFeeder {
  readonly fsm = new ClusterFsm();
  index = 0;

  apply(body: CommandBody, atMs: number): ApplyValue {
    this.index += 1;
    const result = this.fsm.apply(this.index, encodeCommand({ clientId: "", seq: 0, atMs, body }));
    if (!result.ok) throw new Error(`${body.kind} at index ${this.index} failed: ${result.code}: ${result.message}`);
    return result.value;
  }

  deploy(name: string, atMs: number, replicas = 1): string {
    this.apply({ kind: "deploy", deploy: { spec: deploymentSpec(name, replicas) } }, atMs);
    return `${name}-${this.index}`;
  }

  /** Opens a scale operation; returns its id. */
  scale(name: string, replicas: number, atMs: number): string {
    this.apply({ kind: "scale", scale: { name, replicas } }, atMs);
    return `${name}-${this.index}`;
  }

  outcome(operationId: string, succeeded: boolean, atMs: number, reason = ""): void {
    const value = this.apply({ kind: "operation-outcome", operationOutcome: { operationId, succeeded, reason } }, atMs);
    if (value.kind !== "operation-outcome" || !value.recorded)
      throw new Error(`outcome of ${operationId} was not recorded`);
  }

  registerNode(nodeId: string, agentAddress: string, atMs: number, region = "us-east-1"): void {
    this.apply(
      {
        kind: "register-node",
        registerNode: { nodeId, region, capacity: { cpuMillicores: 8000, memoryMib: 16384 }, agentAddress },
      },
      atMs,
    );
  }

  place(deployment: string, placements: [string, string][], atMs: number): void {
    this.apply(
      {
        kind: "apply-plan",
        applyPlan: {
          planId: `p${this.index}`,
          seed: 1,
          deployment,
          deploymentVersion: 1,
          placements: placements.map(([containerId, nodeId]) => ({ containerId, nodeId })),
          pendingReason: "",
        },
      },
      atMs,
    );
  }
}

/** A manual clock whose wall time the tests set directly. */
export class FixedClock extends ManualClock {
  constructor(wallNowMs: number) {
    super(0, wallNowMs);
  }
  get wallNowMs(): number {
    return this.wallMs();
  }
  set wallNowMs(ms: number) {
    this.advance(ms - this.wallMs());
  }
}

export interface StubNode {
  readonly node: RaftNode;
  /** r2's API at `leaderAddress`: the address a follower's refusal names. */
  readonly members: MembersView;
  /** linearizableRead() calls so far. */
  reads: number;
  /** False: answer reads as a follower that knows leader r2 at `leaderAddress`. */
  leader: boolean;
}

export function stubNode(id = "r1", leaderAddress = "127.0.0.1:1"): StubNode {
  const stub: StubNode = {
    reads: 0,
    leader: true,
    members: new MembersDirectory(
      new Map([
        [id, { raft: "127.0.0.1:2", api: "127.0.0.1:3" }],
        ["r2", { raft: "127.0.0.1:4", api: leaderAddress }],
      ]),
    ),
    node: {
      linearizableRead: async () => {
        stub.reads += 1;
        // What a RaftNode following r2 throws; the API maps it (src/api/raft-failure-status.ts).
        if (!stub.leader) throw new RaftError(id, { kind: "not-leader", leaderId: "r2" });
      },
      status: () => ({ id }),
      isLeader: () => stub.leader,
    } as unknown as RaftNode,
  };
  return stub;
}

export interface ServedService {
  readonly address: string;
  readonly client: OrchestratorServiceClient;
  getSlo(request: Partial<GetSloRequest>): Promise<GetSloResponse>;
  injectFault(request: Partial<InjectFaultRequest>): Promise<InjectFaultResponse>;
  stop(): void;
}

export async function serve(
  fsm: ClusterFsm,
  { node, members }: StubNode,
  options: { clock?: Clock; agentTimeoutMs?: number } = {},
): Promise<ServedService> {
  const server = new grpc.Server();
  const logger = createLogger({ test: "api-slo" }, "silent");
  server.addService(
    OrchestratorServiceService,
    createOrchestratorService({ node, members, fsm, watchHub: new WatchHub(fsm), logger, ...options }),
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  const address = `127.0.0.1:${port}`;
  const client = new OrchestratorServiceClient(address, grpc.credentials.createInsecure());
  return {
    address,
    client,
    getSlo: (request) =>
      new Promise((resolve, reject) => {
        client.getSlo(GetSloRequest.fromPartial(request), (error, response) =>
          error === null ? resolve(response) : reject(error),
        );
      }),
    injectFault: (request) =>
      new Promise((resolve, reject) => {
        client.injectFault(InjectFaultRequest.fromPartial(request), (error, response) =>
          error === null ? resolve(response) : reject(error),
        );
      }),
    stop: () => {
      client.close();
      server.forceShutdown();
    },
  };
}

/** The gRPC error a call failed with (fails the test if it succeeded). */
export async function callError(promise: Promise<unknown>): Promise<grpc.ServiceError> {
  try {
    await promise;
  } catch (error) {
    return error as grpc.ServiceError;
  }
  throw new Error("expected the call to fail");
}
