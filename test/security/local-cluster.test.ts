import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readContextsFile } from "../../src/cli/config/contexts-store.js";
import { localAclEnabled } from "../../dev/local-cluster/local-security.js";
import { waitFor, within } from "../cluster/harness.js";
import { killQuietly, pidsKilledOnExit } from "../process-pids.js";

/**
 * `npm run cluster` is secure by default: on first start it makes a PKI under its data
 * directory, runs the replicas and the agents with mutual TLS, and writes an orchctl context
 * (current), so the built orchctl reaches it with nothing but the contexts file: no flag, no
 * ORCH_* variable. `--insecure` runs it in plaintext and says so in the context.
 */
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const clusterEntry = path.join(repo, "dist", "dev", "local-cluster", "cluster-main.js");
const cliEntry = path.join(repo, "dist", "src", "cli", "main.js");
const pids = pidsKilledOnExit();

let root: string;
let config: string;

interface Started {
  readonly child: ChildProcess;
  readonly stdout: () => string;
  readonly exited: Promise<number | null>;
}

function startCluster(args: readonly string[]): Started {
  const child = spawn(
    process.execPath,
    [clusterEntry, "--data", path.join(root, "data"), "--random-ports", "--replicas", "1", "--nodes", "1", ...args],
    { env: { PATH: process.env.PATH ?? "", ORCH_CONFIG: config }, stdio: ["ignore", "pipe", "pipe"] },
  );
  if (child.pid !== undefined) pids.add(child.pid);
  let out = "";
  child.stdout?.setEncoding("utf8").on("data", (text: string) => (out += text));
  child.stderr?.setEncoding("utf8").on("data", (text: string) => (out += text));
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => {
      if (child.pid !== undefined) pids.delete(child.pid);
      resolve(code);
    }),
  );
  return { child, stdout: () => out, exited };
}

async function stopCluster(started: Started): Promise<void> {
  if (started.child.pid !== undefined) killQuietly(started.child.pid, "SIGTERM");
  await within("the local cluster to stop", 30_000, started.exited);
}

/** The built orchctl with only the contexts file to go by. */
function orchctl(
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cliEntry, "--output", "json", ...args], {
      env: { PATH: process.env.PATH ?? "", ORCH_CONFIG: config, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (text: string) => (stdout += text));
    child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(() => {
  expect(existsSync(clusterEntry), `${clusterEntry} is missing: run npm run build`).toBe(true);
  root = mkdtempSync(path.join(os.tmpdir(), "orch-local-secure-"));
  config = path.join(root, "home", "config.yaml");
});
afterAll(() => {
  for (const pid of pids) killQuietly(pid, "SIGKILL");
  rmSync(root, { recursive: true, force: true });
});

describe("npm run cluster, secure by default", () => {
  it("makes a PKI, runs mutual TLS, and writes a current context orchctl uses with nothing exported", async () => {
    const started = startCluster([]);
    try {
      await waitFor("the context to be written", () => started.stdout().includes("made current"), {
        timeoutMs: 90_000,
        intervalMs: 200,
      });
      const pki = path.join(root, "data", "pki");
      for (const file of ["ca.pem", "r1.pem", "agent.pem", "admin.pem", "admin-key.pem"])
        expect(existsSync(path.join(pki, file)), file).toBe(true);
      expect(statSync(path.join(pki, "admin-key.pem")).mode & 0o777).toBe(0o600);
      expect(statSync(config).mode & 0o777).toBe(0o600);
      const contexts = readContextsFile(config);
      expect(contexts.currentContext).toBe("local");
      expect(contexts.contexts[0]).toMatchObject({
        name: "local",
        tls: { ca: path.join(pki, "ca.pem"), cert: path.join(pki, "admin.pem") },
        ...(localAclEnabled ? { tokenFile: path.join(root, "data", "acl-token") } : {}),
      });
      // The replica refuses a plaintext client: TLS is really on.
      const endpoint = contexts.contexts[0].endpoints[0];
      const plain = await orchctl(["--endpoints", endpoint, "--timeout", "2", "cluster"]);
      expect(plain.code).toBe(1);
      // Through the context: the cluster answers, and the agent (mutual TLS too) registered its node.
      const nodes = await waitFor(
        "the agents' nodes through the context",
        async () => {
          const result = await orchctl(["nodes"]);
          if (result.code !== 0) throw new Error(result.stderr);
          const listed = JSON.parse(result.stdout) as { nodes: unknown[] };
          return listed.nodes.length === 3 ? listed.nodes : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 500 },
      );
      expect(nodes).toHaveLength(3);
      const status = await orchctl(["cluster"]);
      expect(status.code, status.stderr).toBe(0);
      expect((JSON.parse(status.stdout) as { leaderId: string }).leaderId).toBe("r1");
      if (localAclEnabled) {
        // The bootstrapped token is what lets the context in: without it (an empty ORCH_TOKEN wins
        // over the context's token file) the same certificate is refused.
        expect(statSync(path.join(root, "data", "acl-token")).mode & 0o777).toBe(0o600);
        // (list, not cluster: ClusterStatus is public so that clients can find the leader.)
        const anonymous = await orchctl(["list"], { ORCH_TOKEN: "" });
        expect(anonymous.code).toBe(1);
        expect(anonymous.stdout).toContain("UNAUTHENTICATED");
      }
      // Reaching 127.0.0.1 over TLS makes Node warn about IP ServerNames; nobody can act on it.
      expect(status.stderr).not.toContain("DeprecationWarning");
    } finally {
      await stopCluster(started);
    }
    // A second start keeps the PKI (the replica keeps its identity).
    const ca = readFileSync(path.join(root, "data", "pki", "ca.pem"), "utf8");
    const again = startCluster([]);
    try {
      await waitFor("the second start", () => again.stdout().includes("made current"), { timeoutMs: 90_000 });
      expect(readFileSync(path.join(root, "data", "pki", "ca.pem"), "utf8")).toBe(ca);
    } finally {
      await stopCluster(again);
    }
  }, 240_000);

  it("runs in plaintext with --insecure, and the context says so", async () => {
    const started = startCluster(["--insecure", "--no-agents", "--context", "plain"]);
    try {
      await waitFor("the context to be written", () => started.stdout().includes("made current"), {
        timeoutMs: 90_000,
      });
      const contexts = readContextsFile(config);
      expect(contexts.currentContext).toBe("plain");
      const plain = contexts.contexts.find((c) => c.name === "plain");
      expect(plain?.tls).toBeUndefined();
      expect(plain?.tokenFile).toBeUndefined();
      const status = await waitFor(
        "a leader in plaintext",
        async () => {
          const result = await orchctl(["cluster"]);
          return result.code === 0 && (JSON.parse(result.stdout) as { leaderId: string }).leaderId !== ""
            ? result
            : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 500 },
      );
      expect(status.code).toBe(0);
    } finally {
      await stopCluster(started);
    }
  }, 120_000);
});
