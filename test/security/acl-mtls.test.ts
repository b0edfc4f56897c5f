import { promises as fs, readFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentServiceClient, HeartbeatRequest, RegisterRequest } from "../../src/gen/agent/v1/agent.js";
import {
  ListDeploymentsRequest,
  WatchRequest,
  type WatchResponse,
} from "../../src/gen/orchestrator/v1/orchestrator.js";
import { bearerValue } from "../../src/lib/bearer-token.js";
import {
  isGrpcFailure,
  orchctl,
  statusName,
  TestCluster,
  waitFor,
  within,
  type LeaderView,
} from "../cluster/harness.js";

/**
 * Mutual TLS and --acl together: people need a client certificate and a token, an agent's
 * certificate is credential enough for AgentService, and a certificate names the actor of what
 * it does when no token does.
 */

let root: string;
let pki: string;
let cluster: TestCluster;
let leader: LeaderView;
let adminSecret: string;

function agentClient(name: string): AgentServiceClient {
  const read = (file: string) => readFileSync(path.join(pki, file));
  return new AgentServiceClient(
    cluster.apiAddress(leader.leaderId),
    grpc.credentials.createSsl(read("ca.pem"), read(`${name}-key.pem`), read(`${name}.pem`)),
  );
}

function metadataWith(secret: string | null): grpc.Metadata {
  const metadata = new grpc.Metadata();
  if (secret !== null) metadata.set("authorization", bearerValue(secret));
  return metadata;
}

async function listAs(secret: string | null): Promise<string> {
  try {
    await cluster.call(leader.leaderId, "listDeployments", ListDeploymentsRequest.fromPartial({}), {
      metadata: metadataWith(secret),
    });
    return "OK";
  } catch (error) {
    if (!isGrpcFailure(error)) throw error;
    return statusName(error.code);
  }
}

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "orch-acl-mtls-"));
  pki = path.join(root, "pki");
  for (const args of [
    ["init", "--dir", pki, "--replicas", "r1,r2,r3"],
    ["issue", "--dir", pki, "--name", "agent-eu", "--role", "agent", "--region", "eu-west-1"],
  ]) {
    const made = await orchctl(["pki", ...args]);
    expect(made.code, made.stderr).toBe(0);
  }
  cluster = await TestCluster.start({ name: "acl-mtls", tlsDir: pki, extraArgs: ["--acl"] });
  leader = await cluster.waitForLeader();
}, 60_000);

afterAll(async () => {
  await cluster?.close();
  if (root !== undefined) await fs.rm(root, { recursive: true, force: true });
});

function registerAs(client: AgentServiceClient, nodeId: string, region: string): Promise<grpc.ServiceError | null> {
  return within(
    `a registration of ${nodeId}`,
    15_000,
    new Promise<grpc.ServiceError | null>((resolve) =>
      client.register(
        RegisterRequest.fromPartial({
          agentId: "probe",
          nodes: [{ nodeId, region, capacity: { cpuMillicores: 1000, memoryMib: 1024 }, agentAddress: "127.0.0.1:1" }],
        }),
        new grpc.Metadata(),
        (error) => resolve(error),
      ),
    ),
  );
}

describe("mutual TLS with --acl", () => {
  it("asks a client certificate for a token too; orchctl bootstraps over TLS, once", async () => {
    expect(await listAs(null)).toBe("UNAUTHENTICATED");
    // Two racing bootstraps, one through a follower: the log orders them, and exactly one wins.
    const follower = cluster.ids().find((id) => id !== leader.leaderId) ?? leader.leaderId;
    const racing = await Promise.all([
      cluster.orchctl(["acl", "bootstrap", "-o", "json"]),
      cluster.orchctl(["acl", "bootstrap", "-o", "json"], cluster.apiAddress(follower)),
    ]);
    expect(racing.map((r) => r.code).sort()).toEqual([0, 1]);
    const winner = racing.find((r) => r.code === 0);
    expect(racing.find((r) => r.code === 1)?.stderr).toMatch(/already bootstrapped/);
    adminSecret = (JSON.parse(winner?.stdout ?? "{}") as { secret: string }).secret;
    expect(await listAs(adminSecret)).toBe("OK");
    const listed = await cluster.orchctl(["--token", adminSecret, "token", "list", "-o", "json"]);
    expect(JSON.parse(listed.stdout)).toMatchObject({ tokens: [{ name: "bootstrap", role: "admin" }] });
  });

  it("lets an agent certificate speak AgentService without a token, and names it as the actor", async () => {
    const from = (
      await cluster.call(leader.leaderId, "listDeployments", ListDeploymentsRequest.fromPartial({}), {
        metadata: metadataWith(adminSecret),
      })
    ).revision;
    const events: WatchResponse[] = [];
    const stream = cluster
      .client(leader.leaderId)
      .watch(WatchRequest.fromPartial({ fromRevision: from }), metadataWith(adminSecret));
    stream.on("data", (change: WatchResponse) => events.push(change));
    stream.on("error", () => undefined);
    const client = agentClient("agent-eu");
    try {
      const registered = await within(
        "a registration with the agent certificate",
        15_000,
        new Promise<grpc.ServiceError | null>((resolve) =>
          client.register(
            RegisterRequest.fromPartial({
              agentId: "eu",
              nodes: [
                {
                  nodeId: "eu-west-1-n1",
                  region: "eu-west-1",
                  capacity: { cpuMillicores: 1000, memoryMib: 1024 },
                  agentAddress: "127.0.0.1:1",
                },
              ],
            }),
            new grpc.Metadata(),
            (error) => resolve(error),
          ),
        ),
      );
      expect(registered?.details ?? null).toBeNull();
      const heartbeat = await within(
        "a heartbeat with the agent certificate",
        15_000,
        new Promise<grpc.ServiceError | null>((resolve) =>
          client.heartbeat(
            HeartbeatRequest.fromPartial({ agentId: "eu", nodeIds: ["eu-west-1-n1"] }),
            new grpc.Metadata(),
            resolve,
          ),
        ),
      );
      expect(heartbeat).toBeNull();
      const event = await waitFor("the node-registered event", async () =>
        events.find((c) => c.kind === "event" && c.event?.kind === "node-registered"),
      );
      expect(event.event?.actor).toBe("cert:agent-eu");
    } finally {
      client.close();
      stream.cancel();
    }
  }, 60_000);
});

describe("an agent certificate naming a region", () => {
  it("may not heartbeat or report for a node of another region", async () => {
    const anyRegion = agentClient("agent");
    const eu = agentClient("agent-eu");
    try {
      expect((await registerAs(anyRegion, "us-east-1-n7", "us-east-1"))?.details ?? null).toBeNull();
      const heartbeat = await within(
        "a foreign heartbeat",
        15_000,
        new Promise<grpc.ServiceError | null>((resolve) =>
          eu.heartbeat(
            HeartbeatRequest.fromPartial({ agentId: "eu", nodeIds: ["us-east-1-n7"] }),
            new grpc.Metadata(),
            resolve,
          ),
        ),
      );
      expect(statusName(heartbeat?.code ?? 0)).toBe("PERMISSION_DENIED");
      expect(heartbeat?.details).toMatch(/for region eu-west-1; node us-east-1-n7 is in us-east-1/);
      expect((await registerAs(eu, "us-east-1-n8", "us-east-1"))?.code).toBe(grpc.status.PERMISSION_DENIED);
    } finally {
      anyRegion.close();
      eu.close();
    }
  }, 30_000);
});
