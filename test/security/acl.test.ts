import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentProcesses } from "../../dev/local-cluster/process-agents.js";
import { accessNeedOf, type AccessNeed } from "../../src/api/access-rules.js";
import { roleAllows, type TokenRole } from "../../src/fsm/index.js";
import * as agent from "../../src/gen/agent/v1/agent.js";
import { AgentServiceService } from "../../src/gen/agent/v1/agent.js";
import * as api from "../../src/gen/orchestrator/v1/orchestrator.js";
import {
  ListDeploymentsRequest,
  ListNodesRequest,
  OrchestratorServiceService,
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
 * Tokens with roles on a real three-replica cluster run with --acl: bootstrap once, each role
 * gets exactly its rights on every RPC, revocation and expiry take effect on every replica, a
 * malformed token is refused cleanly, an agent token is bound to its region, and the audit actor
 * reaches the events.
 */

let root: string;
let cluster: TestCluster;
let leader: LeaderView;
let adminSecret: string;
const secrets = new Map<TokenRole, string>();

type Service = typeof OrchestratorServiceService | typeof AgentServiceService;
interface Method {
  readonly path: string;
  readonly requestStream: boolean;
  readonly responseStream: boolean;
  readonly requestSerialize: (value: never) => Buffer;
  readonly responseDeserialize: (bytes: Buffer) => unknown;
}

function methodsOf(service: Service): [string, Method][] {
  return Object.entries(service as unknown as Record<string, Method>);
}

function tokenMetadata(secret: string | null): grpc.Metadata {
  const metadata = new grpc.Metadata();
  if (secret !== null) metadata.set("authorization", bearerValue(secret));
  return metadata;
}

/**
 * A request for each RPC that passes the access check and then does no harm: it is refused for
 * its content (INVALID_ARGUMENT and the like), or it only reads. A new RPC needs an entry here.
 */
const harmlessRequests: Readonly<Record<string, unknown>> = {
  Deploy: api.DeployRequest.fromPartial({}),
  Scale: api.ScaleRequest.fromPartial({ name: "" }),
  Delete: api.DeleteRequest.fromPartial({ name: "" }),
  GetDeployment: api.GetDeploymentRequest.fromPartial({ name: "" }),
  ListDeployments: api.ListDeploymentsRequest.fromPartial({}),
  ListContainers: api.ListContainersRequest.fromPartial({}),
  ListNodes: api.ListNodesRequest.fromPartial({}),
  ClusterStatus: api.ClusterStatusRequest.fromPartial({}),
  Watch: api.WatchRequest.fromPartial({ fromRevision: 0 }),
  TransferLeadership: api.TransferLeadershipRequest.fromPartial({ to: "nobody" }),
  GetSlo: api.GetSloRequest.fromPartial({}),
  InjectFault: api.InjectFaultRequest.fromPartial({ target: "" }),
  RolloutAction: api.RolloutActionRequest.fromPartial({ name: "" }),
  Apply: api.ApplyRequest.fromPartial({ specs: [] }),
  Plan: api.PlanRequest.fromPartial({ specs: [] }),
  AclBootstrap: api.AclBootstrapRequest.fromPartial({}),
  TokenCreate: api.TokenCreateRequest.fromPartial({ name: "" }),
  TokenList: api.TokenListRequest.fromPartial({}),
  TokenRevoke: api.TokenRevokeRequest.fromPartial({ name: "" }),
  MemberList: api.MemberListRequest.fromPartial({}),
  MemberAdd: api.MemberAddRequest.fromPartial({ id: "" }),
  MemberPromote: api.MemberPromoteRequest.fromPartial({ id: "" }),
  MemberRemove: api.MemberRemoveRequest.fromPartial({ id: "" }),
  NodeEligibility: api.NodeEligibilityRequest.fromPartial({ nodeId: "" }),
  NodeDrain: api.NodeDrainRequest.fromPartial({ nodeId: "" }),
  SnapshotSave: api.SnapshotSaveRequest.fromPartial({}),
  Register: agent.RegisterRequest.fromPartial({ agentId: "", nodes: [] }),
  Heartbeat: agent.HeartbeatRequest.fromPartial({ agentId: "" }),
  WatchAssignments: agent.WatchAssignmentsRequest.fromPartial({ agentId: "" }),
  ReportStatus: agent.ReportStatusRequest.fromPartial({ agentId: "" }),
};

type Outcome = { readonly code: grpc.status; readonly details: string };

/** One call as `secret` (null: none) to the leader: OK, or the status it ended with. */
function callAs(method: Method, request: unknown, secret: string | null): Promise<Outcome> {
  const client = new grpc.Client(cluster.apiAddress(leader.leaderId), grpc.credentials.createInsecure());
  const deadline = Date.now() + 10_000;
  const serialize = method.requestSerialize as (value: unknown) => Buffer;
  const outcome = new Promise<Outcome>((resolve) => {
    if (method.responseStream) {
      const call = client.makeServerStreamRequest(
        method.path,
        serialize,
        method.responseDeserialize,
        request,
        tokenMetadata(secret),
        { deadline },
      );
      // The first message proves the call was let through; a refusal is an error before any.
      call.on("data", () => {
        resolve({ code: grpc.status.OK, details: "" });
        call.cancel();
      });
      call.on("error", (error: grpc.ServiceError) => resolve({ code: error.code, details: error.details }));
      call.on("end", () => resolve({ code: grpc.status.OK, details: "" }));
      return;
    }
    client.makeUnaryRequest(
      method.path,
      serialize,
      method.responseDeserialize,
      request,
      tokenMetadata(secret),
      { deadline },
      (error) =>
        resolve(error === null ? { code: grpc.status.OK, details: "" } : { code: error.code, details: error.details }),
    );
  });
  return within(`${method.path} as ${secret === null ? "nobody" : "a token"}`, 15_000, outcome).finally(() =>
    client.close(),
  );
}

async function cli(args: readonly string[], secret: string | null = adminSecret) {
  return orchctl([
    "--endpoints",
    cluster.endpoints(),
    "--timeout",
    "20",
    ...(secret !== null ? ["--token", secret] : []),
    ...args,
  ]);
}

async function createToken(name: string, role: TokenRole, extra: readonly string[] = []): Promise<string> {
  const result = await cli(["token", "create", "--name", name, "--role", role, ...extra, "-o", "json"]);
  expect(result.code, result.stderr).toBe(0);
  const body = JSON.parse(result.stdout) as { secret: string; role: string; name: string };
  expect(body.role).toBe(role);
  return body.secret;
}

/** ListDeployments on `replica` as `secret`: null when answered, else the status. */
async function listOn(replica: string, secret: string, stale: boolean): Promise<Outcome | null> {
  try {
    await cluster.call(replica, "listDeployments", ListDeploymentsRequest.fromPartial({ stale }), {
      metadata: tokenMetadata(secret),
    });
    return null;
  } catch (error) {
    if (!isGrpcFailure(error)) throw error;
    return { code: error.code, details: error.details };
  }
}

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "orch-acl-"));
  cluster = await TestCluster.start({ name: "acl", extraArgs: ["--acl"] });
  // ClusterStatus is public: the leader is found before any token exists.
  leader = await cluster.waitForLeader();
}, 60_000);

afterAll(async () => {
  await cluster?.close();
  if (root !== undefined) await fs.rm(root, { recursive: true, force: true });
});

describe("tokens with roles (--acl)", () => {
  it("refuses calls without a token, then bootstraps exactly once", async () => {
    const before = await callAs(
      OrchestratorServiceService.listDeployments as unknown as Method,
      ListDeploymentsRequest.fromPartial({}),
      null,
    );
    expect(statusName(before.code)).toBe("UNAUTHENTICATED");
    expect(before.details).toMatch(/ListDeployments needs a token with role viewer/);

    const first = await cli(["acl", "bootstrap", "-o", "json"], null);
    expect(first.code, first.stderr).toBe(0);
    const body = JSON.parse(first.stdout) as { secret: string; name: string; role: string };
    expect(body.role).toBe("admin");
    expect(body.secret).toMatch(/^orch_[A-Za-z0-9_-]{43}$/);
    adminSecret = body.secret;

    const second = await cli(["acl", "bootstrap"], null);
    expect(second.code).not.toBe(0);
    expect(second.stderr).toMatch(/already bootstrapped/);
    const again = await callAs(
      OrchestratorServiceService.aclBootstrap as unknown as Method,
      api.AclBootstrapRequest.fromPartial({}),
      null,
    );
    expect(statusName(again.code)).toBe("FAILED_PRECONDITION");

    // The table mode prints the secret alone on stdout.
    const viewer = await cli(["token", "create", "--name", "plain", "--role", "viewer"]);
    expect(viewer.stdout.trim()).toMatch(/^orch_[A-Za-z0-9_-]{43}$/);
    expect(viewer.stderr).toMatch(/shown this once/);
  });

  it("gives each role exactly its rights on every RPC of every service", async () => {
    for (const role of ["viewer", "deployer", "operator", "admin"] as const)
      secrets.set(role, await createToken(`role-${role}`, role));
    secrets.set("agent", await createToken("role-agent", "agent", ["--region", "eu-west-1"]));
    // Something for Watch to send at once.
    const deployed = await cli(["deploy", "web", "--image", "nginx:1", "--replicas", "1"]);
    expect(deployed.code, deployed.stderr).toBe(0);

    const callers: (TokenRole | null)[] = [null, "viewer", "deployer", "operator", "admin", "agent"];
    const methods = [...methodsOf(OrchestratorServiceService), ...methodsOf(AgentServiceService)];
    const rows: string[] = [];
    for (const [, method] of methods) {
      const name = method.path.split("/").pop() ?? "";
      const need: AccessNeed | undefined = accessNeedOf(method.path);
      expect(need, `${method.path} has an access rule`).toBeDefined();
      expect(harmlessRequests[name], `a harmless request for ${name}`).toBeDefined();
      for (const role of callers) {
        const outcome = await callAs(
          method,
          harmlessRequests[name],
          role === null ? null : (secrets.get(role) ?? null),
        );
        const code = statusName(outcome.code);
        let expected: "UNAUTHENTICATED" | "PERMISSION_DENIED" | "let through";
        if (need === "public") expected = "let through";
        else if (role === null) expected = "UNAUTHENTICATED";
        else expected = roleAllows(role, need!) ? "let through" : "PERMISSION_DENIED";
        const got = code === "UNAUTHENTICATED" || code === "PERMISSION_DENIED" ? code : "let through";
        rows.push(`${name} as ${role ?? "nobody"}: expected ${expected}, got ${code} ${outcome.details}`);
        expect(got, rows.at(-1)).toBe(expected);
        if (got === "PERMISSION_DENIED") {
          expect(outcome.details).toContain(`needs role ${need}`);
          expect(outcome.details).toContain(`has role ${role}`);
        }
      }
    }
    expect(rows.length).toBe(methods.length * callers.length);
  }, 120_000);

  it("stops a revoked token on every replica after one commit", async () => {
    const secret = await createToken("short-lived", "viewer");
    for (const id of cluster.ids())
      await waitFor(`replica ${id} to know the new token`, async () => (await listOn(id, secret, true)) === null);
    const watchEnded = new Promise<Outcome>((resolve) => {
      const client = cluster.client(cluster.ids().find((id) => id !== leader.leaderId) ?? leader.leaderId);
      const stream = client.watch(WatchRequest.fromPartial({ fromRevision: 0 }), tokenMetadata(secret));
      stream.on("data", () => undefined);
      stream.on("error", (error: grpc.ServiceError) => resolve({ code: error.code, details: error.details }));
    });
    const revoked = await cli(["token", "revoke", "short-lived"]);
    expect(revoked.code, revoked.stderr).toBe(0);
    // Linearizable reads: refused at once wherever they are served (the token is checked after the read).
    for (const id of cluster.ids()) {
      const outcome = await listOn(id, secret, false);
      expect(outcome, `linearizable read on ${id}`).not.toBeNull();
      expect(statusName(outcome!.code), id).toBe("UNAUTHENTICATED");
    }
    // Local reads: as soon as each replica applied the revocation.
    for (const id of cluster.ids())
      await waitFor(`replica ${id} to refuse the revoked token`, async () => {
        const outcome = await listOn(id, secret, true);
        return outcome?.code === grpc.status.UNAUTHENTICATED ? outcome : undefined;
      });
    // A watch opened with the token ends with the next change after the revocation.
    await cli(["scale", "web", "2"]);
    const ended = await within("the revoked watcher's stream to end", 20_000, watchEnded);
    expect(statusName(ended.code)).toBe("UNAUTHENTICATED");
    expect(ended.details).toMatch(/unknown or revoked token/);
  }, 60_000);

  it("stops a token when its ttl runs out", async () => {
    const secret = await createToken("brief", "viewer", ["--ttl", "2s"]);
    expect(await listOn(leader.leaderId, secret, true)).toBeNull();
    const expired = await waitFor(
      "the token to expire",
      async () => {
        const outcome = await listOn(leader.leaderId, secret, true);
        return outcome?.code === grpc.status.UNAUTHENTICATED ? outcome : undefined;
      },
      { timeoutMs: 30_000 },
    );
    expect(expired.details).toMatch(/token brief expired at/);
    const listed = await cli(["token", "list"]);
    expect(listed.stdout).toMatch(/brief\s+viewer\s+-\s+\S+\s+\S+ \(expired\)/);
    expect(listed.stdout).not.toContain("orch_");
  });

  it("refuses a malformed or oversized token cleanly and keeps serving everyone else", async () => {
    const list = OrchestratorServiceService.listNodes as unknown as Method;
    const raw = async (value: string) => {
      const metadata = new grpc.Metadata();
      metadata.set("authorization", value);
      const client = new grpc.Client(cluster.apiAddress(leader.leaderId), grpc.credentials.createInsecure());
      try {
        return await within(
          "a call with a strange token",
          15_000,
          new Promise<Outcome>((resolve) =>
            client.makeUnaryRequest(
              list.path,
              list.requestSerialize as (value: unknown) => Buffer,
              list.responseDeserialize,
              ListNodesRequest.fromPartial({}),
              metadata,
              { deadline: Date.now() + 10_000 },
              (error) =>
                resolve(error === null ? { code: 0, details: "" } : { code: error.code, details: error.details }),
            ),
          ),
        );
      } finally {
        client.close();
      }
    };
    for (const value of ["Basic dXNlcjpwYXNz", "Bearer ", `Bearer ${"x".repeat(400)}`, "Bearer orch_unknown"]) {
      const outcome = await raw(value);
      expect(statusName(outcome.code), value.slice(0, 20)).toBe("UNAUTHENTICATED");
    }
    expect((await raw("Basic x")).details).toMatch(/malformed token: not a bearer token/);
    // Far beyond gRPC's header limit: refused by the transport, not by a crash.
    const huge = await raw(`Bearer ${"y".repeat(64 * 1024)}`);
    expect(statusName(huge.code)).not.toBe("OK");
    expect(await listOn(leader.leaderId, secrets.get("viewer") ?? "", true)).toBeNull();
  });

  it("binds an agent token to its region, and a node-agent with --token registers its nodes", async () => {
    const register = AgentServiceService.register as unknown as Method;
    const agentSecret = secrets.get("agent") ?? "";
    const foreign = await callAs(
      register,
      { agentId: "probe", nodes: [{ nodeId: "us-east-1-n9", region: "us-east-1" }] },
      agentSecret,
    );
    expect(statusName(foreign.code)).toBe("PERMISSION_DENIED");
    expect(foreign.details).toMatch(/for region eu-west-1; they cannot register node us-east-1-n9 of us-east-1/);

    const agents = await AgentProcesses.start({
      endpoints: cluster.endpoints(),
      regions: ["eu-west-1"],
      nodesPerRegion: 2,
      ports: "random",
      logDir: path.join(cluster.root, "logs"),
      extraArgs: ["--token", agentSecret],
    });
    try {
      await waitFor("the agent's eu-west-1 nodes to register", async () => {
        const nodes = await cluster.call(leader.leaderId, "listNodes", ListNodesRequest.fromPartial({}), {
          metadata: tokenMetadata(adminSecret),
        });
        return nodes.nodes.filter((n) => n.region === "eu-west-1").length === 2 ? true : undefined;
      });
    } finally {
      await agents.stop();
    }
  }, 60_000);

  it("names the actor of every change in get and watch", async () => {
    const alice = await createToken("alice", "deployer");
    const watched: WatchResponse[] = [];
    const from = (
      await cluster.call(leader.leaderId, "listDeployments", ListDeploymentsRequest.fromPartial({}), {
        metadata: tokenMetadata(adminSecret),
      })
    ).revision;
    const stream = cluster
      .client(leader.leaderId)
      .watch(WatchRequest.fromPartial({ fromRevision: from, deployment: "audited" }), tokenMetadata(adminSecret));
    stream.on("data", (change: WatchResponse) => watched.push(change));
    stream.on("error", () => undefined);
    try {
      const deployed = await cli(["deploy", "audited", "--image", "nginx:1", "--replicas", "1"], alice);
      expect(deployed.code, deployed.stderr).toBe(0);
      const json = await cli(["get", "audited", "-o", "json"], alice);
      const view = JSON.parse(json.stdout) as { deployment: { recentEvents: { kind: string; actor: string }[] } };
      expect(view.deployment.recentEvents.find((e) => e.kind === "deployed")?.actor).toBe("alice");
      const table = await cli(["get", "audited"], alice);
      expect(table.stdout).toMatch(/deployed\s+-\s+alice\s+/);
      const event = await waitFor("the watch to show the deploy event", async () =>
        watched.find((c) => c.kind === "event" && c.event?.kind === "deployed"),
      );
      expect(event.event?.actor).toBe("alice");
    } finally {
      stream.cancel();
    }
  }, 60_000);
});
