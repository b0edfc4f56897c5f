import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { resolveConnection } from "../../src/cli/config/connection-settings.js";
import { parseContextsFile, renderContextsFile, withContext } from "../../src/cli/config/contexts-file.js";
import { contextsFilePath, readContextsFile, writeContextsFile } from "../../src/cli/config/contexts-store.js";
import { type FakeServer, deadAddress, runCli, startFakeServer } from "./fake-server.js";

let dir: string;
let file: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "orch-contexts-"));
  file = join(dir, "config.yaml");
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const tlsOf = (name: string) => ({
  ca: `/p/${name}/ca.pem`,
  cert: `/p/${name}/admin.pem`,
  key: `/p/${name}/admin-key.pem`,
});

function writeTwoContexts(current = "local"): void {
  writeContextsFile(file, {
    currentContext: current,
    contexts: [
      { name: "local", endpoints: ["127.0.0.1:50051", "127.0.0.1:50052"], tls: tlsOf("local"), token: "s3cret" },
      { name: "prod", endpoints: ["10.0.0.1:50051"], tls: tlsOf("prod"), tokenFile: join(dir, "prod-token") },
    ],
  });
  writeFileSync(join(dir, "prod-token"), "prod-secret\n", { mode: 0o600 });
}

describe("the contexts file", () => {
  it("round-trips through YAML, resolving relative paths against its directory", () => {
    const parsed = parseContextsFile(
      [
        "current_context: local",
        "contexts:",
        "  - name: local",
        "    endpoints: [127.0.0.1:50051, 127.0.0.1:50052]",
        "    tls: { ca: pki/ca.pem, cert: pki/admin.pem, key: /abs/admin-key.pem }",
        "    token_file: token",
      ].join("\n"),
      "/home/u/.config/orchestrator/config.yaml",
    );
    expect(parsed).toEqual({
      currentContext: "local",
      contexts: [
        {
          name: "local",
          endpoints: ["127.0.0.1:50051", "127.0.0.1:50052"],
          tls: {
            ca: "/home/u/.config/orchestrator/pki/ca.pem",
            cert: "/home/u/.config/orchestrator/pki/admin.pem",
            key: "/abs/admin-key.pem",
          },
          tokenFile: "/home/u/.config/orchestrator/token",
        },
      ],
    });
    expect(parseContextsFile(renderContextsFile(parsed), "/elsewhere/config.yaml")).toEqual(parsed);
  });

  it.each([
    ["contexts: [{name: a, endpoints: [x:1], tsl: {}}]", 'unknown field "tsl"'],
    ["contexts: [{name: a, endpoints: [nope]}]", 'invalid endpoint "nope"'],
    ["contexts: [{name: a, endpoints: [x:1], tls: {ca: c}}]", "tls needs all of ca, cert and key"],
    ["contexts: [{name: a, endpoints: [x:1], token: t, token_file: f}]", "token or token_file, not both"],
    ["contexts: [{name: a, endpoints: [x:1]}, {name: a, endpoints: [y:1]}]", 'context "a" appears twice'],
    ["contexts: [{name: 'a b', endpoints: [x:1]}]", "name must be letters"],
    ["current: a", 'unknown field "current"'],
    ["contexts: {a: 1}", "contexts must be a list"],
    ["[1, 2", "not valid YAML"],
  ])("refuses %j", (text, message) => {
    expect(() => parseContextsFile(text, "/c.yaml")).toThrow(message);
  });

  it("is written 0600 (a context may hold a token), atomically replacing the old one", () => {
    writeTwoContexts();
    expect(statSync(file).mode & 0o777).toBe(0o600);
    writeContextsFile(file, withContext(readContextsFile(file), { name: "new", endpoints: ["h:1"] }, true));
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const read = readContextsFile(file);
    expect(read.currentContext).toBe("new");
    expect(read.contexts.map((c) => c.name)).toEqual(["local", "prod", "new"]);
  });

  it("reads as empty when missing", () => {
    expect(readContextsFile(join(dir, "missing.yaml"))).toEqual({ contexts: [] });
  });

  it("lives at ORCH_CONFIG, else under XDG_CONFIG_HOME, else under HOME; nowhere with an empty environment", () => {
    expect(contextsFilePath({ ORCH_CONFIG: "/x/c.yaml", XDG_CONFIG_HOME: "/xdg", HOME: "/h" })).toBe("/x/c.yaml");
    expect(contextsFilePath({ XDG_CONFIG_HOME: "/xdg", HOME: "/h" })).toBe("/xdg/orchestrator/config.yaml");
    expect(contextsFilePath({ XDG_CONFIG_HOME: "relative", HOME: "/h" })).toBe("/h/.config/orchestrator/config.yaml");
    expect(contextsFilePath({})).toBeNull();
  });
});

describe("where orchctl connects: flags > environment > context > defaults", () => {
  it("uses the current context when nothing else is given", () => {
    writeTwoContexts();
    expect(resolveConnection({}, { ORCH_CONFIG: file })).toEqual({
      endpoints: ["127.0.0.1:50051", "127.0.0.1:50052"],
      tls: tlsOf("local"),
      tlsFromContext: true,
      token: "s3cret",
      context: "local",
    });
  });

  it("reads a context's token from its token file", () => {
    writeTwoContexts("prod");
    expect(resolveConnection({}, { ORCH_CONFIG: file }).token).toBe("prod-secret");
  });

  it("lets flags, then the environment, override the context setting by setting", () => {
    writeTwoContexts();
    const env = { ORCH_CONFIG: file, ORCH_TOKEN: "from-env", ORCH_CA: "/e/ca", ORCH_CERT: "/e/c", ORCH_KEY: "/e/k" };
    expect(resolveConnection({}, env)).toMatchObject({
      token: "from-env",
      tls: { ca: "/e/ca" },
      tlsFromContext: false,
      context: "local",
    });
    expect(resolveConnection({ token: "from-flag", tlsCa: "/f/ca" }, env)).toMatchObject({
      token: "from-flag",
      tls: { ca: "/f/ca", cert: "/e/c", key: "/e/k" },
    });
  });

  it("reads ORCH_TOKEN_FILE after --token and ORCH_TOKEN, before the context; empty means no token", () => {
    writeTwoContexts();
    const tokenFile = join(dir, "acl-token");
    writeFileSync(tokenFile, "  file-secret\n", { mode: 0o600 });
    const env = { ORCH_CONFIG: file, ORCH_TOKEN_FILE: tokenFile };
    expect(resolveConnection({}, env)).toMatchObject({ token: "file-secret", context: "local" });
    expect(resolveConnection({}, { ...env, ORCH_TOKEN: "from-env" }).token).toBe("from-env");
    expect(resolveConnection({ token: "from-flag" }, { ...env, ORCH_TOKEN: "from-env" }).token).toBe("from-flag");
    // Without a context too (the compose replicas' case: ORCH_ENDPOINTS and a bootstrap token file).
    expect(resolveConnection({}, { ORCH_ENDPOINTS: "r1:50051", ORCH_TOKEN_FILE: tokenFile })).toEqual({
      endpoints: ["r1:50051"],
      token: "file-secret",
    });
    // Set empty: no token at all, not the context's (one command can go without).
    expect(resolveConnection({}, { ...env, ORCH_TOKEN_FILE: "" }).token).toBeUndefined();
  });

  it("refuses a missing or oversized ORCH_TOKEN_FILE with a usage error naming it", async () => {
    const missing = join(dir, "no-token");
    expect(() => resolveConnection({}, { ORCH_TOKEN_FILE: missing })).toThrow(`ORCH_TOKEN_FILE=${missing}: ENOENT`);
    const big = join(dir, "big");
    writeFileSync(big, "x".repeat(64 * 1024 + 1));
    expect(() => resolveConnection({}, { ORCH_TOKEN_FILE: big })).toThrow(
      `ORCH_TOKEN_FILE=${big}: larger than 65536 bytes; is it a token file?`,
    );
    const cli = await runCli(["--endpoints", await deadAddress(), "list"], { env: { ORCH_TOKEN_FILE: missing } });
    expect(cli.code).toBe(2);
    expect(cli.stderr).toContain(`ORCH_TOKEN_FILE=${missing}`);
  });

  it("applies no context when --endpoints or ORCH_ENDPOINTS names another cluster", () => {
    writeTwoContexts();
    for (const [flags, env] of [
      [{ endpoints: "10.9.9.9:1" }, { ORCH_CONFIG: file }],
      [{}, { ORCH_CONFIG: file, ORCH_ENDPOINTS: "10.9.9.9:1" }],
    ] as const)
      expect(resolveConnection(flags, env)).toEqual({ endpoints: ["10.9.9.9:1"] });
  });

  it("applies the context --context names, with the flags still first", () => {
    writeTwoContexts();
    expect(resolveConnection({ context: "prod" }, { ORCH_CONFIG: file, ORCH_ENDPOINTS: "10.9.9.9:1" })).toMatchObject({
      endpoints: ["10.9.9.9:1"],
      tls: tlsOf("prod"),
      context: "prod",
    });
    expect(resolveConnection({ context: "prod", endpoints: "10.1.1.1:5" }, { ORCH_CONFIG: file })).toMatchObject({
      endpoints: ["10.1.1.1:5"],
      token: "prod-secret",
    });
    expect(() => resolveConnection({ context: "nope" }, { ORCH_CONFIG: file })).toThrow(
      'no context named "nope" in ' + file + " (known: local, prod)",
    );
  });

  it("falls back to the defaults without a file, and without an environment at all", () => {
    expect(resolveConnection({}, { ORCH_CONFIG: join(dir, "none.yaml") })).toEqual({ endpoints: ["127.0.0.1:50051"] });
    expect(resolveConnection({}, {})).toEqual({ endpoints: ["127.0.0.1:50051"] });
  });

  it("says so when the current context is missing from the file or its token file is gone", () => {
    writeContextsFile(file, { currentContext: "gone", contexts: [{ name: "a", endpoints: ["h:1"] }] });
    expect(() => resolveConnection({}, { ORCH_CONFIG: file })).toThrow('the current context "gone" is not in the file');
    writeContextsFile(file, { currentContext: "a", contexts: [{ name: "a", endpoints: ["h:1"], tokenFile: "/no/t" }] });
    expect(() => resolveConnection({}, { ORCH_CONFIG: file })).toThrow('token_file /no/t of context "a"');
  });
});

describe("orchctl config", () => {
  let server: FakeServer;
  beforeAll(async () => {
    server = await startFakeServer({
      listDeployments: (_call, callback) => callback(null, { deployments: [], revision: 0 }),
    });
  });
  afterAll(() => server.stop());

  it("get-contexts marks the current one and never prints a token", async () => {
    writeTwoContexts();
    const table = await runCli(["config", "get-contexts"], { env: { ORCH_CONFIG: file } });
    expect(table.code).toBe(0);
    expect(table.stdout.split("\n")).toEqual([
      "CURRENT   NAME    ENDPOINTS                         TLS   TOKEN",
      "*         local   127.0.0.1:50051,127.0.0.1:50052   yes   inline",
      "          prod    10.0.0.1:50051                    yes   file",
      "",
    ]);
    const json = await runCli(["config", "get-contexts", "-o", "json"], { env: { ORCH_CONFIG: file } });
    expect(json.stdout).not.toContain("s3cret");
    expect(JSON.parse(json.stdout)).toMatchObject({ currentContext: "local", contexts: [{ name: "local" }, {}] });
  });

  it("use-context switches, current-context says which; an unknown name is NOT_FOUND", async () => {
    writeTwoContexts();
    const env = { ORCH_CONFIG: file };
    expect(await runCli(["config", "use-context", "prod"], { env })).toMatchObject({ code: 0 });
    expect((await runCli(["config", "current-context"], { env })).stdout).toBe("prod\n");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const unknown = await runCli(["config", "use-context", "staging", "-o", "json"], { env });
    expect(unknown.code).toBe(1);
    expect(JSON.parse(unknown.stdout)).toMatchObject({
      error: { code: "NOT_FOUND", message: expect.stringContaining('no context named "staging"') as unknown },
    });
    expect((await runCli(["config", "current-context"], { env })).stdout).toBe("prod\n");
  });

  it("names the context whose certificate files are gone", async () => {
    writeTwoContexts();
    const result = await runCli(["list"], { env: { ORCH_CONFIG: file } });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('error: context "local": --tls-ca /p/local/ca.pem: ENOENT');
  });

  it("current-context without one is NOT_FOUND; a broken file is a usage error naming it", async () => {
    expect((await runCli(["config", "current-context"], { env: { ORCH_CONFIG: file } })).code).toBe(1);
    writeFileSync(file, "contexts: [{name: a, endpoints: [x:1], bogus: 1}]\n");
    const broken = await runCli(["list"], { env: { ORCH_CONFIG: file } });
    expect(broken.code).toBe(2);
    expect(broken.stderr).toContain(`${file}: contexts[0]: unknown field "bogus"`);
    // An explicit --endpoints does not need the file at all.
    expect((await runCli(["--endpoints", server.address, "list"], { env: { ORCH_CONFIG: file } })).code).toBe(0);
  });

  it("set-context saves the flags; commands then reach the cluster through it, or elsewhere with --endpoints", async () => {
    const env = { ORCH_CONFIG: file };
    const saved = await runCli(["--endpoints", server.address, "config", "set-context", "fake", "--use"], { env });
    expect(saved.code, saved.stderr).toBe(0);
    const before = server.callsTo("listDeployments").length;
    const listed = await runCli(["list"], { env });
    expect(listed.code, listed.stderr).toBe(0);
    expect(server.callsTo("listDeployments").length).toBe(before + 1);
    const dead = await deadAddress();
    const elsewhere = await runCli(["--timeout", "1", "list"], { env: { ...env, ORCH_ENDPOINTS: dead } });
    expect(elsewhere.code).toBe(1);
    expect(elsewhere.stderr).toContain(dead);
    expect(server.callsTo("listDeployments").length).toBe(before + 1);
    expect(readFileSync(file, "utf8")).toContain("current_context: fake");
  });
});
