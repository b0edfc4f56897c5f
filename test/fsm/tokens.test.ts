import { describe, expect, it } from "vitest";
import { FsmSnapshot } from "../../src/gen/orchestrator/v1/fsm.js";
import { ClusterFsm, roleAllows, snapshotFormatVersion, type CommandBody } from "../../src/fsm/index.js";
import { body, expectSameBytes, Harness } from "./helpers.js";

const hashA = "a".repeat(64);
const hashB = "b".repeat(64);
const hashC = "c".repeat(64);

const bootstrap = (secretSha256 = hashA): CommandBody => ({
  kind: "acl-bootstrap",
  aclBootstrap: { token: { name: "bootstrap", role: "admin", secretSha256, expiresAtMs: 0, region: "" } },
});

const create = (
  name: string,
  role: string,
  secretSha256: string,
  extra: { expiresAtMs?: number; region?: string } = {},
) =>
  ({
    kind: "token-create",
    tokenCreate: { name, role, secretSha256, expiresAtMs: extra.expiresAtMs ?? 0, region: extra.region ?? "" },
  }) satisfies CommandBody;

const revoke = (name: string): CommandBody => ({ kind: "token-revoke", tokenRevoke: { name } });

describe("the token table", () => {
  it("bootstraps once: of two bootstraps in the log, the later is refused", () => {
    const h = new Harness();
    expect(h.ok(bootstrap(), { clientId: "c1", seq: 1, actor: "c1" })).toEqual({
      kind: "acl-bootstrap",
      name: "bootstrap",
      secretSha256: hashA,
    });
    const second = h.fail(bootstrap(hashB), { clientId: "c2", seq: 1 });
    expect(second.code).toBe("FAILED_PRECONDITION");
    expect(second.message).toMatch(/already bootstrapped \(at revision 1\)/);
    expect(h.fsm.tokenBySecretHash(hashB)).toBeUndefined();
    expect(h.fsm.tokenBySecretHash(hashA)?.role).toBe("admin");
    // Even after the bootstrap token is revoked: once per cluster.
    h.ok(revoke("bootstrap"));
    expect(h.fail(bootstrap(hashC)).code).toBe("FAILED_PRECONDITION");
  });

  it("stores name, role, hash, creation, expiry and creator; finds a token by its hash; forgets a revoked one", () => {
    const h = new Harness();
    h.ok(bootstrap());
    const expiresAtMs = h.atMs + 60_000;
    h.ok(create("ci", "deployer", hashB, { expiresAtMs }), { clientId: "c", seq: 1, actor: "bootstrap" });
    const token = h.fsm.getToken("ci");
    expect(token).toEqual({
      name: "ci",
      role: "deployer",
      secretSha256: hashB,
      createdAtMs: h.atMs,
      expiresAtMs,
      createdBy: "bootstrap",
      region: "",
    });
    expect(h.fsm.tokenBySecretHash(hashB)?.name).toBe("ci");
    expect(h.fsm.listTokens().map((t) => t.name)).toEqual(["bootstrap", "ci"]);
    expect(h.ok(revoke("ci"))).toEqual({ kind: "token-revoke", name: "ci" });
    expect(h.fsm.tokenBySecretHash(hashB)).toBeUndefined();
    expect(h.fail(revoke("ci")).code).toBe("NOT_FOUND");
  });

  it("refuses bad tokens without changing anything", () => {
    const h = new Harness();
    h.ok(bootstrap());
    const refusals: [CommandBody, string][] = [
      [create("ci", "root", hashB), "INVALID_ARGUMENT"],
      [create("Bad_Name", "viewer", hashB), "INVALID_ARGUMENT"],
      [create("ci", "viewer", "not-a-hash"), "INVALID_ARGUMENT"],
      [create("ci", "agent", hashB), "INVALID_ARGUMENT"],
      [create("ci", "agent", hashB, { region: "mars-1" }), "INVALID_ARGUMENT"],
      [create("ci", "viewer", hashB, { region: "eu-west-1" }), "INVALID_ARGUMENT"],
      [create("ci", "viewer", hashB, { expiresAtMs: 1 }), "INVALID_ARGUMENT"],
      [create("bootstrap", "viewer", hashB), "ALREADY_EXISTS"],
      [create("ci", "viewer", hashA), "ALREADY_EXISTS"],
    ];
    for (const [command, code] of refusals) expect(h.fail(command).code, JSON.stringify(command)).toBe(code);
    expect(h.fsm.listTokens().map((t) => t.name)).toEqual(["bootstrap"]);
    h.ok(create("agent-eu", "agent", hashB, { region: "eu-west-1" }));
    expect(h.fsm.getToken("agent-eu")?.region).toBe("eu-west-1");
  });

  it("survives a snapshot: tokens, their order, the bootstrap, byte for byte", () => {
    const h = new Harness();
    h.ok(bootstrap());
    h.ok(create("ci", "deployer", hashB, { expiresAtMs: h.atMs + 60_000 }), {
      clientId: "c",
      seq: 1,
      actor: "bootstrap",
    });
    h.ok(create("agent-eu", "agent", hashC, { region: "eu-west-1" }));
    const bytes = h.fsm.snapshot();
    expect(FsmSnapshot.decode(bytes).tokens.map((t) => t.name)).toEqual(["bootstrap", "ci", "agent-eu"]);
    expect(FsmSnapshot.decode(bytes).aclBootstrappedRevision).toBe(1);
    expect(FsmSnapshot.decode(bytes).formatVersion).toBe(snapshotFormatVersion);
    const restored = new ClusterFsm();
    restored.restore(bytes);
    expect(restored.listTokens()).toEqual(h.fsm.listTokens());
    expect(restored.tokenBySecretHash(hashC)?.name).toBe("agent-eu");
    expect(restored.aclBootstrappedRevision).toBe(1);
    expectSameBytes(restored.snapshot(), bytes);
    // The restored replica applies what follows exactly like the original.
    const next = new Harness();
    next.fsm.restore(bytes);
    next.index = h.index;
    next.atMs = h.atMs;
    expect(next.fail(bootstrap(hashB)).code).toBe("FAILED_PRECONDITION");
    expect(h.fail(bootstrap(hashB)).code).toBe("FAILED_PRECONDITION");
    expectSameBytes(next.fsm.snapshot(), h.fsm.snapshot());
  });

  it("reads a format-3 snapshot (before tokens) as a cluster never bootstrapped", () => {
    const h = new Harness();
    h.ok(body.register("n1", "us-east-1", 4000, 8192));
    const message = FsmSnapshot.decode(h.fsm.snapshot());
    const old = FsmSnapshot.encode({ ...message, formatVersion: 3 }).finish();
    const restored = new ClusterFsm();
    restored.restore(old);
    expect(restored.getNode("n1")?.region).toBe("us-east-1");
    expect(restored.aclBootstrappedRevision).toBe(0);
    expect(restored.listTokens()).toEqual([]);
  });
});

describe("the audit actor", () => {
  it("is written into every event the command makes, and kept by the snapshot", () => {
    const h = new Harness();
    h.ok(body.register("n1", "us-east-1", 4000, 8192), { clientId: "", seq: 0, actor: "leader" });
    h.ok(body.deploy({ replicas: 1 }), { clientId: "cli-1", seq: 1, actor: "alice" });
    h.ok(body.scale("web", 2), { clientId: "cli-2", seq: 1 });
    const events = h.fsm.events();
    expect(events.find((e) => e.kind === "node-registered")?.actor).toBe("leader");
    expect(events.find((e) => e.kind === "deployed")?.actor).toBe("alice");
    // No actor in the envelope (an older entry): the event names none, the version history the client id.
    expect(events.find((e) => e.kind === "scaled")?.actor).toBe("");
    expect(h.fsm.getDeploymentRecord("web")?.history[0].actor).toBe("alice");
    const restored = new ClusterFsm();
    restored.restore(h.fsm.snapshot());
    expect(restored.events().map((e) => e.actor)).toEqual(events.map((e) => e.actor));
  });

  it("refuses an actor beyond its bound", () => {
    const h = new Harness();
    expect(h.fail(body.deploy(), { clientId: "c", seq: 1, actor: "x".repeat(129) }).code).toBe("INVALID_ARGUMENT");
  });
});

describe("roles", () => {
  it("orders people's roles and keeps the agent role apart", () => {
    expect(roleAllows("admin", "viewer")).toBe(true);
    expect(roleAllows("operator", "deployer")).toBe(true);
    expect(roleAllows("deployer", "operator")).toBe(false);
    expect(roleAllows("viewer", "deployer")).toBe(false);
    expect(roleAllows("admin", "agent")).toBe(false);
    expect(roleAllows("agent", "viewer")).toBe(false);
    expect(roleAllows("agent", "agent")).toBe(true);
  });
});
