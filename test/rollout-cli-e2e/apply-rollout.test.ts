/**
 * The built orchctl (dist/src/cli/main.js) as real processes against 3 replicas and their
 * agents: apply is idempotent, plan changes nothing, a stale check index is refused, undo to a
 * missing version is NOT_FOUND, and promote/pause/resume are accepted and recorded.
 *
 * The leader's rollout controller is not part of this build, so a rollout does not move on its
 * own here; the canary-to-success test is written for when it is, and skipped until then.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GetDeploymentRequest } from "../../src/gen/orchestrator/v1/orchestrator.js";
import type { Deployment } from "../../src/gen/orchestrator/v1/types.js";
import { waitFor, within, type CliResult } from "../cluster/harness.js";
import { HealthCluster } from "../health-e2e/harness.js";

const cliEntry = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../dist/src/cli/main.js");

let c: HealthCluster;

function orchctl(...args: string[]): Promise<CliResult> {
  const run = new Promise<CliResult>((resolve, reject) => {
    const child = spawn(process.execPath, [cliEntry, "--endpoints", c.cluster.endpoints(), ...args], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { PATH: process.env.PATH ?? "" },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (text: string) => (stdout += text));
    child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
    child.once("error", reject);
    child.once("close", (code, signal) =>
      code === null ? reject(new Error(`orchctl killed by ${signal}: ${stderr}`)) : resolve({ code, stdout, stderr }),
    );
  });
  return within(`orchctl ${args.join(" ")}`, 90_000, run);
}

function expectExit(result: CliResult, code: number): void {
  expect(result.code, `exit status; stdout: ${result.stdout}\nstderr: ${result.stderr}`).toBe(code);
}

async function deployment(name: string): Promise<Deployment> {
  const response = await c.call("getDeployment", GetDeploymentRequest.fromPartial({ name }));
  return response.deployment!;
}

/** What plan must not change: everything but the status counts and events, which health moves. */
function specShape(d: Deployment) {
  return { spec: d.spec, version: d.version, specRevision: d.specRevision, history: d.history, rollout: d.rollout };
}

function file(text: string): string {
  const p = path.join(mkdtempSync(path.join(tmpdir(), "orch-apply-")), "deployments.yaml");
  writeFileSync(p, text);
  return p;
}

const webFile = `deployments:
  - name: web
    image: web:1
    replicas: 2
    cpu: 100m
    memory: 64Mi
  - name: api
    image: api:1
    replicas: 1
    cpu: 100m
    memory: 64Mi
`;

beforeAll(async () => {
  expect(existsSync(cliEntry), `${cliEntry} missing: run npm run build`).toBe(true);
  c = await HealthCluster.start("rollout-cli", 1);
});

afterAll(async () => {
  await c?.close();
});

describe("orchctl apply / plan against a real cluster", () => {
  it("apply twice: the second time every deployment is unchanged", async () => {
    const path = file(webFile);
    const first = await orchctl("apply", "-f", path);
    expectExit(first, 0);
    expect(first.stdout).toBe("deployment web created\ndeployment api created\n");
    const second = await orchctl("apply", "-f", path);
    expectExit(second, 0);
    expect(second.stdout).toBe("deployment web unchanged\ndeployment api unchanged\n");
  });

  it("plan changes nothing and prints the diff, the placements and the check index", async () => {
    // Settled first: the health controller closes web's first operation (its version turns succeeded).
    await waitFor(
      "web's first version to be judged",
      async () => (await deployment("web")).history[0]?.outcome === "succeeded",
      {
        timeoutMs: 60_000,
      },
    );
    const before = specShape(await deployment("web"));
    const changed = file(webFile.replace("image: web:1", "image: web:2").replace("replicas: 1", "replicas: 2"));
    const plan = await orchctl("plan", "-f", changed);
    expectExit(plan, 0);
    expect(plan.stdout).toContain("deployment web: configured\n  ~ image: web:1 -> web:2");
    expect(plan.stdout).toContain("deployment api: configured\n  ~ replicas: 1 -> 2");
    expect(plan.stdout).toMatch(/api-1 -> \S+/);
    expect(plan.stdout).toMatch(/check-index: \d+\n$/);
    expect(specShape(await deployment("web"))).toEqual(before);
    expect((await deployment("web")).history).toHaveLength(1);
  });

  it("a stale check index is refused with FAILED_PRECONDITION (exit 1); a fresh one applies", async () => {
    const changed = file(webFile.replace("replicas: 1", "replicas: 2"));
    const plan = await orchctl("plan", "-f", changed, "-o", "json");
    expectExit(plan, 0);
    const checkIndex = String(JSON.parse(plan.stdout).checkIndex);
    expectExit(await orchctl("scale", "web", "3"), 0);
    const stale = await orchctl("apply", "-f", changed, "--check-index", checkIndex, "-o", "json");
    expectExit(stale, 1);
    expect(JSON.parse(stale.stdout).error.code).toBe("FAILED_PRECONDITION");
    expect((await deployment("api")).spec?.replicas).toBe(1);
    const fresh = JSON.parse((await orchctl("plan", "-f", changed, "-o", "json")).stdout).checkIndex as number;
    const applied = await orchctl("apply", "-f", changed, "--check-index", String(fresh));
    expectExit(applied, 0);
    expect(applied.stdout).toBe("deployment web configured\ndeployment api configured\n");
  });
});

describe("orchctl rollout against a real cluster", () => {
  it("undo to a version not in the history is NOT_FOUND; a rollout command without a rollout says so", async () => {
    const undo = await orchctl("rollout", "undo", "api", "--to-version", "9", "-o", "json");
    expectExit(undo, 1);
    expect(JSON.parse(undo.stdout).error.code).toBe("NOT_FOUND");
    const promote = await orchctl("rollout", "promote", "api");
    expectExit(promote, 1);
    expect(promote.stderr).toContain("has no rollout in progress");
  });

  it("deploy v2 with --canary 1: promote, pause and resume are accepted and recorded", async () => {
    expectExit(
      await orchctl(
        "deploy",
        "cn",
        "--image",
        "cn:1",
        "--replicas",
        "2",
        "--cpu",
        "100m",
        "--memory",
        "64Mi",
        "--wait",
      ),
      0,
    );
    const v2 = await orchctl(
      "deploy",
      "cn",
      "--image",
      "cn:2",
      "--replicas",
      "2",
      "--cpu",
      "100m",
      "--memory",
      "64Mi",
      "--canary",
      "1",
    );
    expectExit(v2, 0);
    expect(v2.stdout).toContain("deployment cn configured (version 2");
    // The rollout controller starts the canary and waits for a person.
    await waitFor(
      "cn's canary to await promotion",
      async () => (await deployment("cn")).rollout?.state === "awaiting-promotion",
      {
        timeoutMs: 60_000,
      },
    );
    const status = await orchctl("rollout", "status", "cn", "--no-follow");
    expectExit(status, 0);
    expect(status.stdout).toMatch(/Rollout:\s+v1 -> v2/);
    expect(status.stdout).toMatch(/Promoted:\s+no/);
    const early = await orchctl("rollout", "pause", "cn");
    expectExit(early, 1);
    expect(early.stderr).toContain("already waiting for promotion");

    expectExit(await orchctl("rollout", "promote", "cn"), 0);
    expect((await deployment("cn")).rollout?.promoted).toBe(true);
    // The rest waits 5 s (the default min healthy time) per step: time to pause it.
    expectExit(await orchctl("rollout", "pause", "cn"), 0);
    expect((await deployment("cn")).rollout).toMatchObject({ state: "paused", pausedBy: "operator" });
    expectExit(await orchctl("rollout", "resume", "cn"), 0);
    expect((await deployment("cn")).rollout?.pausedBy).toBe("");
    const kinds = (
      await c.call("getDeployment", GetDeploymentRequest.fromPartial({ name: "cn" }))
    ).deployment!.recentEvents.map((e) => e.kind);
    expect(kinds).toEqual(expect.arrayContaining(["rollout-paused", "rollout-resumed", "rollout-promoted"]));
    const history = await orchctl("rollout", "history", "cn");
    expectExit(history, 0);
    expect(history.stdout).toMatch(/\n2\s+\S+\s+\S+\s+deploy\s+(pending|succeeded)\s+cn:2\n$/);
  });

  it("canary: v2 with --canary 1 awaits promotion; rollout promote continues and it succeeds", async () => {
    expectExit(
      await orchctl(
        "deploy",
        "cy",
        "--image",
        "cy:1",
        "--replicas",
        "3",
        "--cpu",
        "100m",
        "--memory",
        "64Mi",
        "--wait",
      ),
      0,
    );
    expectExit(
      await orchctl(
        "deploy",
        "cy",
        "--image",
        "cy:2",
        "--replicas",
        "3",
        "--cpu",
        "100m",
        "--memory",
        "64Mi",
        "--canary",
        "1",
        "--min-healthy-time",
        "1s",
      ),
      0,
    );
    await waitFor(
      "cy's canary to await promotion",
      async () => (await deployment("cy")).rollout?.state === "awaiting-promotion",
      {
        timeoutMs: 60_000,
      },
    );
    const waiting = await orchctl("rollout", "status", "cy", "--no-follow");
    expect(waiting.stdout).toMatch(/State:\s+awaiting-promotion/);
    expectExit(await orchctl("rollout", "promote", "cy"), 0);
    const done = await orchctl("rollout", "status", "cy", "--timeout", "120");
    expectExit(done, 0);
    expect(done.stdout).toContain("rollout of cy to v2 succeeded");
    expect((await deployment("cy")).history.at(-1)?.outcome).toBe("succeeded");
  });
});
