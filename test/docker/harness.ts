/**
 * A real cluster with a Docker-driven agent: three replicas (test/cluster/harness.ts) and one
 * node-agent process with --driver docker on the test engine (engine.ts). The agent can be
 * SIGKILLed and started again, as a crashed agent would be. Every process is stopped by PID.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdirSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { rm } from "node:fs/promises";
import { connect, createServer, type Server, type Socket } from "node:net";
import { TestCluster, waitFor } from "../cluster/harness.js";
import type { DockerEngine } from "./engine.js";

export interface ContainerJson {
  readonly id: string;
  readonly node: string;
  readonly state: string;
  readonly health: string;
  readonly restartCount: number;
  readonly desiredState: string;
  readonly addresses: Record<string, string>;
}

export interface DockerPsRow {
  readonly id: string;
  readonly state: string;
  readonly containerId: string;
  readonly restartCount: number;
}

/** The compiled node-agent (npm run build). */
const agentEntry = path.join(path.dirname(fileURLToPath(import.meta.url)), "../../dist/src/agent/main.js");

export class DockerCluster {
  private agent: ChildProcess | null = null;
  private agentExited: Promise<void> = Promise.resolve();
  private httpPort = 0;
  readonly hostPorts: string;

  private constructor(
    readonly cluster: TestCluster,
    readonly engine: DockerEngine,
    readonly nodePrefix: string,
    readonly dockerHost: string,
  ) {
    const first = 21_000 + Math.floor(Math.random() * 80) * 100;
    this.hostPorts = `${first}-${first + 99}`;
  }

  /** `dockerHost`: where the agent reaches the engine (default the engine's own socket). */
  static async start(name: string, engine: DockerEngine, nodes = 1, dockerHost?: string): Promise<DockerCluster> {
    const cluster = await TestCluster.start({ name });
    const test = new DockerCluster(cluster, engine, `dkr-${name}`, dockerHost ?? engine.host);
    try {
      await cluster.waitForLeader();
      test.httpPort = await freePort("127.0.0.1");
      test.startAgent(nodes);
      await waitFor(
        "the docker agent's nodes to be ready",
        async () => {
          const nodesJson = await test.ctl<{ nodes: { id: string; status: string }[] }>(["nodes"]);
          return nodesJson.nodes.filter((n) => n.id.startsWith(test.nodePrefix) && n.status === "ready").length ===
            nodes
            ? true
            : undefined;
        },
        { timeoutMs: 30_000 },
      );
    } catch (error) {
      await test.close();
      throw error;
    }
    return test;
  }

  get agentAddress(): string {
    return `127.0.0.1:${this.httpPort}`;
  }

  startAgent(nodes = 1): void {
    if (this.agent !== null) throw new Error("the agent is still running");
    const logDir = path.join(this.cluster.root, "logs");
    mkdirSync(logDir, { recursive: true });
    const child = spawn(
      process.execPath,
      [
        agentEntry,
        "--region",
        "us-east-1",
        "--driver",
        "docker",
        "--docker-host",
        this.dockerHost,
        "--nodes",
        String(nodes),
        "--node-prefix",
        this.nodePrefix,
        "--endpoints",
        this.cluster.endpoints(),
        "--http",
        this.agentAddress,
        "--host-ports",
        this.hostPorts,
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    child.stderr?.pipe(createWriteStream(path.join(logDir, "agent-docker.log"), { flags: "a" }));
    this.agent = child;
    this.agentExited = new Promise((resolve) =>
      child.once("close", () => {
        if (this.agent === child) this.agent = null;
        resolve();
      }),
    );
  }

  async killAgent(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    this.agent?.kill(signal);
    await this.agentExited;
  }

  async ctl<T>(args: readonly string[]): Promise<T> {
    const result = await this.cluster.orchctl(["--output", "json", ...args]);
    if (result.code !== 0) throw new Error(`orchctl ${args.join(" ")} exited ${result.code}: ${result.stderr.trim()}`);
    return JSON.parse(result.stdout) as T;
  }

  /** orchctl's table output. */
  async ctlText(args: readonly string[]): Promise<string> {
    const result = await this.cluster.orchctl(args);
    if (result.code !== 0) throw new Error(`orchctl ${args.join(" ")} exited ${result.code}: ${result.stderr.trim()}`);
    return result.stdout;
  }

  async containers(deployment: string): Promise<ContainerJson[]> {
    return (await this.ctl<{ containers: ContainerJson[] }>(["containers", "--deployment", deployment])).containers;
  }

  /** The engine's containers of a deployment (any state), from their labels. */
  async dockerPs(deployment: string): Promise<DockerPsRow[]> {
    const out = await this.engine.docker([
      "ps",
      "-a",
      "--filter",
      `label=io.micro-orchestrator.deployment=${deployment}`,
      "--filter",
      `label=io.micro-orchestrator.node`,
      "--format",
      '{{.ID}} {{.State}} {{.Label "io.micro-orchestrator.container-id"}} {{.Label "io.micro-orchestrator.restart-count"}} {{.Label "io.micro-orchestrator.node"}}',
    ]);
    return out
      .split("\n")
      .filter((line) => line.trim() !== "")
      .map((line) => line.split(" "))
      .filter((f) => f[4].startsWith(this.nodePrefix))
      .map((f) => ({ id: f[0], state: f[1], containerId: f[2], restartCount: Number(f[3]) }));
  }

  /** The agent's own view of its nodes (GET /nodes). */
  async agentNodes(): Promise<{ id: string; ready: boolean; reason: string }[]> {
    const response = await fetch(`http://${this.agentAddress}/nodes`);
    return (await response.json()) as { id: string; ready: boolean; reason: string }[];
  }

  async agentLog(): Promise<string> {
    const { readFile } = await import("node:fs/promises");
    return readFile(path.join(this.cluster.root, "logs", "agent-docker.log"), "utf8").catch(() => "");
  }

  async close(): Promise<void> {
    // KEEP_LOGS=1 keeps the agent's log for a post-mortem.
    if (process.env["KEEP_LOGS"] === "1") {
      const { writeFile } = await import("node:fs/promises");
      await writeFile(path.join(os.tmpdir(), `agent-${this.nodePrefix}.log`), await this.agentLog());
    }
    if (this.agent !== null) {
      this.agent.kill("SIGTERM");
      const timer = setTimeout(() => this.agent?.kill("SIGKILL"), 5_000);
      await this.agentExited;
      clearTimeout(timer);
    }
    // The agent leaves real containers running for the next agent to adopt: remove this test's.
    const ids = (
      await this.engine
        .docker([
          "ps",
          "-a",
          "--filter",
          "label=io.micro-orchestrator.managed=true",
          "--format",
          '{{.ID}} {{.Label "io.micro-orchestrator.node"}}',
        ])
        .catch(() => "")
    )
      .split("\n")
      .map((line) => line.split(" "))
      .filter((f) => f.length === 2 && f[1].startsWith(this.nodePrefix))
      .map((f) => f[0]);
    if (ids.length > 0) await this.engine.docker(["rm", "-f", ...ids]).catch(() => "");
    await this.cluster.close();
  }
}

function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * A unix-socket relay in front of the engine: the agent talks to the engine through it, and the
 * test cuts it (the engine seems down: connections refused, open streams broken) and restores it,
 * without disturbing an engine other tests may share.
 */
export class EngineRelay {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();

  constructor(
    readonly socketPath: string,
    private readonly engineSocketPath: string,
  ) {}

  get host(): string {
    return `unix://${this.socketPath}`;
  }

  async up(): Promise<void> {
    const server = createServer((client) => {
      const engine = connect(this.engineSocketPath);
      for (const s of [client, engine]) {
        this.sockets.add(s);
        s.once("close", () => this.sockets.delete(s));
        s.on("error", () => {});
      }
      client.pipe(engine).pipe(client);
      client.once("close", () => engine.destroy());
      engine.once("close", () => client.destroy());
    });
    await rm(this.socketPath, { force: true });
    await new Promise<void>((resolve) => server.listen(this.socketPath, resolve));
    this.server = server;
  }

  async down(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const s of this.sockets) s.destroy();
    if (server !== null) await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(this.socketPath, { force: true });
  }
}
