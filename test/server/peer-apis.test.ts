import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

/**
 * The compiled `orchestrator` refuses, before it opens anything, an API address whose port is
 * not a TCP port: derived from Raft ports far from the default layout (700i -> 5005i) or given.
 */
const serverEntry = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../dist/src/server/main.js");
const dataDir = mkdtempSync(path.join(os.tmpdir(), "orch-peer-apis-"));

afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

function orchestrator(args: readonly string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [serverEntry, "--data-dir", path.join(dataDir, "r1"), ...args], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
    child.once("error", reject);
    // Generous: it should exit while parsing its flags, long before this.
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

// Data only: the replica refuses these while parsing its flags and never binds or dials them.
const randomRaftPeers = "r1=127.0.0.1:35001,r2=127.0.0.1:35002,r3=127.0.0.1:35003";

describe("orchestrator --peer-apis", () => {
  it("is built", () => {
    expect(existsSync(serverEntry), `${serverEntry} missing: run npm run build`).toBe(true);
  });

  it("refuses API ports derived past 65535 and tells the operator to pass --peer-apis", async () => {
    const { code, stderr } = await orchestrator(["--id", "r1", "--peers", randomRaftPeers]);
    expect(code).toBe(2);
    expect(stderr).toContain("127.0.0.1:35001");
    expect(stderr).toContain("78051");
    expect(stderr).toContain("outside 1..65535");
    expect(stderr).toContain("pass --peer-apis");
  });

  it("refuses a given API address whose port is out of range", async () => {
    const { code, stderr } = await orchestrator([
      "--id",
      "r1",
      "--peers",
      randomRaftPeers,
      "--peer-apis",
      "r1=127.0.0.1:80723,r2=127.0.0.1:25002,r3=127.0.0.1:25003",
    ]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/--peer-apis: invalid address "127\.0\.0\.1:80723": port 80723 is outside 1\.\.65535/);
  });

  it("refuses --api with port 0, which no peer could reach", async () => {
    const { code, stderr } = await orchestrator([
      "--id",
      "r1",
      "--peers",
      randomRaftPeers,
      "--peer-apis",
      "r1=127.0.0.1:25001,r2=127.0.0.1:25002,r3=127.0.0.1:25003",
      "--api",
      "127.0.0.1:0",
    ]);
    expect(code).toBe(2);
    expect(stderr).toContain('--api: invalid address "127.0.0.1:0": port 0 is outside 1..65535');
  });
});
