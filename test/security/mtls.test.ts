import { execFileSync } from "node:child_process";
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentProcesses } from "../../dev/local-cluster/process-agents.js";
import {
  AgentServiceClient,
  HeartbeatRequest,
  RegisterRequest,
  ReportStatusRequest,
  WatchAssignmentsRequest,
} from "../../src/gen/agent/v1/agent.js";
import { TestCluster, waitFor, type LeaderView } from "../cluster/harness.js";
import {
  apiCall,
  credentialsOf,
  heartbeatFrom,
  identity,
  openRaftStream,
  pkiCommand,
  type Identity,
} from "./tls-clients.js";

/**
 * Mutual TLS on real processes with certificates made by `orchctl pki`: who may open a Raft
 * stream, who may call the API, and that a replica's identity comes from its certificate.
 */

let root: string;
let pki: string;
let cluster: TestCluster;
let leader: LeaderView;

const raft = (id: string): string => cluster.cluster.replica(id).raftAddress;

/** AgentService heartbeat on `replica` as `who`: null when answered, else the status code. */
function agentCall(replica: string, who: Identity): Promise<{ code: grpc.status; details: string } | null> {
  const client = new AgentServiceClient(cluster.apiAddress(replica), credentialsOf(who));
  return new Promise<{ code: grpc.status; details: string } | null>((resolve) => {
    client.heartbeat(
      HeartbeatRequest.fromPartial({ agentId: "probe", nodeIds: [] }),
      new grpc.Metadata(),
      { deadline: Date.now() + 5_000 },
      (error) => resolve(error === null ? null : { code: error.code, details: error.details }),
    );
  }).finally(() => client.close());
}

/** AgentService register of one node (without capacity: never a usable node) as `who`. */
function registerCall(
  who: Identity,
  nodeId: string,
  region: string,
): Promise<{ code: grpc.status; details: string } | null> {
  const client = new AgentServiceClient(cluster.apiAddress(leader.leaderId), credentialsOf(who));
  return new Promise<{ code: grpc.status; details: string } | null>((resolve) => {
    client.register(
      RegisterRequest.fromPartial({ agentId: "probe", nodes: [{ nodeId, region }] }),
      new grpc.Metadata(),
      { deadline: Date.now() + 5_000 },
      (error) => resolve(error === null ? null : { code: error.code, details: error.details }),
    );
  }).finally(() => client.close());
}

type Outcome = { code: grpc.status; details: string } | null;

/** A node no container fits on (1 millicore, 1 MiB), so that later deployments never land on it. */
function tinyNode(nodeId: string, region: string) {
  return { nodeId, region, capacity: { cpuMillicores: 1, memoryMib: 1 }, agentAddress: "127.0.0.1:1" };
}

/** One AgentService call of each kind as `who` on `replica`: null when answered, else its status. */
const agentCalls = {
  register(replica: string, who: Identity, nodeId: string, region: string): Promise<Outcome> {
    const request = RegisterRequest.fromPartial({ agentId: "probe", nodes: [tinyNode(nodeId, region)] });
    return unaryAgentCall(replica, who, (client, done) =>
      client.register(request, done.metadata, done.options, done.callback),
    );
  },
  heartbeat(replica: string, who: Identity, nodeId: string): Promise<Outcome> {
    const request = HeartbeatRequest.fromPartial({ agentId: "probe", nodeIds: [nodeId] });
    return unaryAgentCall(replica, who, (client, done) =>
      client.heartbeat(request, done.metadata, done.options, done.callback),
    );
  },
  reportStatus(replica: string, who: Identity, nodeId: string): Promise<Outcome> {
    const request = ReportStatusRequest.fromPartial({
      agentId: "probe",
      reports: [{ containerId: "probe-c1", nodeId, message: "" }],
    });
    return unaryAgentCall(replica, who, (client, done) =>
      client.reportStatus(request, done.metadata, done.options, done.callback),
    );
  },
  /** The first snapshot of the stream (null), or the status it ended with. */
  watch(replica: string, who: Identity, nodeId: string): Promise<Outcome> {
    const client = new AgentServiceClient(cluster.apiAddress(replica), credentialsOf(who));
    const call = client.watchAssignments(WatchAssignmentsRequest.fromPartial({ agentId: "probe", nodeIds: [nodeId] }), {
      deadline: Date.now() + 5_000,
    });
    return new Promise<Outcome>((resolve) => {
      call.on("data", () => {
        resolve(null);
        call.cancel();
      });
      call.on("error", (error: grpc.ServiceError) => resolve({ code: error.code, details: error.details }));
    }).finally(() => client.close());
  },
};

interface UnaryParts {
  readonly metadata: grpc.Metadata;
  readonly options: grpc.CallOptions;
  readonly callback: (error: grpc.ServiceError | null) => void;
}

function unaryAgentCall(
  replica: string,
  who: Identity,
  start: (client: AgentServiceClient, parts: UnaryParts) => void,
): Promise<Outcome> {
  const client = new AgentServiceClient(cluster.apiAddress(replica), credentialsOf(who));
  return new Promise<Outcome>((resolve) =>
    start(client, {
      metadata: new grpc.Metadata(),
      options: { deadline: Date.now() + 5_000 },
      callback: (error) => resolve(error === null ? null : { code: error.code, details: error.details }),
    }),
  ).finally(() => client.close());
}

/** A sample of `name{reason="..."}` on the replica's /metrics (0 when absent). */
async function rejected(replica: string, reason: string): Promise<number> {
  const body = await (await fetch(`http://${cluster.cluster.replica(replica).metricsAddress}/metrics`)).text();
  const line = body
    .split("\n")
    .find((l) => l.startsWith("orchestrator_raft_messages_rejected_total{") && l.includes(`reason="${reason}"`));
  return line === undefined ? 0 : Number(line.split(" ").at(-1));
}

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "orch-mtls-"));
  pki = path.join(root, "pki");
  await pkiCommand(["init", "--dir", pki, "--replicas", "r1,r2,r3"]);
  await pkiCommand(["issue", "--dir", pki, "--name", "agent-eu", "--role", "agent", "--region", "eu-west-1"]);
  cluster = await TestCluster.start({ name: "mtls", tlsDir: pki });
  leader = await cluster.waitForLeader();
}, 60_000);

afterAll(async () => {
  await cluster?.close();
  if (root !== undefined) await fs.rm(root, { recursive: true, force: true });
});

describe("mutual TLS", () => {
  it("writes key files readable by the owner only, and certificates naming role and identity", async () => {
    for (const name of ["ca-key.pem", "r1-key.pem", "agent-key.pem", "admin-key.pem"])
      expect((await fs.stat(path.join(pki, name))).mode & 0o777, name).toBe(0o600);
    const text = execFileSync("openssl", ["x509", "-in", path.join(pki, "r2.pem"), "-noout", "-text"]).toString();
    expect(text).toContain("URI:orchestrator://replica/r2");
    expect(text).toContain("IP Address:127.0.0.1");
    expect(text).toMatch(/OU ?= ?replica/);
  });

  it("answers a client with the admin certificate, refuses one without a certificate", async () => {
    expect(await apiCall(cluster.apiAddress(leader.leaderId), identity(pki, "admin"))).toBeNull();
    expect(await apiCall(cluster.apiAddress(leader.leaderId), null)).toBe(grpc.status.UNAVAILABLE);
  });

  it("checks the certificate's role per service: agents only AgentService, clients only OrchestratorService", async () => {
    expect(await apiCall(cluster.apiAddress(leader.leaderId), identity(pki, "agent"))).toBe(
      grpc.status.PERMISSION_DENIED,
    );
    expect(await apiCall(cluster.apiAddress(leader.leaderId), identity(pki, "r1"))).toBe(grpc.status.PERMISSION_DENIED);
    const asAdmin = await agentCall(leader.leaderId, identity(pki, "admin"));
    expect(asAdmin?.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(asAdmin?.details).toMatch(/needs a certificate with role agent; this one has role client \(admin\)/);
    // The agent certificate passes the role check: whatever the answer, it is not a refusal of the role.
    expect((await agentCall(leader.leaderId, identity(pki, "agent")))?.code).not.toBe(grpc.status.PERMISSION_DENIED);
  });

  it("lets an agent certificate naming eu-west-1 register eu-west-1 nodes only", async () => {
    const agentEu = identity(pki, "agent-eu");
    const foreign = await registerCall(agentEu, "us-east-1-n9", "us-east-1");
    expect(foreign?.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(foreign?.details).toMatch(/for region eu-west-1; they cannot register node us-east-1-n9 of us-east-1/);
    expect((await registerCall(agentEu, "eu-west-1-n9", "eu-west-1"))?.code).not.toBe(grpc.status.PERMISSION_DENIED);
  });

  it("lets an agent certificate naming eu-west-1 heartbeat, report and watch eu-west-1 nodes only", async () => {
    const { leaderId } = await cluster.waitForLeader();
    const agentEu = identity(pki, "agent-eu");
    // A us-east-1 node registered by an agent certificate without a region, an eu-west-1 one by agent-eu.
    expect(await agentCalls.register(leaderId, identity(pki, "agent"), "us-east-1-n8", "us-east-1")).toBeNull();
    expect(await agentCalls.register(leaderId, agentEu, "eu-west-1-n8", "eu-west-1")).toBeNull();
    const refusals = {
      heartbeat: await agentCalls.heartbeat(leaderId, agentEu, "us-east-1-n8"),
      "report on": await agentCalls.reportStatus(leaderId, agentEu, "us-east-1-n8"),
      watch: await agentCalls.watch(leaderId, agentEu, "us-east-1-n8"),
    };
    for (const [verb, outcome] of Object.entries(refusals)) {
      expect(outcome?.code, verb).toBe(grpc.status.PERMISSION_DENIED);
      expect(outcome?.details, verb).toMatch(/for region eu-west-1; node us-east-1-n8 is in us-east-1/);
    }
    expect(await agentCalls.heartbeat(leaderId, agentEu, "eu-west-1-n8")).toBeNull();
    expect(await agentCalls.watch(leaderId, agentEu, "eu-west-1-n8")).toBeNull();
    // The report gets past the region check: whatever the FSM says of an unknown container, it is not a refusal of the region.
    expect((await agentCalls.reportStatus(leaderId, agentEu, "eu-west-1-n8"))?.code).not.toBe(
      grpc.status.PERMISSION_DENIED,
    );
  });

  it("refuses a Raft stream without a certificate and one with the admin (client-role) certificate", async () => {
    const plain = await openRaftStream(raft("r1"), null, (call) => call.write(heartbeatFrom("r2", "r1", 999)));
    expect(plain.kind).toBe("refused");
    const before = await rejected("r1", "stream_refused");
    const admin = await openRaftStream(raft("r1"), identity(pki, "admin"), (call) =>
      call.write(heartbeatFrom("r2", "r1", 999)),
    );
    expect(admin).toMatchObject({ kind: "refused", code: grpc.status.UNAUTHENTICATED });
    expect(await rejected("r1", "stream_refused")).toBeGreaterThan(before);
    expect((await cluster.status("r1")).term).toBeLessThan(999);
  });

  it("treats r3's certificate as r3 whatever the metadata and `from` say: messages from r2 are dropped and counted", async () => {
    const target = "r1";
    const before = await rejected(target, "from_mismatch");
    const metadata = new grpc.Metadata();
    metadata.set("raft-from", "r2");
    const outcome = await openRaftStream(
      raft(target),
      identity(pki, "r3"),
      (call) => call.write(heartbeatFrom("r2", target, 999)),
      metadata,
    );
    expect(outcome.kind).toBe("answered");
    await waitFor("the dropped message to be counted", async () => (await rejected(target, "from_mismatch")) > before);
    const status = await cluster.status(target);
    // The term of the forged heartbeat never arrived. (Leadership may move: r1 hears "r3's stream
    // closed" when ours does, which any holder of r3's key could cause anyway.)
    expect(status.term).toBeLessThan(999);
  });

  it("exports the certificate's expiry and orchestrator_insecure 0", async () => {
    const expiry = await cluster.metric("r1", "orchestrator_tls_certificate_expiry_timestamp_seconds");
    expect(expiry * 1000).toBeGreaterThan(Date.now() + 300 * 24 * 3600 * 1000);
    expect(await cluster.metric("r1", "orchestrator_insecure")).toBe(0);
  });

  it("runs agents and orchctl over mutual TLS: a deployment gets its containers running", async () => {
    const agents = await AgentProcesses.start({
      endpoints: cluster.endpoints(),
      regions: ["us-east-1"],
      nodesPerRegion: 2,
      ports: "random",
      logDir: path.join(root, "logs"),
      tlsDir: pki,
    });
    try {
      // The agents' nodes first: the tiny probe nodes registered above hold no 100m container.
      await waitFor("the agents' two nodes", async () => {
        const { leaderId } = await cluster.waitForLeader();
        const { nodes } = await cluster.call(leaderId, "listNodes", { stale: false });
        return nodes.filter((node) => (node.capacity?.cpuMillicores ?? 0) > 1).length >= 2;
      });
      const deployed = await cluster.orchctl([
        "deploy",
        "web",
        "--image",
        "nginx:latest",
        "--replicas",
        "2",
        "--cpu",
        "100m",
        "--memory",
        "64Mi",
        "--wait",
        "--timeout",
        "40",
      ]);
      expect(deployed.code, deployed.stderr).toBe(0);
      const shown = await cluster.orchctl(["cluster"]);
      expect(shown.code, shown.stderr).toBe(0);
      expect(shown.stdout).toMatch(/Certificate expires/);
    } finally {
      await agents.stop();
    }
  }, 90_000);
});
