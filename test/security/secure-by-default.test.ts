import { spawn } from "node:child_process";
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../dev/local-cluster/free-port.js";
import { serverEntry } from "../../dev/local-cluster/process-cluster.js";
import { killQuietly } from "../process-pids.js";
import { waitFor, within } from "../cluster/harness.js";

/** Without TLS a replica serves loopback only; anything else needs --insecure, which shows. */

let root: string;
const pids = new Set<number>();

interface Started {
  readonly exited: Promise<number | null>;
  readonly stderr: () => string;
  readonly pid: number | undefined;
}

async function startReplica(
  apiHost: string,
  extra: readonly string[],
  raftHost = "127.0.0.1",
): Promise<Started & { metrics: string }> {
  const raft = `${raftHost}:${await freePort("127.0.0.1")}`;
  const api = `${apiHost}:${await freePort("127.0.0.1")}`;
  const metrics = `127.0.0.1:${await freePort("127.0.0.1")}`;
  const child = spawn(
    process.execPath,
    [
      serverEntry(),
      "--id",
      "r1",
      "--peers",
      `r1=${raft}`,
      "--peer-apis",
      `r1=${api}`,
      "--api",
      api,
      "--metrics",
      metrics,
      "--data-dir",
      path.join(root, `data-${pids.size}`),
      ...extra,
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  if (child.pid !== undefined) pids.add(child.pid);
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => {
      if (child.pid !== undefined) pids.delete(child.pid);
      resolve(code);
    }),
  );
  return { exited, stderr: () => stderr, pid: child.pid, metrics };
}

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "orch-secure-default-"));
});

afterAll(async () => {
  for (const pid of pids) killQuietly(pid, "SIGKILL");
  await fs.rm(root, { recursive: true, force: true });
});

describe("secure by default", () => {
  it("refuses to serve 0.0.0.0 without TLS, naming --insecure", async () => {
    const replica = await startReplica("0.0.0.0", []);
    const code = await within("the replica to exit", 20_000, replica.exited);
    expect(code).toBe(2);
    expect(replica.stderr()).toMatch(/--api 0\.0\.0\.0:\d+ is not a loopback address/);
    expect(replica.stderr()).toContain("--insecure");
  });

  it("refuses a Raft address of 0.0.0.0 without TLS too", async () => {
    const replica = await startReplica("127.0.0.1", [], "0.0.0.0");
    const code = await within("the replica to exit", 20_000, replica.exited);
    expect(code).toBe(2);
    expect(replica.stderr()).toMatch(/--peers 0\.0\.0\.0:\d+ is not a loopback address/);
  });

  it("serves 0.0.0.0 with --insecure, warning at start and exporting orchestrator_insecure 1", async () => {
    const replica = await startReplica("0.0.0.0", ["--insecure"]);
    try {
      const value = await waitFor("orchestrator_insecure on /metrics", async () => {
        const body = await (await fetch(`http://${replica.metrics}/metrics`)).text();
        const line = body.split("\n").find((l) => l.startsWith("orchestrator_insecure"));
        return line === undefined ? undefined : Number(line.split(" ").at(-1));
      });
      expect(value).toBe(1);
      expect(replica.stderr()).toContain("started with --insecure");
    } finally {
      if (replica.pid !== undefined) killQuietly(replica.pid, "SIGKILL");
      await replica.exited;
    }
  });

  it("serves loopback without TLS and without --insecure, exporting orchestrator_insecure 0", async () => {
    const replica = await startReplica("127.0.0.1", []);
    try {
      const value = await waitFor("orchestrator_insecure on /metrics", async () => {
        const body = await (await fetch(`http://${replica.metrics}/metrics`)).text();
        const line = body.split("\n").find((l) => l.startsWith("orchestrator_insecure"));
        return line === undefined ? undefined : Number(line.split(" ").at(-1));
      });
      expect(value).toBe(0);
    } finally {
      if (replica.pid !== undefined) killQuietly(replica.pid, "SIGKILL");
      await replica.exited;
    }
  });
});
