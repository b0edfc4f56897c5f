import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../dev/local-cluster/free-port.js";
import { TestCluster, waitFor, within, type CliResult, type LeaderView } from "./harness.js";

/**
 * The compiled orchctl (dist/src/cli/main.js) as a real process against a real cluster: the
 * subcommands, the seed's -flag=value form, and the exit statuses 0 (success), 1 (the cluster
 * said no, or could not be reached) and 2 (usage error).
 */

const cliEntry = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../dist/src/cli/main.js");
/** orchctl processes still running, by PID, so a failed test cannot leave one behind. */
const cliPids = new Set<number>();

let cluster: TestCluster;
let leader: LeaderView;
let follower: string;

/** Runs orchctl as a process; resolves with its exit status and output. */
function orchctlProcess(args: readonly string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliEntry, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { PATH: process.env.PATH ?? "", ...env },
    });
    const pid = child.pid;
    if (pid !== undefined) cliPids.add(pid);
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (text: string) => (stdout += text));
    child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
    child.once("error", reject);
    child.once("close", (code, signal) => {
      if (pid !== undefined) cliPids.delete(pid);
      if (code === null) reject(new Error(`orchctl ${args.join(" ")} was killed by ${signal}; stderr: ${stderr}`));
      else resolve({ code, stdout, stderr });
    });
  });
}

/** orchctl through a follower's endpoint only, so every write must follow the leader redirect. */
function viaFollower(args: readonly string[]): Promise<CliResult> {
  return within(
    `orchctl ${args.join(" ")}`,
    45_000,
    orchctlProcess(["--endpoints", cluster.apiAddress(follower), ...args]),
  );
}

function expectExit(result: CliResult, code: 0 | 1 | 2): void {
  expect(result.code, `exit status; stdout: ${result.stdout}\nstderr: ${result.stderr}`).toBe(code);
}

beforeAll(async () => {
  expect(existsSync(cliEntry), `${cliEntry} missing: run npm run build`).toBe(true);
  cluster = await TestCluster.start({ name: "orchctl" });
  leader = await cluster.waitForLeader();
  follower = cluster.followersOf(leader.leaderId)[0];
}, 60_000);

afterEach(async (context) => {
  for (const pid of cliPids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
  if (context.task.result?.state === "fail") await cluster.dumpLogs();
});

afterAll(async () => {
  await cluster?.close();
}, 60_000);

describe("orchctl as a process", () => {
  it("cluster shows the leader, whichever replica answers", async () => {
    const json = await viaFollower(["cluster", "-o", "json"]);
    expectExit(json, 0);
    expect(JSON.parse(json.stdout)).toMatchObject({
      replicaId: follower,
      role: "follower",
      leaderId: leader.leaderId,
      term: leader.term,
    });
    const table = await viaFollower(["cluster"]);
    expectExit(table, 0);
    expect(table.stdout).toMatch(
      new RegExp(`Leader:?\\s+${leader.leaderId} \\(${cluster.apiAddress(leader.leaderId)}\\)`),
    );
    expect(table.stdout).toMatch(/ID\s+ROLE\s+API-ADDRESS/);
  });

  it("deploy, list, get, scale and delete through a follower", async () => {
    const deploy = await viaFollower([
      "deploy",
      "demo-web",
      "--image",
      "nginx:1.27",
      "--replicas",
      "2",
      "--cpu",
      "500m",
      "--memory",
      "256Mi",
    ]);
    expectExit(deploy, 0);
    expect(deploy.stdout).toMatch(/^deployment demo-web created \(version 1, revision \d+\)$/m);

    const again = await viaFollower([
      "deploy",
      "demo-web",
      "--image",
      "nginx:1.27",
      "--replicas",
      "2",
      "--cpu",
      "500m",
      "--memory",
      "256Mi",
    ]);
    expectExit(again, 0);
    expect(again.stdout).toMatch(/deployment demo-web unchanged/);

    const list = await viaFollower(["list"]);
    expectExit(list, 0);
    expect(list.stdout).toMatch(/NAME\s+IMAGE\s+READY/);
    expect(list.stdout).toMatch(/demo-web\s+nginx:1\.27\s+0\/2/);

    const get = await viaFollower(["get", "demo-web", "-o", "json"]);
    expectExit(get, 0);
    expect(JSON.stringify(JSON.parse(get.stdout))).toMatch(/"name":"demo-web"/);
    expect(get.stdout).toMatch(/"replicas": 2/);
    expect(get.stdout).toMatch(/"cpuMillicores": 500/);
    expect(get.stdout).toMatch(/"memoryMib": 256/);

    const scale = await viaFollower(["scale", "demo-web", "4"]);
    expectExit(scale, 0);
    expect(scale.stdout).toMatch(/deployment demo-web scaled to 4 replicas \(revision \d+\)/);
    const scaled = await viaFollower(["get", "demo-web", "-o", "json"]);
    expect(scaled.stdout).toMatch(/"replicas": 4/);

    const del = await viaFollower(["delete", "demo-web"]);
    expectExit(del, 0);
    const gone = await viaFollower(["get", "demo-web"]);
    expectExit(gone, 1);
    expect(gone.stderr).toContain("error: deployment demo-web not found; run `orchctl list` to see what exists");
  });

  it("the seed's flag form works end to end (cpu in cores, memory in MiB)", async () => {
    const server = `-server=${cluster.apiAddress(follower)}`;
    const deploy = await orchctlProcess([
      server,
      "-action=deploy",
      "-name=demo-app",
      "-image=nginx:latest",
      "-replicas=2",
      "-cpu=2",
      "-memory=1024",
    ]);
    expectExit(deploy, 0);
    expect(deploy.stdout).toMatch(/deployment demo-app created/);

    const get = await orchctlProcess([server, "-action=get", "-name=demo-app", "-output=json"]);
    expectExit(get, 0);
    expect(get.stdout).toMatch(/"image": "nginx:latest"/);
    expect(get.stdout).toMatch(/"replicas": 2/);
    expect(get.stdout).toMatch(/"cpuMillicores": 2000/);
    expect(get.stdout).toMatch(/"memoryMib": 1024/);

    const list = await orchctlProcess([server, "-action=list"]);
    expectExit(list, 0);
    expect(list.stdout).toMatch(/demo-app\s+nginx:latest/);

    expectExit(await orchctlProcess([server, "-action=scale", "-name=demo-app", "-replicas=3"]), 0);
    const scaled = await orchctlProcess([server, "-action=get", "-name=demo-app", "-output=json"]);
    expect(scaled.stdout).toMatch(/"replicas": 3/);
    expectExit(await orchctlProcess([server, "-action=delete", "-name=demo-app"]), 0);
    expectExit(await orchctlProcess([server, "-action=get", "-name=demo-app"]), 1);
  });

  it("ORCH_ENDPOINTS stands in for --endpoints", async () => {
    const result = await orchctlProcess(["cluster", "-o", "json"], { ORCH_ENDPOINTS: cluster.apiAddress(follower) });
    expectExit(result, 0);
    expect(JSON.parse(result.stdout)).toMatchObject({ replicaId: follower, leaderId: leader.leaderId });
  });

  it("exits 2 on usage errors, without calling the cluster", async () => {
    const results = await Promise.all([
      viaFollower(["deploy", "no-image"]),
      viaFollower(["deploy", "BadName", "--image", "nginx:1"]),
      viaFollower(["deploy", "web", "--image", "nginx:1", "--replicas", "lots"]),
      viaFollower(["deploy", "web", "--image", "nginx:1", "--cpu", "two"]),
      viaFollower(["scale", "web"]),
      viaFollower(["frobnicate"]),
      orchctlProcess([`-server=${cluster.apiAddress(follower)}`, "-action=explode"]),
    ]);
    for (const result of results) expectExit(result, 2);
    expect(results[0].stderr).toMatch(/required option '--image <image>' not specified/);
    expect(results[1].stderr).toMatch(/"BadName" is not a valid deployment name: use lowercase letters/);
    expect(results[2].stderr).toMatch(/replicas must be a whole number/);
    expect(results[6].stderr).toMatch(/explode/);
    // Nothing reached the cluster.
    const list = await viaFollower(["list", "-o", "json"]);
    expect(list.stdout).not.toMatch(/"name": "(no-image|web)"/);
  });

  it("exits 1 when the cluster refuses, with the reason; --output json carries it as one JSON document", async () => {
    expectExit(await viaFollower(["deploy", "taken", "--image", "nginx:1.27"]), 0);
    const configured = await viaFollower(["deploy", "taken", "--image", "nginx:1.28"]);
    expectExit(configured, 0);
    expect(configured.stdout).toMatch(/deployment taken configured \(version 2, revision \d+\)/);
    const badPolicy = await viaFollower(["deploy", "taken", "--image", "nginx:1.29", "--canary", "5"]);
    expectExit(badPolicy, 1);
    expect(badPolicy.stderr).toMatch(/error: deployment taken update\.canary must be 0\.\.replicas \(1\), got 5/);

    const tooMany = await viaFollower(["deploy", "huge", "--image", "nginx:1.27", "--replicas", "10001"]);
    expectExit(tooMany, 1);
    expect(tooMany.stderr).toMatch(/replicas must be a whole number from 0 to 10000, got 10001/);

    const missing = await viaFollower(["scale", "nothing-here", "3", "-o", "json"]);
    expectExit(missing, 1);
    const body = JSON.parse(missing.stdout) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("NOT_FOUND");
    expect(body.error.message).toMatch(/deployment nothing-here not found/);
  });

  it("exits 1 when no replica can be reached, naming what it tried", async () => {
    const nobody = `127.0.0.1:${await freePort()}`;
    const result = await within(
      "orchctl against a closed port",
      30_000,
      orchctlProcess(["--endpoints", nobody, "--timeout", "2", "list"]),
    );
    expectExit(result, 1);
    expect(result.stderr).toMatch(/error: no replica could serve the request in \d+\.\ds/);
    expect(result.stderr).toContain(nobody);
    // The cluster itself is fine.
    await waitFor("the cluster to answer", async () => (await viaFollower(["list"])).code === 0);
  });
});
