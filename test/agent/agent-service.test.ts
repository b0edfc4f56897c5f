import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AgentServiceClient,
  ContainerHealth,
  ReportOutcome,
  type HeartbeatRequest,
  type HeartbeatResponse,
  type RegisterRequest,
  type RegisterResponse,
  type ReportStatusRequest,
  type ReportStatusResponse,
  type WatchAssignmentsResponse,
} from "../../src/gen/agent/v1/agent.js";
import { ContainerState, DesiredState, NodeStatus } from "../../src/gen/orchestrator/v1/types.js";
import { freePort } from "../../dev/local-cluster/free-port.js";
import { deploy, place, TestCluster, waitFor } from "./harness.js";

// AgentService on real replicas, spoken to with a raw gRPC client: what a follower answers, what
// the leader validates, records and streams.

let cluster: TestCluster;
const clients: AgentServiceClient[] = [];
/** The nodes' agent address: a free port nobody listens on (no agent runs in this suite). */
let agentAddress = "";

beforeAll(async () => {
  agentAddress = `127.0.0.1:${await freePort()}`;
  cluster = await TestCluster.start();
  await cluster.waitForLeader();
});

afterAll(async () => {
  for (const client of clients) client.close();
  await cluster?.stop();
});

function clientAt(address: string): AgentServiceClient {
  const client = new AgentServiceClient(address, grpc.credentials.createInsecure());
  clients.push(client);
  return client;
}

/** The client's methods as promises (the generated overloads defeat generic inference). */
function rpc(client: AgentServiceClient) {
  const promised =
    <Req, Res>(
      method: (
        request: Req,
        callback: (error: grpc.ServiceError | null, response: Res) => void,
      ) => grpc.ClientUnaryCall,
    ) =>
    (request: Req): Promise<Res> =>
      new Promise((resolve, reject) =>
        method.call(client, request, (error, response) => (error === null ? resolve(response) : reject(error))),
      );
  return {
    register: promised<RegisterRequest, RegisterResponse>(client.register),
    heartbeat: promised<HeartbeatRequest, HeartbeatResponse>(client.heartbeat),
    reportStatus: promised<ReportStatusRequest, ReportStatusResponse>(client.reportStatus),
  };
}

const spec = (nodeId: string, region = "us-east-1") => ({
  nodeId,
  region,
  capacity: { cpuMillicores: 8000, memoryMib: 16384 },
  agentAddress,
});

async function leaderClient(): Promise<AgentServiceClient> {
  return clientAt((await cluster.waitForLeader()).apiAddress);
}

describe("AgentService", () => {
  it("a follower answers every RPC with UNAVAILABLE and the leader's id and address", async () => {
    const leader = await cluster.waitForLeader();
    const follower = clientAt(cluster.followers()[0].apiAddress);
    await waitFor(
      () => cluster.followers().every((f) => f.node.leaderId() === leader.id),
      "followers knowing the leader",
    );
    const expectRedirect = (error: grpc.ServiceError) => {
      expect(error.code).toBe(grpc.status.UNAVAILABLE);
      expect(error.metadata.get("x-leader-id")).toEqual([leader.id]);
      expect(error.metadata.get("x-leader-address")).toEqual([leader.apiAddress]);
    };
    expectRedirect(
      (await rpc(follower)
        .register({ agentId: "a", nodes: [spec("svc-n1")] })
        .catch((e: grpc.ServiceError) => e)) as grpc.ServiceError,
    );
    expectRedirect(
      (await rpc(follower)
        .heartbeat({ agentId: "a", nodeIds: ["svc-n1"] })
        .catch((e: grpc.ServiceError) => e)) as grpc.ServiceError,
    );
    expectRedirect(
      (await rpc(follower)
        .reportStatus({ agentId: "a", reports: [] })
        .catch((e: grpc.ServiceError) => e)) as grpc.ServiceError,
    );
    const streamError = await new Promise<grpc.ServiceError>((resolve) => {
      const stream = follower.watchAssignments({ agentId: "a", nodeIds: ["svc-n1"] });
      stream.on("data", () => undefined);
      stream.on("error", resolve);
    });
    expectRedirect(streamError);
  });

  it("refuses malformed requests with INVALID_ARGUMENT and a message naming the problem", async () => {
    const client = await leaderClient();
    const failure = (p: Promise<unknown>) =>
      p.then(
        () => null,
        (e: grpc.ServiceError) => e,
      );
    const noNodes = await failure(rpc(client).heartbeat({ agentId: "a", nodeIds: [] }));
    expect(noNodes?.code).toBe(grpc.status.INVALID_ARGUMENT);
    const twice = await failure(rpc(client).heartbeat({ agentId: "a", nodeIds: ["x-n1", "x-n1"] }));
    expect(twice?.details).toMatch(/names node x-n1 twice/);
    const badId = await failure(rpc(client).register({ agentId: "a", nodes: [spec("Bad_Id")] }));
    expect(badId?.code).toBe(grpc.status.INVALID_ARGUMENT);
    const badRegion = await failure(rpc(client).register({ agentId: "a", nodes: [spec("x-n1", "mars-1")] }));
    expect(badRegion?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(badRegion?.details).toMatch(/node x-n1/);
    const tooMany = await failure(
      rpc(client).reportStatus({
        agentId: "a",
        reports: Array.from({ length: 1001 }, (_, i) => ({
          containerId: `c-${i}`,
          nodeId: "x-n1",
          state: ContainerState.CONTAINER_STATE_RUNNING,
          health: 0,
          message: "",
        })),
      }),
    );
    expect(tooMany?.code).toBe(grpc.status.INVALID_ARGUMENT);
    const badStream = await new Promise<grpc.ServiceError>((resolve) => {
      const stream = client.watchAssignments({ agentId: "a", nodeIds: [] });
      stream.on("data", () => undefined);
      stream.on("error", resolve);
    });
    expect(badStream.code).toBe(grpc.status.INVALID_ARGUMENT);
  });

  it("registers idempotently, records heartbeats, and asks for re-registration of unknown or down nodes", async () => {
    const client = await leaderClient();
    const leader = await cluster.waitForLeader();
    const first = await rpc(client).register({ agentId: "a", nodes: [spec("hb-n1"), spec("hb-n2")] });
    expect(first.nodes).toEqual([
      { nodeId: "hb-n1", created: true },
      { nodeId: "hb-n2", created: true },
    ]);
    const again = await rpc(client).register({ agentId: "a", nodes: [spec("hb-n1")] });
    expect(again.nodes).toEqual([{ nodeId: "hb-n1", created: false }]);
    const other = await rpc(client)
      .register({ agentId: "a", nodes: [spec("hb-n1", "eu-west-1")] })
      .catch((e: grpc.ServiceError) => e);
    expect((other as grpc.ServiceError).code).toBe(grpc.status.FAILED_PRECONDITION);

    const before = Date.now();
    const beat = await rpc(client).heartbeat({ agentId: "a", nodeIds: ["hb-n1", "hb-n2", "hb-unknown"] });
    expect(beat.reregisterNodeIds).toEqual(["hb-unknown"]);
    expect(leader.heartbeats.lastSeen("hb-n1")).toBeGreaterThanOrEqual(before);
    expect(leader.heartbeats.lastSeen("hb-unknown")).toBeUndefined();

    await cluster.propose(
      {
        kind: "set-node-status",
        setNodeStatus: { nodeId: "hb-n2", status: NodeStatus.NODE_STATUS_DOWN, reason: "test" },
      },
      "set-node-status",
    );
    const afterDown = await rpc(client).heartbeat({ agentId: "a", nodeIds: ["hb-n1", "hb-n2"] });
    expect(afterDown.reregisterNodeIds).toEqual(["hb-n2"]);
    await rpc(client).register({ agentId: "a", nodes: [spec("hb-n2")] });
    expect(leader.fsm.getNode("hb-n2")?.status).toBe("ready");
  });

  it("records a node not ready once, with its reason, counts its heartbeats, and clears it when it is ready", async () => {
    const client = await leaderClient();
    const leader = await cluster.waitForLeader();
    await rpc(client).register({ agentId: "nr", nodes: [spec("nr-n1"), spec("nr-n2")] });
    const reason = "Docker engine at unix:///tmp/d.sock unavailable: connect ENOENT";
    const notReady = { nodes: [{ nodeId: "nr-n1", reason }] };
    const before = Date.now();
    for (let i = 0; i < 5; i++) {
      const beat = await rpc(client).heartbeat({ agentId: "nr", nodeIds: ["nr-n1", "nr-n2"], notReady });
      expect(beat.reregisterNodeIds).toEqual([]);
    }
    await waitFor(
      () => leader.fsm.getNode("nr-n1")?.notReadyReason === reason,
      "the not-ready word in the node record",
    );
    const node = leader.fsm.getNode("nr-n1");
    expect(node?.status).toBe("ready");
    expect(node?.notReadySinceMs).toBeGreaterThanOrEqual(before);
    // Alive all the same: its heartbeats count.
    expect(leader.heartbeats.lastSeen("nr-n1")).toBeGreaterThanOrEqual(before);
    expect(leader.fsm.getNode("nr-n2")?.notReadyReason).toBe("");
    // More heartbeats with the same word add nothing to the log.
    await rpc(client).heartbeat({ agentId: "nr", nodeIds: ["nr-n1", "nr-n2"], notReady });
    const entries = (kind: string) =>
      leader.fsm.events({ limit: 10_000 }).filter((e) => e.node === "nr-n1" && e.kind === kind).length;
    expect(entries("node-not-ready")).toBe(1);
    await rpc(client).heartbeat({ agentId: "nr", nodeIds: ["nr-n1", "nr-n2"] });
    await waitFor(() => leader.fsm.getNode("nr-n1")?.notReadyReason === "", "the node ready again");
    expect(leader.fsm.getNode("nr-n1")?.notReadySinceMs).toBe(0);
    expect(entries("node-ready")).toBe(1);
  });

  it("applies, ignores or refuses each report on its own", async () => {
    const client = await leaderClient();
    await rpc(client).register({ agentId: "a", nodes: [spec("rep-n1")] });
    await deploy(cluster, "rep", 1);
    await place(cluster, "rep", { "rep-0": "rep-n1" });
    const response = await rpc(client).reportStatus({
      agentId: "a",
      reports: [
        {
          containerId: "rep-0",
          nodeId: "rep-n1",
          state: ContainerState.CONTAINER_STATE_RUNNING,
          health: ContainerHealth.CONTAINER_HEALTH_HEALTHY,
          message: "",
        },
        {
          containerId: "rep-0",
          nodeId: "other-n1",
          state: ContainerState.CONTAINER_STATE_STOPPED,
          health: 0,
          message: "",
        },
        {
          containerId: "ghost-7",
          nodeId: "rep-n1",
          state: ContainerState.CONTAINER_STATE_RUNNING,
          health: 0,
          message: "",
        },
        {
          containerId: "rep-0",
          nodeId: "rep-n1",
          state: ContainerState.CONTAINER_STATE_PENDING,
          health: 0,
          message: "",
        },
      ],
    });
    expect(response.results.map((r) => r.outcome)).toEqual([
      ReportOutcome.REPORT_OUTCOME_APPLIED,
      ReportOutcome.REPORT_OUTCOME_IGNORED,
      ReportOutcome.REPORT_OUTCOME_IGNORED,
      ReportOutcome.REPORT_OUTCOME_REFUSED,
    ]);
    expect(response.results[1].message).toMatch(/not on other-n1/);
    const leader = await cluster.waitForLeader();
    expect(response.revision).toBeLessThanOrEqual(leader.fsm.revision);
    expect(leader.fsm.getContainer("rep-0")).toMatchObject({ state: "running", health: "healthy" });
    // Going back is refused by the FSM's lifecycle, and says so.
    const back = await rpc(client).reportStatus({
      agentId: "a",
      reports: [
        {
          containerId: "rep-0",
          nodeId: "rep-n1",
          state: ContainerState.CONTAINER_STATE_STARTING,
          health: 0,
          message: "",
        },
      ],
    });
    expect(back.results[0]).toMatchObject({ outcome: ReportOutcome.REPORT_OUTCOME_REFUSED });
    expect(back.results[0].message).toMatch(/cannot go from running to starting/);
  });

  it("streams full snapshots: at once, coalesced after bursts, and ends with the redirect when leadership moves", async () => {
    const client = await leaderClient();
    await rpc(client).register({ agentId: "a", nodes: [spec("wa-n1"), spec("wa-n2")] });
    const snapshots: WatchAssignmentsResponse[] = [];
    const stream = client.watchAssignments({ agentId: "a", nodeIds: ["wa-n2", "wa-n1", "wa-unknown"] });
    stream.on("data", (s: WatchAssignmentsResponse) => snapshots.push(s));
    const ended = new Promise<grpc.ServiceError>((resolve) => stream.on("error", resolve));
    await waitFor(() => snapshots.length >= 1, "the first snapshot");
    expect(snapshots[0].nodes.map((n) => [n.nodeId, n.status])).toEqual([
      ["wa-n2", NodeStatus.NODE_STATUS_READY],
      ["wa-n1", NodeStatus.NODE_STATUS_READY],
      ["wa-unknown", NodeStatus.NODE_STATUS_UNSPECIFIED],
    ]);
    expect(snapshots[0].nodes.every((n) => n.assignments.length === 0)).toBe(true);

    await deploy(cluster, "wa", 20);
    const placements = Object.fromEntries(
      Array.from({ length: 20 }, (_, i) => [`wa-${i}`, i % 2 === 0 ? "wa-n1" : "wa-n2"]),
    );
    const countBefore = snapshots.length;
    // Twenty separate plans, proposed at once: a burst of commits touching our nodes.
    await Promise.all(Object.entries(placements).map(([id, nodeId]) => place(cluster, "wa", { [id]: nodeId })));
    await waitFor(
      () => snapshots.at(-1)!.nodes.reduce((sum, n) => sum + n.assignments.length, 0) === 20,
      "all twenty in a snapshot",
    );
    expect(snapshots.length - countBefore).toBeLessThan(20);
    const last = snapshots.at(-1)!;
    const n1 = last.nodes.find((n) => n.nodeId === "wa-n1")!;
    expect(n1.assignments).toHaveLength(10);
    expect(n1.assignments[0]).toMatchObject({
      deployment: "wa",
      version: 1,
      desiredState: DesiredState.DESIRED_STATE_RUNNING,
      state: ContainerState.CONTAINER_STATE_SCHEDULED,
      cpuMillicores: 500,
      memoryMib: 256,
      healthCheckPath: "/healthz",
      restartCount: 0,
      nextRestartAtMs: 0,
    });
    for (let i = 1; i < snapshots.length; i++)
      expect(snapshots[i].revision).toBeGreaterThanOrEqual(snapshots[i - 1].revision);

    // Scaling down marks the surplus wanted stopped: the next snapshot says so.
    await cluster.propose({ kind: "scale", scale: { name: "wa", replicas: 19 } }, "scale");
    await waitFor(
      () =>
        snapshots
          .at(-1)!
          .nodes.some((n) =>
            n.assignments.some(
              (a) => a.containerId === "wa-19" && a.desiredState === DesiredState.DESIRED_STATE_STOPPED,
            ),
          ),
      "wa-19 wanted stopped in a snapshot",
    );

    const leader = await cluster.waitForLeader();
    const to = await leader.node.transferLeadership();
    const error = await ended;
    expect(error.code).toBe(grpc.status.UNAVAILABLE);
    await waitFor(() => cluster.leader()?.id === to, "the new leader");
    const address = error.metadata.get("x-leader-address")[0];
    if (address !== undefined) expect(address).toBe(cluster.replicas.find((r) => r.id === to)?.apiAddress);
  });
});
