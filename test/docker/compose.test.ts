/**
 * cluster/docker-compose.yml and the Dockerfile, run for real: the image is built on a stand-in
 * Node base made offline from this machine's Node (node-base.ts, test-only), the control plane
 * and an agent come up with compose, a leader is elected, a deployment goes in through
 * `docker-compose exec`, the leader's container is killed and the cluster carries on. Everything
 * runs with mutual TLS from the PKI the one-shot `pki` service makes; a plaintext client is refused.
 * The replicas run with --acl: the one-shot `acl-bootstrap` service writes the admin token that
 * orchctl in the replicas' containers reads (ORCH_TOKEN_FILE); without it a deployment is refused.
 *
 * Only the services that need no pull run (Prometheus and Grafana are official images this
 * machine cannot fetch), without their host ports (the compose network is all the test uses).
 * Skipped with SKIP_DOCKER=1 or SKIP_COMPOSE=1.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { waitFor } from "../cluster/harness.js";
import { ensureImage, skipDocker, startEngine, type DockerEngine } from "./engine.js";
import { nodeBaseChanges, nodeBaseImage, nodeBaseRootfs } from "./node-base.js";

const run = promisify(execFile);
const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const kept = ["pki", "acl-bootstrap", "r1", "r2", "r3", "agent-us-east-1"];
const replicas = ["r1", "r2", "r3"];
const skip = skipDocker || process.env["SKIP_COMPOSE"] === "1";

interface Service {
  build?: { context: string; args?: Record<string, string>; network?: string };
  ports?: unknown;
  image?: string;
  depends_on?: string[] | Record<string, { condition: string }>;
}

describe.skipIf(skip)("the compose cluster", () => {
  let engine: DockerEngine;
  let dir: string;
  let file: string;
  const project = `orchcompose${process.pid}`;

  async function compose(args: readonly string[], timeoutMs = 600_000): Promise<string> {
    const { stdout } = await run("docker-compose", ["-f", file, "-p", project, ...args], {
      env: { ...process.env, DOCKER_HOST: engine.host },
      timeout: timeoutMs,
      maxBuffer: 64 * 1024 * 1024,
    });
    return stdout;
  }

  async function ctl<T>(service: string, args: readonly string[]): Promise<T> {
    let out: string;
    try {
      out = await compose(["exec", "-T", service, "orchctl", "--output", "json", ...args], 30_000);
    } catch (error) {
      // orchctl --output json reports its errors on stdout: say them.
      const said = (error as { stdout?: string }).stdout ?? "";
      throw new Error(`orchctl ${args.join(" ")} on ${service} failed: ${said.trim() || String(error)}`, {
        cause: error,
      });
    }
    return JSON.parse(out) as T;
  }

  beforeAll(async () => {
    engine = await startEngine();
    await ensureImage(engine, nodeBaseImage, nodeBaseRootfs, nodeBaseChanges);
    dir = await mkdtemp(join(tmpdir(), "orch-compose-"));
    const original = parse(await readFile(join(repo, "cluster/docker-compose.yml"), "utf8"), { merge: true }) as {
      services: Record<string, Service>;
      volumes: Record<string, unknown>;
    };
    const services: Record<string, Service> = {};
    for (const name of kept) {
      const service = { ...original.services[name] };
      delete service.ports;
      service.image = "orch-test/microorchestrator:compose";
      service.build = {
        ...service.build,
        context: repo,
        args: { BASE_IMAGE: nodeBaseImage },
        // The engine has no default bridge: the build reaches the npm registry on the host network.
        network: "host",
      };
      services[name] = service;
    }
    const volumes = Object.fromEntries(
      ["pki", "pki-ca", "acl", "r1-data", "r2-data", "r3-data"].map((v) => [v, original.volumes[v] ?? null]),
    );
    file = join(dir, "docker-compose.yml");
    // YAML 1.1, as docker-compose reads it: the pki service's `restart: "no"` must stay quoted.
    await writeFile(file, stringify({ version: "2.4", services, volumes }, { version: "1.1" }));
    // A cold build runs npm ci and tsc on vfs storage: on a loaded two-core machine it has taken
    // over nine minutes, and docker-compose builds the image once per service (the rest from cache).
    await compose(["build"], 1_080_000);
    await compose(["up", "-d"]);
    // orchctl in the replicas reads the token acl-bootstrap writes once a leader answers: wait
    // for that one-shot to exit, and fail at once (with its output) if it did not succeed.
    const state = await waitFor(
      "acl-bootstrap to finish",
      async () => {
        const id = (await compose(["ps", "-q", "acl-bootstrap"], 30_000)).trim();
        if (id === "") return undefined;
        const [status, code] = (await engine.docker(["inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", id]))
          .trim()
          .split(" ");
        return status === "exited" ? code : undefined;
      },
      { timeoutMs: 240_000, intervalMs: 1_000 },
    );
    if (state !== "0")
      throw new Error(`acl-bootstrap exited ${state}:\n${await compose(["logs", "--no-color", "acl-bootstrap"])}`);
  }, 1_500_000);

  afterAll(async () => {
    if (file !== undefined) await compose(["down", "-v", "--remove-orphans"]).catch(() => "");
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    await engine?.stop();
  }, 120_000);

  it("elects a leader, takes a deployment through exec, and carries on when the leader's container is killed", async () => {
    const leaderOf = async (service: string): Promise<string | undefined> => {
      const status = await ctl<{ leaderId: string }>(service, ["cluster"]);
      return status.leaderId === "" ? undefined : status.leaderId;
    };
    const leader = await waitFor("a leader", () => leaderOf("r1"), { timeoutMs: 120_000, intervalMs: 1_000 });
    // Mutual TLS is on: the same orchctl without its certificate is refused.
    const plaintext = await compose(
      [
        "exec",
        "-T",
        "-e",
        "ORCH_CA=",
        "-e",
        "ORCH_CERT=",
        "-e",
        "ORCH_KEY=",
        leader,
        "orchctl",
        "--timeout",
        "3",
        "cluster",
      ],
      30_000,
    ).then(
      () => "answered",
      () => "refused",
    );
    expect(plaintext).toBe("refused");
    // ACLs are on: with its certificate but without the bootstrapped token, orchctl may not deploy.
    const tokenless = await compose(
      ["exec", "-T", "-e", "ORCH_TOKEN_FILE=", leader, "orchctl", "-o", "json", "deploy", "web", "--image", "nginx:1"],
      30_000,
    ).then(
      (out) => `answered: ${out}`,
      (error: { stdout?: string }) => error.stdout ?? String(error),
    );
    expect((JSON.parse(tokenless) as { error: { code: string } }).error.code).toBe("UNAUTHENTICATED");
    const token = (await compose(["exec", "-T", leader, "cat", "/acl/token"], 30_000)).trim();
    expect(token).toMatch(/^orch_/);
    // With the token (ORCH_TOKEN_FILE=/acl/token in the replicas' environment) it may.
    await ctl(leader, ["deploy", "web", "--image", "nginx:1", "--replicas", "3"]);
    const running = async (service: string): Promise<true | undefined> => {
      const get = await ctl<{ deployment: { status: { running: number } } }>(service, ["get", "web"]);
      return get.deployment.status.running === 3 ? true : undefined;
    };
    await waitFor("3 replicas of web running", () => running(leader), { timeoutMs: 120_000, intervalMs: 1_000 });

    await compose(["kill", "-s", "SIGKILL", leader], 60_000);
    const survivor = replicas.find((s) => s !== leader) ?? "r1";
    const next = await waitFor(
      "a new leader among the survivors",
      async () => {
        const id = await leaderOf(survivor);
        return id !== undefined && id !== leader ? id : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 1_000 },
    );
    expect(next).not.toBe(leader);
    await ctl(survivor, ["deploy", "api", "--image", "nginx:1", "--replicas", "2"]);
    await waitFor("web still running on the new leader", () => running(survivor), {
      timeoutMs: 60_000,
      intervalMs: 1_000,
    });
    const api = await ctl<{ deployment: { version: number } }>(survivor, ["get", "api"]);
    expect(api.deployment.version).toBe(1);
    expect((await compose(["exec", "-T", survivor, "cat", "/acl/token"], 30_000)).trim()).toBe(token);

    // acl-bootstrap again (as on a later `up`): the token file is there, nothing to do.
    const again = await compose(["run", "--rm", "--no-deps", "-T", "acl-bootstrap"], 120_000);
    expect(again).toContain("bootstrapped before");
    // Its token file gone: the cluster refuses a second bootstrap, and the service fails saying why.
    const lost = await compose(
      ["run", "--rm", "--no-deps", "-T", "-e", "TOKEN_FILE=/tmp/token", "acl-bootstrap"],
      120_000,
    ).then(
      () => "succeeded",
      (error: { stdout?: string; stderr?: string }) => `${error.stdout ?? ""}${error.stderr ?? String(error)}`,
    );
    expect(lost).toContain("bootstrapped before, but /tmp/token is gone");
  }, 600_000);
});
