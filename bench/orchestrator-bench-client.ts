/**
 * What the benchmarks need of our API: leader discovery through ClusterStatus, channels that each
 * own a TCP connection, promisified Deploy, the realistic DeploymentSpec the write benchmarks send,
 * and a ProcessCluster whose replicas are killed by PID if the benchmark dies.
 */
import * as grpc from "@grpc/grpc-js";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { encodeCommand } from "../src/fsm/index.js";
import {
  DeployRequest,
  OrchestratorServiceClient,
  type ClusterStatusResponse,
  type DeployResponse,
} from "../src/gen/orchestrator/v1/orchestrator.js";
import { Strategy, type DeploymentSpec } from "../src/gen/orchestrator/v1/types.js";
import { ProcessCluster, type ProcessClusterOptions } from "../dev/local-cluster/process-cluster.js";
import { trackProcesses } from "./process-guard.js";

const clientLimits = {
  statusTimeoutMs: 500,
  pollMs: 20,
  leaderWaitMs: 20_000,
} as const;

/**
 * How the benchmark's clients authenticate: channel credentials (the admin certificate with
 * mutual TLS) and per-call metadata. The metadata is the hook for tokens: with --acl, the ACL
 * work sets `authorization: Bearer <secret>` here (see writes.ts, secureClientAuth).
 */
export interface BenchClientAuth {
  readonly credentials: grpc.ChannelCredentials;
  metadata(): grpc.Metadata;
}

export const plaintextClientAuth: BenchClientAuth = {
  credentials: grpc.credentials.createInsecure(),
  metadata: () => new grpc.Metadata(),
};

export function orchestratorChannel(
  address: string,
  auth: BenchClientAuth = plaintextClientAuth,
): OrchestratorServiceClient {
  return new OrchestratorServiceClient(address, auth.credentials, {
    // A private subchannel pool gives each channel its own connection.
    "grpc.use_local_subchannel_pool": 1,
    "grpc.initial_reconnect_backoff_ms": 50,
    "grpc.max_reconnect_backoff_ms": 500,
  });
}

export function clusterStatus(
  client: OrchestratorServiceClient,
  timeoutMs: number = clientLimits.statusTimeoutMs,
  auth: BenchClientAuth = plaintextClientAuth,
): Promise<ClusterStatusResponse> {
  return new Promise((resolve, reject) => {
    client.clusterStatus({}, auth.metadata(), { deadline: Date.now() + timeoutMs }, (error, response) =>
      error === null ? resolve(response) : reject(error),
    );
  });
}

export function deploy(
  client: OrchestratorServiceClient,
  request: DeployRequest,
  timeoutMs: number,
  auth: BenchClientAuth = plaintextClientAuth,
): Promise<DeployResponse> {
  return new Promise((resolve, reject) => {
    client.deploy(request, auth.metadata(), { deadline: Date.now() + timeoutMs }, (error, response) =>
      error === null ? resolve(response) : reject(error),
    );
  });
}

/**
 * A realistic deployment: a registry image with a tag, resources, the spread strategy with two
 * regions, a client region for latency-aware placement, a health check and a restart policy.
 * Zero replicas: with one, every Deploy would also make the scheduler propose a plan (its
 * pending reason) and leave a container for the health controller to list every tick, so a
 * request would stop being one client write. With zero, the Deploy is one Raft entry; the
 * health controller still closes the deploy operation with an outcome entry of its own shortly
 * after (off the request's path), which the benchmark counts and reports.
 */
export function benchDeploymentSpec(name: string): DeploymentSpec {
  return {
    name,
    image: "registry.internal.example.com/payments/checkout-service:v2.14.3",
    replicas: 0,
    cpuMillicores: 250,
    memoryMib: 256,
    strategy: Strategy.STRATEGY_SPREAD,
    regions: ["us-east-1", "eu-west-1"],
    clientRegions: ["us-east-1"],
    onePerNode: true,
    healthCheck: {
      path: "/healthz/ready",
      periodMs: 2_000,
      timeoutMs: 1_000,
      failureThreshold: 3,
      successThreshold: 1,
      initialDelayMs: 5_000,
    },
    restartPolicy: { initialDelayMs: 500, factor: 2, maxDelayMs: 30_000, resetAfterMs: 60_000 },
    progressDeadlineMs: 120_000,
  };
}

/** Sizes of one benchmark write: the gRPC request and the command as it is stored in the Raft log. */
export function deploySizes(
  name: string,
  clientId: string,
  seq: number,
): { requestBytes: number; commandBytes: number } {
  const spec = benchDeploymentSpec(name);
  const requestBytes = DeployRequest.encode({ header: { clientId, seq }, spec }).finish().byteLength;
  const commandBytes = encodeCommand({
    clientId,
    seq,
    atMs: Date.now(),
    body: { kind: "deploy", deploy: { spec } },
  }).byteLength;
  return { requestBytes, commandBytes };
}

export interface LeaderInfo {
  readonly id: string;
  readonly apiAddress: string;
  readonly term: number;
}

/** Asks every replica (through `clients`) for its role; the one that says it is the leader, if any. */
async function leaderAmong(
  clients: ReadonlyMap<string, OrchestratorServiceClient>,
  auth: BenchClientAuth,
): Promise<{ address: string; status: ClusterStatusResponse } | undefined> {
  for (const [address, client] of clients) {
    try {
      const status = await clusterStatus(client, clientLimits.statusTimeoutMs, auth);
      if (status.role === "leader") return { address, status };
    } catch {
      // Not up, or dead: ask the next one.
    }
  }
  return undefined;
}

/** Asks every replica until one says it is the leader. */
export async function findLeader(
  endpoints: readonly string[],
  timeoutMs: number = clientLimits.leaderWaitMs,
  auth: BenchClientAuth = plaintextClientAuth,
): Promise<LeaderInfo> {
  const deadline = performance.now() + timeoutMs;
  const clients = new Map(endpoints.map((e) => [e, orchestratorChannel(e, auth)]));
  try {
    while (performance.now() < deadline) {
      const found = await leaderAmong(clients, auth);
      if (found !== undefined)
        return { id: found.status.replicaId, apiAddress: found.address, term: found.status.term };
      await sleep(clientLimits.pollMs);
    }
  } finally {
    for (const client of clients.values()) client.close();
  }
  throw new Error(`no leader among ${endpoints.join(", ")} within ${timeoutMs} ms`);
}

/** Waits until the leader sees every member reachable with its log matched up to the leader's commit index (taken at the first look). */
export async function waitAllCaughtUp(
  endpoints: readonly string[],
  timeoutMs: number,
  auth: BenchClientAuth = plaintextClientAuth,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  const clients = new Map(endpoints.map((e) => [e, orchestratorChannel(e, auth)]));
  let target = -1;
  try {
    while (performance.now() < deadline) {
      const found = await leaderAmong(clients, auth);
      if (found !== undefined) {
        if (target < 0) target = found.status.commitIndex;
        if (found.status.members.every((m) => m.reachable && m.matchIndex >= target)) return;
      }
      await sleep(clientLimits.pollMs);
    }
  } finally {
    for (const client of clients.values()) client.close();
  }
  throw new Error(`the replicas did not all catch up within ${timeoutMs} ms`);
}

/** Starts a ProcessCluster whose replicas are SIGKILLed by PID if the benchmark ends abruptly. */
export async function startTrackedCluster(
  options: ProcessClusterOptions,
): Promise<{ cluster: ProcessCluster; untrack: () => void }> {
  let cluster: ProcessCluster | null = null;
  const untrack = trackProcesses(() => cluster?.pids() ?? []);
  cluster = await ProcessCluster.start(options);
  return { cluster, untrack };
}

/** SIGKILLs every replica (a benchmark's data is thrown away, so no graceful hand-over is needed). */
export async function killCluster(cluster: ProcessCluster): Promise<void> {
  await Promise.all(cluster.replicas.map((r) => cluster.kill(r.id, "SIGKILL")));
}
