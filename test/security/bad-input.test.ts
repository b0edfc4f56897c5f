import { promises as fs } from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tlsArgs } from "../../dev/local-cluster/process-cluster.js";
import { orchctl, TestCluster, waitFor, within, type LogLine } from "../cluster/harness.js";
import {
  apiCall,
  heartbeatFrom,
  identity,
  notYetValid,
  openRaftStream,
  pkiCommand,
  selfSigned,
  type Identity,
} from "./tls-clients.js";

/**
 * Issue 13's bad input on real processes: certificates that must not get in (refused at the
 * handshake, or UNAUTHENTICATED on Raft), logged once per peer and minute however often they
 * knock; an oversized metadata value; a thousand connections that never finish a handshake.
 * Every certificate is made here by `orchctl pki` or openssl.
 */

let root: string;
let pki: string;
let cluster: TestCluster;
/** Bad certificates, each naming member replica r2 so that only its flaw can keep it out. */
let strangers: Record<string, Identity>;

const raft = (id: string): string => cluster.cluster.replica(id).raftAddress;
const api = (id: string): string => cluster.apiAddress(id);

async function tlsLines(id: string): Promise<LogLine[]> {
  return (await cluster.logLines(id)).filter((line) => line["component"] === "tls");
}

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "orch-bad-input-"));
  pki = path.join(root, "pki");
  await pkiCommand(["init", "--dir", pki, "--replicas", "r1,r2,r3"]);
  // A replica certificate of this CA for r4, which is not a member.
  await pkiCommand(["issue", "--dir", pki, "--name", "r4", "--role", "replica"]);
  // Another CA's r2, and an expired r2 of our CA (issued into a copy: pki issue overwrites r2.pem).
  const other = path.join(root, "other");
  await pkiCommand(["init", "--dir", other, "--replicas", "r1,r2,r3"]);
  const expired = path.join(root, "expired");
  await fs.mkdir(expired);
  for (const file of ["ca.pem", "ca-key.pem"]) await fs.copyFile(path.join(pki, file), path.join(expired, file));
  await pkiCommand(["issue", "--dir", expired, "--name", "r2", "--role", "replica", "--days", "-1"]);
  const future = path.join(root, "future");
  await fs.mkdir(future);
  strangers = {
    expired: identity(expired, "r2"),
    "not yet valid": notYetValid(pki, future, "r2", "URI:orchestrator://replica/r2"),
    "wrong CA": identity(other, "r2", path.join(pki, "ca.pem")),
    "self-signed": { ...selfSigned(root, "r2", "URI:orchestrator://replica/r2"), ca: path.join(pki, "ca.pem") },
    "no client certificate": { ca: path.join(pki, "ca.pem"), cert: null, key: null },
  };
  cluster = await TestCluster.start({ name: "bad-input", tlsDir: pki });
  await cluster.waitForLeader();
}, 60_000);

afterAll(async () => {
  await cluster?.close();
  if (root !== undefined) await fs.rm(root, { recursive: true, force: true });
});

describe("bad certificates", () => {
  // First in the file: r1 has refused nothing yet, so its first refusal line is this one's.
  it("logs 50 refusals of the same peer once, with the reason", async () => {
    for (let i = 0; i < 50; i++)
      expect(await apiCall(api("r1"), strangers["expired"] ?? null)).toBe(grpc.status.UNAVAILABLE);
    const lines = await waitFor("r1's refusal line", async () => {
      const found = await tlsLines("r1");
      return found.length > 0 ? found : undefined;
    });
    expect(lines.length).toBeLessThanOrEqual(2);
    expect(lines[0]).toMatchObject({
      serves: "api",
      peer: "127.0.0.1",
      reason: "CERT_HAS_EXPIRED",
      suppressed: 0,
      msg: "refused a TLS client certificate",
    });
  });

  it("refuses expired, not-yet-valid, wrong-CA, self-signed certificates and none at the handshake, on the API and on Raft", async () => {
    for (const [what, who] of Object.entries(strangers)) {
      expect(await apiCall(api("r1"), who), what).toBe(grpc.status.UNAVAILABLE);
      const outcome = await openRaftStream(raft("r1"), who, (call) => call.write(heartbeatFrom("r2", "r1", 999)));
      expect(outcome, what).toMatchObject({ kind: "refused", code: grpc.status.UNAVAILABLE });
    }
    // A client certificate of the right CA passes the same handshake.
    expect(await apiCall(api("r1"), identity(pki, "admin"))).toBeNull();
    expect((await cluster.status("r1")).term).toBeLessThan(999);
  });

  it("refuses wrong roles: UNAUTHENTICATED on Raft, PERMISSION_DENIED on the API", async () => {
    for (const name of ["admin", "agent"]) {
      const outcome = await openRaftStream(raft("r1"), identity(pki, name), (call) =>
        call.write(heartbeatFrom("r2", "r1", 999)),
      );
      expect(outcome, name).toMatchObject({ kind: "refused", code: grpc.status.UNAUTHENTICATED });
    }
    expect(await apiCall(api("r1"), identity(pki, "agent"))).toBe(grpc.status.PERMISSION_DENIED);
    expect(await apiCall(api("r1"), identity(pki, "r2"))).toBe(grpc.status.PERMISSION_DENIED);
  });

  it("refuses a Raft stream from a replica certificate of this CA that is not a member", async () => {
    const metadata = new grpc.Metadata();
    metadata.set("raft-from", "r2");
    const outcome = await openRaftStream(
      raft("r1"),
      identity(pki, "r4"),
      (call) => call.write(heartbeatFrom("r2", "r1", 999)),
      metadata,
    );
    expect(outcome).toMatchObject({ kind: "refused", code: grpc.status.UNAUTHENTICATED });
    expect(outcome.kind === "refused" ? outcome.details : "").toMatch(/replica r4 is not a member/);
    expect((await cluster.status("r1")).term).toBeLessThan(999);
  });

  it("logs a flood of refusals on both ports in a few lines", async () => {
    for (let i = 0; i < 50; i++) {
      await apiCall(api("r2"), strangers["wrong CA"] ?? null);
      await openRaftStream(raft("r2"), identity(pki, "admin"), (call) => call.write(heartbeatFrom("r2", "r2", 999)));
    }
    const tls = await tlsLines("r2");
    const raftRefusals = (await cluster.logLines("r2")).filter((l) => l["msg"] === "refused a raft stream");
    // One line per listener (api, raft) per peer per minute; a slow run may cross into a second minute.
    expect(tls.length).toBeGreaterThanOrEqual(1);
    expect(tls.length).toBeLessThanOrEqual(4);
    expect(raftRefusals.length).toBeGreaterThanOrEqual(1);
    expect(raftRefusals.length).toBeLessThanOrEqual(2);
  }, 120_000);
});

describe("resource abuse", () => {
  it("answers others after a call with an oversized metadata value", async () => {
    const metadata = new grpc.Metadata();
    metadata.set("x-oversized", "x".repeat(4 * 1024 * 1024));
    const oversized = await apiCall(api("r1"), identity(pki, "admin"), metadata);
    expect(oversized).not.toBeNull();
    expect(await apiCall(api("r1"), identity(pki, "admin"))).toBeNull();
    expect(cluster.running()).toContain("r1");
  });

  it("serves a normal call while 2000 connections never finish a handshake, and closes them in time", async () => {
    // A ClientHello record header announcing 200 bytes, and the first few of them.
    const partialHello = Buffer.from([0x16, 0x03, 0x01, 0x00, 0xc8, 0x01, 0x00, 0x00, 0xc4, 0x03, 0x03, 0x5a, 0x5a]);
    const sockets: net.Socket[] = [];
    let closed = 0;
    try {
      const targets = [api("r1"), raft("r1")];
      await Promise.all(
        Array.from({ length: 2000 }, (_, i) => {
          const [host, port] = (targets[i % 2] ?? "").split(":");
          return new Promise<void>((resolve, reject) => {
            const socket = net.connect({ host: host ?? "", port: Number(port) }, () => {
              if (i % 4 >= 2) socket.write(partialHello);
              resolve();
            });
            socket.on("error", reject);
            // Flowing, so that the server's close shows as 'end' then 'close'.
            socket.resume();
            socket.on("close", () => closed++);
            sockets.push(socket);
          });
        }),
      );
      const result = await within(
        "orchctl cluster during the flood",
        30_000,
        orchctl(["--endpoints", api("r1"), ...tlsArgs(pki, "admin"), "cluster"]),
      );
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toMatch(/r1/);
      expect(closed).toBeLessThan(2000);
      // The handshake timeout (10 s, Node's own default being 120 s) closes every one of them.
      await waitFor("the replica to close every unfinished handshake", () => closed === 2000, { timeoutMs: 40_000 });
    } finally {
      for (const socket of sockets) socket.destroy();
    }
    expect(await apiCall(api("r1"), identity(pki, "admin"))).toBeNull();
  }, 90_000);
});
