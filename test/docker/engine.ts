/**
 * A Docker engine for a test file: the one named by $DOCKER_HOST when it answers (.ci/run starts
 * one and exports it), else a private dockerd started as root under /tmp with the settings that
 * work on a machine without systemd, iptables or a bridge (vfs storage, host networking only),
 * stopped again by its PID. Nothing can be pulled from a public registry here, so the test image
 * is imported offline from a rootfs holding Debian's busybox-static.
 *
 * A test that needs Docker fails, saying how to install it, unless SKIP_DOCKER=1 (then it skips):
 *   describe.skipIf(skipDocker)("...", () => { beforeAll(async () => { engine = await startEngine(); }) })
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export const skipDocker = process.env["SKIP_DOCKER"] === "1";

/** The image every Docker test runs: busybox with httpd serving /www. */
export const testImage = "orch-test/busybox:2";

export const installHint =
  "these tests need a Docker engine: install it with `apt-get install -y docker.io busybox-static` " +
  "(they start a private dockerd as root, or use the one $DOCKER_HOST names), or set SKIP_DOCKER=1 to skip them";

export interface DockerEngine {
  /** unix:///path/docker.sock */
  readonly host: string;
  /** Runs the docker CLI against this engine; resolves to stdout. */
  docker(args: readonly string[]): Promise<string>;
  /** Stops the engine if this file started it (by its PID); a shared one is left running. */
  stop(): Promise<void>;
}

export async function startEngine(): Promise<DockerEngine> {
  if (!existsSync("/usr/sbin/dockerd") && !(await onPath("dockerd"))) throw new Error(installHint);
  if (!existsSync("/usr/bin/busybox")) throw new Error(installHint);
  const shared = process.env["DOCKER_HOST"];
  let engine: DockerEngine;
  if (shared !== undefined && shared !== "" && (await answers(shared))) engine = sharedEngine(shared);
  else engine = await privateEngine();
  await ensureImage(engine, testImage, busyboxRootfs);
  return engine;
}

function cli(host: string): (args: readonly string[]) => Promise<string> {
  return async (args) => {
    const { stdout } = await run("docker", ["-H", host, ...args], { maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  };
}

function sharedEngine(host: string): DockerEngine {
  return { host, docker: cli(host), stop: async () => {} };
}

async function privateEngine(): Promise<DockerEngine> {
  const dir = await mkdtemp(join(tmpdir(), "orch-dkr-"));
  const dataRoot = join(dir, "data");
  const execRoot = join(dir, "exec");
  const pidFile = join(dir, "dockerd.pid");
  const host = `unix://${join(dir, "docker.sock")}`;
  await mkdir(dataRoot);
  await mkdir(execRoot);
  const child: ChildProcess = spawn(
    "dockerd",
    [
      "--storage-driver=vfs",
      "--iptables=false",
      "--bridge=none",
      "--data-root",
      dataRoot,
      "--exec-root",
      execRoot,
      "--host",
      host,
      "--pidfile",
      pidFile,
    ],
    { stdio: ["ignore", "ignore", "pipe"], detached: false },
  );
  let log = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-8000);
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const deadline = Date.now() + 60_000;
  while (!(await answers(host))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`the private dockerd did not start (${installHint}):\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    host,
    docker: cli(host),
    stop: async () => {
      const pid = Number((await readFile(pidFile, "utf8").catch(() => "")).trim()) || child.pid;
      if (pid !== undefined && child.exitCode === null) {
        // Containers first, so the engine does not leave runc shims behind.
        const ids = (await cli(host)(["ps", "-aq"]).catch(() => "")).split("\n").filter((s) => s !== "");
        if (ids.length > 0) await cli(host)(["rm", "-f", ...ids]).catch(() => "");
        process.kill(pid, "SIGTERM");
        await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
        if (child.exitCode === null) process.kill(pid, "SIGKILL");
      }
      // dockerd leaves its network namespace mounted under the exec root.
      await run("umount", [join(execRoot, "netns", "default")]).catch(() => {});
      await rm(dir, { recursive: true, force: true }).catch(() => {});
    },
  };
}

async function answers(host: string): Promise<boolean> {
  try {
    await run("docker", ["-H", host, "version", "--format", "{{.Server.Version}}"], { timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}

async function onPath(binary: string): Promise<boolean> {
  try {
    await run("sh", ["-c", `command -v ${binary}`]);
    return true;
  } catch {
    return false;
  }
}

/** Imports `name` from a rootfs made by `build` unless the engine has it already. */
export async function ensureImage(
  engine: DockerEngine,
  name: string,
  build: (rootfs: string) => Promise<void>,
  /** Dockerfile instructions for the image's config, e.g. "ENV PATH=/bin" (docker import --change). */
  changes: readonly string[] = [],
): Promise<void> {
  const present = await engine.docker(["image", "inspect", name]).then(
    () => true,
    () => false,
  );
  if (present) return;
  const rootfs = await mkdtemp(join(tmpdir(), "orch-rootfs-"));
  try {
    // mkdtemp makes it 0700, and tar keeps that for "/": users other than root could not enter it.
    await chmod(rootfs, 0o755);
    await build(rootfs);
    const flags = changes.map((c) => `--change '${c}'`).join(" ");
    await run("sh", ["-c", `tar -C "${rootfs}" -c . | docker -H "${engine.host}" import ${flags} - "${name}"`]);
  } finally {
    await rm(rootfs, { recursive: true, force: true });
  }
}

const busyboxApplets = ["sh", "httpd", "echo", "sleep", "cat", "ls", "env", "wget", "head", "dd", "true", "false"];

/** busybox-static with its applets, /www/index.html, /www/healthz and /tmp. */
export async function busyboxRootfs(rootfs: string): Promise<void> {
  await mkdir(join(rootfs, "bin"), { recursive: true });
  await mkdir(join(rootfs, "www"));
  await mkdir(join(rootfs, "tmp"));
  await cp("/usr/bin/busybox", join(rootfs, "bin", "busybox"));
  for (const applet of busyboxApplets) await symlink("busybox", join(rootfs, "bin", applet));
  await writeFile(join(rootfs, "www", "index.html"), "hello from busybox\n");
  // The default health-check path, so httpd answers the leader's probes with 200.
  await writeFile(join(rootfs, "www", "healthz"), "ok\n");
}
