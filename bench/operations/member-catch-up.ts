/**
 * How long a new member takes to catch up and serve when the cluster holds a million containers
 * (issue 14's target: under 10 s):
 *
 *   1. three replicas (random ports, temp data) with a short snapshot interval, so the log is
 *      compacted and the new member must start from a snapshot;
 *   2. `deployments` Deploy RPCs of `replicasPerDeployment` replicas each (no nodes: the
 *      containers stay pending, which is all the state a snapshot has to carry), then filler
 *      writes until the leader has snapshotted after the last deploy;
 *   3. MemberAdd r4, then `orchestrator --id r4 --join ...` is started; the clock runs from the
 *      spawn until r4 has applied the leader's commit index of that moment ("caught up") and
 *      answers a stale ListContainers with every container ("serving"); the time until the
 *      leader's autopilot has promoted it is reported too, and whether it came by snapshot.
 *
 * Every replica is SIGKILLed by PID whatever way it ends.
 */
import * as grpc from "@grpc/grpc-js";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import * as os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import {
  MemberListRequest,
  type ListContainersResponse,
  type MemberAddResponse,
  type MemberListResponse,
  type OrchestratorServiceClient,
} from "../../src/gen/orchestrator/v1/orchestrator.js";
import {
  benchDeploymentSpec,
  clusterStatus,
  deploy,
  findLeader,
  killCluster,
  orchestratorChannel,
  startTrackedCluster,
  waitAllCaughtUp,
} from "../orchestrator-bench-client.js";
import { fixed, machineInfo, round, type MachineInfo } from "../bench-report.js";

export interface MemberCatchUpOptions {
  readonly deployments?: number;
  readonly replicasPerDeployment?: number;
  readonly timeoutMs?: number;
}

export interface MemberCatchUpResult {
  readonly containers: number;
  readonly leaderCommitIndex: number;
  /** From spawning the new member until it applied the leader's commit index. */
  readonly catchUpSeconds: number;
  /** Until it also answered a stale ListContainers with every container. */
  readonly servingSeconds: number;
  /** Until the leader listed it as a voter. */
  readonly promotedSeconds: number;
  /** The leader sent it a snapshot (the log had been compacted past its start). */
  readonly bySnapshot: boolean;
  readonly snapshotBytes: number | null;
  readonly targetSeconds: number;
  readonly targetMet: boolean;
  readonly machine: MachineInfo;
}

const defaults = { deployments: 100, replicasPerDeployment: 10_000, timeoutMs: 600_000 } as const;
const targetSeconds = 10;
const pollMs = 25;

function unary<Req, Res>(
  method: (
    req: Req,
    md: grpc.Metadata,
    options: grpc.CallOptions,
    cb: (e: grpc.ServiceError | null, r: Res) => void,
  ) => unknown,
  request: Req,
  timeoutMs: number,
): Promise<Res> {
  return new Promise((resolve, reject) => {
    method(request, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (error, response) =>
      error === null ? resolve(response) : reject(error),
    );
  });
}

async function waitUntil<T>(what: string, deadlineMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  while (performance.now() < deadlineMs) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch {
      // Not up yet, or busy: ask again.
    }
    await sleep(pollMs);
  }
  throw new Error(`member catch-up: gave up waiting for ${what}`);
}

export async function benchMemberCatchUp(options: MemberCatchUpOptions = {}): Promise<MemberCatchUpResult> {
  const o = { ...defaults, ...options };
  const deadline = performance.now() + o.timeoutMs;
  const root = await mkdtemp(path.join(os.tmpdir(), "orch-bench-member-"));
  const { cluster, untrack } = await startTrackedCluster({
    ports: "random",
    dataRoot: path.join(root, "data"),
    logDir: path.join(root, "logs"),
    wipe: true,
    // Snapshot often and keep little, so the new member cannot start from the log.
    extraArgs: ["--snapshot-every", "40", "--snapshot-keep", "5"],
  });
  const clients: OrchestratorServiceClient[] = [];
  const channel = (address: string) => {
    const client = orchestratorChannel(address);
    clients.push(client);
    return client;
  };
  try {
    const founders = cluster.replicas.map((r) => r.apiAddress);
    let leader = await findLeader(founders);
    let toLeader = channel(leader.apiAddress);
    // A leader busy applying a million containers may lose its term: follow the new one and
    // retry (the request header makes a retried deploy apply once).
    const onLeader = async <T>(call: (client: OrchestratorServiceClient) => Promise<T>): Promise<T> => {
      for (;;) {
        try {
          return await call(toLeader);
        } catch (error) {
          if (performance.now() > deadline) throw error;
          const code = (error as { code?: number }).code;
          if (code !== grpc.status.UNAVAILABLE && code !== grpc.status.DEADLINE_EXCEEDED) throw error;
          leader = await findLeader(founders, 60_000);
          toLeader = channel(leader.apiAddress);
        }
      }
    };
    const containers = o.deployments * o.replicasPerDeployment;
    console.log(`member catch-up: ${containers.toLocaleString("en-US")} containers in ${o.deployments} deployments…`);
    let seq = 0;
    for (let i = 0; i < o.deployments; i++) {
      const spec = { ...benchDeploymentSpec(`big-${i}`), replicas: o.replicasPerDeployment, onePerNode: false };
      const header = { clientId: "bench-member", seq: ++seq };
      await onLeader((client) => deploy(client, { header, spec, force: false }, 60_000));
    }
    // Filler writes until a snapshot covers every deploy (the leader logs each one it takes).
    const lastDeploy = (await onLeader((client) => clusterStatus(client, 5_000))).commitIndex;
    let snapshotBytes: number | null = null;
    for (let i = 0; snapshotBytes === null; i++) {
      if (performance.now() > deadline) throw new Error("member catch-up: no snapshot after the deploys");
      const spec = { ...benchDeploymentSpec(`filler-${i}`), replicas: 0 };
      const header = { clientId: "bench-member", seq: ++seq };
      await onLeader((client) => deploy(client, { header, spec, force: false }, 60_000));
      const leaderLog = cluster.replica(leader.id).logFile;
      if (leaderLog === null) break;
      snapshotBytes = await snapshotAfter(leaderLog, lastDeploy);
    }
    await waitAllCaughtUp(
      cluster.replicas.map((r) => r.apiAddress),
      120_000,
    );

    const r4 = await cluster.addReplica("r4");
    await onLeader((client) =>
      unary<unknown, MemberAddResponse>(
        client.memberAdd.bind(client) as never,
        { id: "r4", raftAddress: r4.raftAddress, apiAddress: r4.apiAddress },
        30_000,
      ),
    );
    const target = (await onLeader((client) => clusterStatus(client, 5_000))).commitIndex;
    const started = performance.now();
    cluster.startJoiner(
      "r4",
      cluster.replicas
        .filter((r) => r.id !== "r4")
        .map((r) => r.apiAddress)
        .join(","),
    );
    const toR4 = channel(r4.apiAddress);
    await waitUntil("r4 to apply the leader's commit index", deadline, async () =>
      (await clusterStatus(toR4, 1_000)).appliedIndex >= target ? true : undefined,
    );
    const catchUpSeconds = (performance.now() - started) / 1000;
    await waitUntil("r4 to serve every container", deadline, async () => {
      const page = await unary<unknown, ListContainersResponse>(
        toR4.listContainers.bind(toR4) as never,
        { stale: true, limit: 1, deployment: "", node: "" },
        5_000,
      );
      return page.total >= containers ? true : undefined;
    });
    const servingSeconds = (performance.now() - started) / 1000;
    await waitUntil("the leader to promote r4", deadline, async () => {
      const list = await unary<unknown, MemberListResponse>(
        toLeader.memberList.bind(toLeader) as never,
        MemberListRequest.fromPartial({}),
        2_000,
      );
      return list.members.find((m) => m.id === "r4")?.suffrage === "voter" ? true : undefined;
    });
    const promotedSeconds = (performance.now() - started) / 1000;
    let bySnapshot = false;
    for (const replica of cluster.replicas) {
      if (replica.logFile === null || replica.id === "r4") continue;
      const lines = (await readFile(replica.logFile, "utf8")).split("\n");
      bySnapshot ||= lines.some((l) => l.includes('"snapshot sent"') && l.includes('"peer":"r4"'));
    }
    const result: MemberCatchUpResult = {
      containers,
      leaderCommitIndex: target,
      catchUpSeconds: round(catchUpSeconds, 3),
      servingSeconds: round(servingSeconds, 3),
      promotedSeconds: round(promotedSeconds, 3),
      bySnapshot,
      snapshotBytes,
      targetSeconds,
      targetMet: servingSeconds < targetSeconds,
      machine: machineInfo(),
    };
    console.log(
      `  new member: caught up ${fixed(catchUpSeconds, 2)} s, serving ${fixed(servingSeconds, 2)} s, promoted ${fixed(promotedSeconds, 2)} s` +
        ` (${bySnapshot ? "by snapshot" : "from the log"}${snapshotBytes === null ? "" : `, ${(snapshotBytes / 1e6).toFixed(0)} MB`})`,
    );
    console.log(`  target: serving in < ${targetSeconds} s: ${result.targetMet ? "met" : "MISSED"}`);
    return result;
  } finally {
    for (const client of clients) client.close();
    await killCluster(cluster);
    untrack();
    // BENCH_KEEP_DATA=1 keeps the replicas' data and logs for a look afterwards.
    if (process.env["BENCH_KEEP_DATA"] === "1") console.log(`  kept ${root}`);
    else await rm(root, { recursive: true, force: true });
  }
}

/** The size of the first snapshot the leader took at or after `index`, from its log; null if none yet. */
async function snapshotAfter(logFile: string, index: number): Promise<number | null> {
  for (const line of (await readFile(logFile, "utf8")).split("\n")) {
    if (!line.includes('"snapshot taken, log compacted"')) continue;
    const record = JSON.parse(line) as { index?: number; bytes?: number };
    if ((record.index ?? 0) >= index) return record.bytes ?? 0;
  }
  return null;
}
