import type * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type {
  ClusterStatusResponse,
  DeleteRequest,
  DeleteResponse,
  GetDeploymentResponse,
  ListContainersRequest,
  ListContainersResponse,
  ListNodesResponse,
  TransferLeadershipRequest,
  TransferLeadershipResponse,
} from "../../src/gen/orchestrator/v1/orchestrator.js";
import { type FakeServer, runCli, startFakeServer } from "./fake-server.js";
import { sampleContainer, sampleDeployment, sampleNode } from "./fixtures.js";

/** Every read and admin command against one fake leader: what a person sees, and the JSON shape. */

let server: FakeServer;

beforeAll(async () => {
  server = await startFakeServer({
    getDeployment: (_call: unknown, callback: grpc.sendUnaryData<GetDeploymentResponse>) =>
      callback(null, {
        deployment: sampleDeployment({ replicas: 3, running: 2, pendingReason: "0/9 nodes: 9 insufficient memory" }),
        containers: [sampleContainer("web-a1", "us-east-1-n1"), sampleContainer("web-b2", "us-east-1-n2")],
        revision: 60,
      }),
    listContainers: (
      call: grpc.ServerUnaryCall<ListContainersRequest, ListContainersResponse>,
      callback: grpc.sendUnaryData<ListContainersResponse>,
    ) =>
      callback(null, {
        containers: [sampleContainer("web-a1", call.request.node || "us-east-1-n1")],
        total: 4,
        revision: 61,
      }),
    listNodes: (_call: unknown, callback: grpc.sendUnaryData<ListNodesResponse>) =>
      callback(null, { nodes: [sampleNode("eu-west-1-n2"), sampleNode("eu-west-1-n1")], revision: 62 }),
    clusterStatus: (_call: unknown, callback: grpc.sendUnaryData<ClusterStatusResponse>) =>
      callback(null, {
        replicaId: "r1",
        role: "leader",
        leaderId: "r1",
        leaderAddress: server.address,
        term: 3,
        commitIndex: 99,
        appliedIndex: 99,
        members: [
          {
            id: "r1",
            raftAddress: "127.0.0.1:7001",
            apiAddress: server.address,
            role: "leader",
            matchIndex: 99,
            reachable: true,
            suffrage: "voter",
            lastContactMs: 0,
          },
        ],
      }),
    delete: (
      _call: grpc.ServerUnaryCall<DeleteRequest, DeleteResponse>,
      callback: grpc.sendUnaryData<DeleteResponse>,
    ) => callback(null, { revision: 63 }),
    transferLeadership: (
      call: grpc.ServerUnaryCall<TransferLeadershipRequest, TransferLeadershipResponse>,
      callback: grpc.sendUnaryData<TransferLeadershipResponse>,
    ) => callback(null, { leaderId: call.request.to || "r2", term: 4 }),
  });
});

afterAll(() => server.stop());

const cli = (...args: string[]) => runCli(["--endpoints", server.address, ...args]);

describe("commands", () => {
  it("get describes spec, counts, pending reason, containers and events", async () => {
    const result = await cli("get", "web");
    expect(result.code).toBe(0);
    const text = result.stdout;
    expect(text).toContain("Name:            web\n");
    expect(text).toContain("Replicas:        3 desired | 2 running | 2 healthy | 0 scheduled | 1 pending | 0 failed\n");
    expect(text).toContain("Resources:       cpu 500m, memory 256Mi per replica\n");
    expect(text).toContain("Regions:         us-east-1, eu-west-1\n");
    expect(text).toContain("Pending reason:  0/9 nodes: 9 insufficient memory\n");
    expect(text).toContain(
      "Containers:\n  ID       DEPLOYMENT   NODE           REGION      STATE     HEALTH    RESTARTS\n  web-a1   web",
    );
    expect(text).toContain(
      "Events:\n  AGE   REVISION   KIND     OBJECT   BY      MESSAGE\n  -     41         scaled   -        alice   scaled to 3\n",
    );
  });

  it("get --output json keeps stdout one JSON document", async () => {
    const result = await cli("get", "web", "-o", "json");
    const body = JSON.parse(result.stdout) as {
      revision: number;
      deployment: { status: { pendingReason: string } };
      containers: unknown[];
    };
    expect(body.revision).toBe(60);
    expect(body.deployment.status.pendingReason).toBe("0/9 nodes: 9 insufficient memory");
    expect(body.containers).toHaveLength(2);
  });

  it("containers passes filters and says when the list is cut", async () => {
    const result = await cli("containers", "--deployment", "web", "--node", "n7", "--limit", "1");
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(
      "ID       DEPLOYMENT   NODE   REGION      STATE     HEALTH    RESTARTS\n" +
        "web-a1   web          n7     us-east-1   running   healthy   1\n",
    );
    expect(result.stderr).toBe("showing 1 of 4 containers; use --limit to see more\n");
    const request = server.callsTo("listContainers").at(-1) as ListContainersRequest;
    expect(request).toMatchObject({ deployment: "web", node: "n7", limit: 1, stale: false });
  });

  it("nodes sorts by region and id and shows allocated/capacity", async () => {
    const result = await cli("nodes");
    expect(result.stdout).toBe(
      "ID             REGION      STATUS   CPU           MEMORY           CONTAINERS   ELIGIBILITY   DRAIN\n" +
        "eu-west-1-n1   eu-west-1   ready    1.5/8 (19%)   2Gi/16Gi (13%)   3            eligible      -\n" +
        "eu-west-1-n2   eu-west-1   ready    1.5/8 (19%)   2Gi/16Gi (13%)   3            eligible      -\n",
    );
  });

  it("cluster shows leader, term and indexes", async () => {
    const result = await cli("cluster");
    expect(result.stdout).toContain("Leader:         r1 (");
    expect(result.stdout).toContain("Commit index:   99\n");
    expect(result.stdout).toContain("r1   leader");
  });

  it("delete and leader transfer report what happened", async () => {
    expect((await cli("delete", "web")).stdout).toBe("deployment web deleted (revision 63)\n");
    const [request] = server.callsTo("delete") as DeleteRequest[];
    expect(request.header?.seq).toBe(1);
    expect((await cli("leader", "transfer", "--to", "r3")).stdout).toBe("leadership transferred to r3 (term 4)\n");
    expect(JSON.parse((await cli("leader", "transfer", "-o", "json")).stdout)).toEqual({ leaderId: "r2", term: 4 });
  });
});
