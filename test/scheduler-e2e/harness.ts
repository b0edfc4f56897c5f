import { promises as fs } from "node:fs";
import * as path from "node:path";
import { AgentProcesses, defaultRegions } from "../../dev/local-cluster/process-agents.js";
import { TestCluster, waitFor, within, type CliResult } from "../cluster/harness.js";
import { isAlive, killQuietly, pidsKilledOnExit } from "../process-pids.js";

/**
 * The scheduler end to end: three real replicas (test/cluster/harness.ts) and one real
 * node-agent process per region (AgentProcesses), all on 127.0.0.1 with free ports, data and
 * logs under one temp directory. orchctl runs in-process with --output json.
 *
 * Cleanup is by PID, like the cluster harness: every agent process started here is remembered
 * until it is seen to exit; close() stops them (SIGTERM, then SIGKILL) before the replicas, and
 * an exit hook SIGKILLs any left over if the test worker itself dies.
 */

export const regions = defaultRegions;

/** Attempts SchedulerCluster.start makes before it gives up (see there). */
const startAttemptsMax = 2;
export type RegionName = (typeof regions)[number];

/** PIDs of agent processes started here and not yet seen to exit. */
const liveAgentPids = pidsKilledOnExit();

export interface NodeJson {
  readonly id: string;
  readonly region: string;
  readonly status: string;
  readonly capacity: { readonly cpuMillicores: number; readonly memoryMib: number };
  readonly allocated: { readonly cpuMillicores: number; readonly memoryMib: number };
  readonly containers: number;
  readonly agentAddress: string;
}

export interface ContainerJson {
  readonly id: string;
  readonly deployment: string;
  readonly version: number;
  readonly node: string;
  readonly region: string;
  readonly state: string;
  readonly desiredState: string;
  readonly health: string;
  readonly restartCount: number;
}

export interface DeploymentJson {
  readonly name: string;
  readonly replicas: number;
  readonly cpuMillicores: number;
  readonly memoryMib: number;
  readonly strategy: string;
  readonly status: {
    readonly desired: number;
    readonly pending: number;
    readonly scheduled: number;
    readonly running: number;
    readonly healthy: number;
    readonly failed: number;
    readonly pendingReason: string;
  };
}

export interface GetJson {
  readonly revision: number;
  readonly deployment: DeploymentJson | null;
  readonly containers: ContainerJson[];
}

/** A container as the agent that runs it sees it (GET /containers on the agent). */
export interface AgentContainerJson {
  readonly containerId: string;
  readonly nodeId: string;
  readonly state: string;
  readonly incarnation?: number;
  readonly [field: string]: unknown;
}

export interface DeploySpec {
  readonly replicas: number;
  /** orchctl quantities: "1", "500m". */
  readonly cpu: string;
  readonly memory: string;
  readonly strategy?: "binpack" | "spread" | "latency";
  readonly regions?: readonly string[];
  readonly clientRegions?: readonly string[];
  readonly onePerNode?: boolean;
  readonly wait?: boolean;
  readonly image?: string;
}

/** The flags of `orchctl deploy NAME` for `spec`. */
export function deployArgs(spec: DeploySpec): string[] {
  const args = [
    "--image",
    spec.image ?? "nginx:latest",
    "--replicas",
    String(spec.replicas),
    "--cpu",
    spec.cpu,
    "--memory",
    spec.memory,
  ];
  if (spec.strategy !== undefined) args.push("--strategy", spec.strategy);
  if (spec.regions !== undefined) args.push("--regions", spec.regions.join(","));
  if (spec.clientRegions !== undefined) args.push("--client-regions", spec.clientRegions.join(","));
  if (spec.onePerNode === true) args.push("--one-per-node");
  if (spec.wait === true) args.push("--wait", "--timeout", "30");
  return args;
}

export interface SchedulerClusterOptions {
  /** Names the temp directory, for people looking at leftovers. */
  readonly name: string;
  readonly nodesPerRegion?: number;
  readonly cpuMillicores?: number;
  readonly memoryMib?: number;
}

export interface ExtraAgentOptions {
  readonly region: RegionName;
  /** Node ids become <prefix>-n1..n<nodes>. */
  readonly nodePrefix: string;
  readonly nodes: number;
  readonly cpuMillicores?: number;
  readonly memoryMib?: number;
}

export class SchedulerCluster {
  private readonly agentSets: AgentProcesses[] = [];
  private closed = false;

  private constructor(
    readonly cluster: TestCluster,
    readonly options: Required<SchedulerClusterOptions>,
  ) {}

  /**
   * Three replicas with a leader, one agent per region, and every node registered ready.
   *
   * A second attempt, with fresh ports and directories, when the first one did not come up:
   * freePort() only finds a port that was free a moment ago, and on a busy machine another
   * process can take it before the replica or agent binds it (which then exits at once). The
   * first attempt's logs are printed, so a real startup bug still shows, and fails the second.
   */
  static async start(options: SchedulerClusterOptions): Promise<SchedulerCluster> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await SchedulerCluster.startOnce(options);
      } catch (error) {
        if (attempt >= startAttemptsMax) throw error;
        process.stderr.write(
          `scheduler-e2e: cluster ${options.name} did not start (attempt ${attempt} of ${startAttemptsMax}): ${error instanceof Error ? error.message : String(error)}; trying again\n`,
        );
      }
    }
  }

  private static async startOnce(options: SchedulerClusterOptions): Promise<SchedulerCluster> {
    const full: Required<SchedulerClusterOptions> = {
      nodesPerRegion: 3,
      cpuMillicores: 8000,
      memoryMib: 16384,
      ...options,
    };
    const cluster = await TestCluster.start({ name: full.name });
    const test = new SchedulerCluster(cluster, full);
    try {
      await cluster.waitForLeader();
      await test.startAgents({
        regions,
        nodesPerRegion: full.nodesPerRegion,
        cpuMillicores: full.cpuMillicores,
        memoryMib: full.memoryMib,
        logDir: path.join(cluster.root, "logs"),
      });
      await test.waitForNodes(regions.length * full.nodesPerRegion);
    } catch (error) {
      const exited = [
        ...cluster.ids().filter((id) => !cluster.running().includes(id)),
        ...test.agentSets.flatMap((set) => set.agents.filter((a) => a.child === null).map((a) => `agent ${a.region}`)),
      ];
      await test.dumpLogs();
      await test.close();
      const why = exited.length === 0 ? "" : ` (exited early: ${exited.join(", ")})`;
      throw new Error(`${error instanceof Error ? error.message : String(error)}${why}`, { cause: error });
    }
    return test;
  }

  /** The regional agents started by start(). */
  get agents(): AgentProcesses {
    return this.agentSets[0];
  }

  /** Every node id start() registered, region by region: <region>-n1..n<nodesPerRegion>. */
  baseNodeIds(region?: RegionName): string[] {
    const inRegions = region === undefined ? regions : [region];
    return inRegions.flatMap((r) => Array.from({ length: this.options.nodesPerRegion }, (_, i) => `${r}-n${i + 1}`));
  }

  /**
   * A second agent process in an existing region, with its own node prefix and HTTP port
   * (AgentProcesses with a single region and --node-prefix).
   */
  async startExtraAgent(options: ExtraAgentOptions): Promise<AgentProcesses> {
    return this.startAgents({
      regions: [options.region],
      nodesPerRegion: options.nodes,
      cpuMillicores: options.cpuMillicores ?? this.options.cpuMillicores,
      memoryMib: options.memoryMib ?? this.options.memoryMib,
      logDir: path.join(this.cluster.root, "logs", options.nodePrefix),
      extraArgs: ["--node-prefix", options.nodePrefix, "--agent-id", `agent-${options.nodePrefix}`],
    });
  }

  /** Every agent PID this cluster runs now. */
  agentPids(): number[] {
    return this.agentSets.flatMap((set) => set.pids());
  }

  /** orchctl against every replica with --output json; fails unless it exits 0, returns the parsed document. */
  async ctl<T>(args: readonly string[]): Promise<T> {
    const result = await this.ctlRaw(args);
    if (result.code !== 0) throw new Error(`orchctl ${args.join(" ")} exited ${result.code}: ${result.stderr.trim()}`);
    return JSON.parse(result.stdout) as T;
  }

  /** orchctl with --output json, whatever its exit status. */
  ctlRaw(args: readonly string[]): Promise<CliResult> {
    return this.cluster.orchctl(["--output", "json", ...args]);
  }

  async nodes(): Promise<NodeJson[]> {
    return (await this.ctl<{ nodes: NodeJson[] }>(["nodes"])).nodes;
  }

  async get(name: string): Promise<GetJson> {
    return this.ctl<GetJson>(["get", name]);
  }

  async containers(deployment: string): Promise<ContainerJson[]> {
    return (await this.get(deployment)).containers;
  }

  async waitForNodes(count: number, timeoutMs = 30_000): Promise<NodeJson[]> {
    return waitFor(
      `${count} nodes registered and ready`,
      async () => {
        const nodes = await this.nodes();
        return nodes.length === count && nodes.every((n) => n.status === "ready") ? nodes : undefined;
      },
      { timeoutMs, intervalMs: 100 },
    );
  }

  /**
   * Waits until the deployment has `running` containers in state running and `pending` pending,
   * with no other containers, and returns them.
   */
  async waitForContainers(
    name: string,
    want: { running: number; pending?: number },
    timeoutMs = 30_000,
  ): Promise<ContainerJson[]> {
    const pending = want.pending ?? 0;
    return waitFor(
      `${name}: ${want.running} running, ${pending} pending`,
      async () => {
        const containers = await this.containers(name);
        const count = (state: string): number => containers.filter((c) => c.state === state).length;
        if (
          count("running") !== want.running ||
          count("pending") !== pending ||
          containers.length !== want.running + pending
        )
          return undefined;
        return containers;
      },
      { timeoutMs, intervalMs: 100 },
    );
  }

  /** Waits until every node's allocation and container count match `expected` (node id -> replicas of size cpu/memory). */
  async waitForAllocation(
    expected: ReadonlyMap<string, { cpuMillicores: number; memoryMib: number; containers: number }>,
    timeoutMs = 30_000,
  ): Promise<NodeJson[]> {
    let last: NodeJson[] = [];
    try {
      return await waitFor(
        "node allocations to match",
        async () => {
          last = await this.nodes();
          const ok = last.every((node) => {
            const want = expected.get(node.id) ?? { cpuMillicores: 0, memoryMib: 0, containers: 0 };
            return (
              node.allocated.cpuMillicores === want.cpuMillicores &&
              node.allocated.memoryMib === want.memoryMib &&
              node.containers === want.containers
            );
          });
          return ok ? last : undefined;
        },
        { timeoutMs, intervalMs: 100 },
      );
    } catch (error) {
      const seen = last
        .map((n) => `${n.id}: ${n.allocated.cpuMillicores}m/${n.allocated.memoryMib}Mi ${n.containers} containers`)
        .join("; ");
      throw new Error(`${error instanceof Error ? error.message : String(error)}; last seen: ${seen}`, {
        cause: error,
      });
    }
  }

  /** Deletes the deployment and waits until none of its containers is left (the agents reported them stopped). */
  async deleteAndWait(name: string, timeoutMs = 30_000): Promise<void> {
    await this.ctl(["delete", name]);
    await waitFor(
      `deployment ${name} and its containers to be gone`,
      async () => {
        const result = await this.ctlRaw(["containers", "--deployment", name]);
        if (result.code !== 0) return undefined;
        return (JSON.parse(result.stdout) as { containers: ContainerJson[] }).containers.length === 0;
      },
      { timeoutMs, intervalMs: 100 },
    );
  }

  /** `orchctl deploy` with --output json; fails unless it exits 0. */
  async deploy(name: string, spec: DeploySpec): Promise<DeploymentJson> {
    const result = await this.ctl<{ deployment: DeploymentJson }>(["deploy", name, ...deployArgs(spec)]);
    return result.deployment;
  }

  /** Deletes every deployment and waits until no node holds anything: a clean slate between tests. */
  async deleteAll(timeoutMs = 30_000): Promise<void> {
    const list = await this.ctl<{ deployments: { name: string }[] }>(["list"]);
    for (const { name } of list.deployments) await this.ctl(["delete", name]);
    await this.waitForAllocation(new Map(), timeoutMs);
  }

  /** The HTTP address of the agent that runs `nodeId`, as the node registered it. */
  async agentAddressOf(nodeId: string): Promise<string> {
    const node = (await this.nodes()).find((n) => n.id === nodeId);
    if (node === undefined) throw new Error(`no node ${nodeId}`);
    return node.agentAddress;
  }

  /** Status of GET http://<agent>/containers/<id>/health for a container, via the agent its node registered. */
  async healthStatus(container: ContainerJson): Promise<number> {
    const address = await this.agentAddressOf(container.node);
    const response = await fetch(`http://${address}/containers/${encodeURIComponent(container.id)}/health`, {
      signal: AbortSignal.timeout(2_000),
    });
    await response.text();
    return response.status;
  }

  /** What an agent runs right now (its GET /containers). */
  async agentContainers(httpAddress: string): Promise<AgentContainerJson[]> {
    const response = await fetch(`http://${httpAddress}/containers`, { signal: AbortSignal.timeout(2_000) });
    const body = (await response.json()) as AgentContainerJson[] | { containers: AgentContainerJson[] };
    return Array.isArray(body) ? body : body.containers;
  }

  /** The sum of every sample of `name` on an agent's /metrics. */
  async agentMetric(httpAddress: string, name: string): Promise<number> {
    const response = await fetch(`http://${httpAddress}/metrics`, { signal: AbortSignal.timeout(2_000) });
    const body = await response.text();
    let sum = 0;
    let found = false;
    for (const line of body.split("\n")) {
      const match = /^([a-z_:]+)(\{[^}]*\})?\s+(\S+)$/.exec(line);
      if (match !== null && match[1] === name) {
        sum += Number(match[3]);
        found = true;
      }
    }
    if (!found) throw new Error(`metric ${name} not found on agent ${httpAddress}`);
    return sum;
  }

  /** HTTP addresses of every agent process running now. */
  agentAddresses(): string[] {
    return this.agentSets.flatMap((set) => set.agents.filter((a) => a.child !== null).map((a) => a.httpAddress));
  }

  /** Prints the tail of every replica's and agent's log: called when a test failed. */
  async dumpLogs(lines = 40): Promise<void> {
    await this.cluster.dumpLogs(lines);
    const logRoot = path.join(this.cluster.root, "logs");
    for (const file of await agentLogs(logRoot)) {
      const text = (await fs.readFile(file, "utf8").catch(() => "")).trimEnd().split("\n").slice(-lines).join("\n");
      process.stderr.write(`\n----- last ${lines} log lines of ${file} -----\n${text}\n`);
    }
  }

  /** Stops every agent (by PID, SIGKILL after a grace period), then the replicas; removes the temp directory. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const pids = this.agentPids();
    try {
      await within("the agents to stop", 15_000, Promise.all(this.agentSets.map((set) => set.stop())));
    } catch {
      // Whatever did not stop in time is killed below.
    }
    for (const pid of pids) if (isAlive(pid)) killQuietly(pid, "SIGKILL");
    try {
      await waitFor("every agent process to be gone", () => pids.every((pid) => !isAlive(pid)), { timeoutMs: 10_000 });
    } finally {
      for (const pid of pids) liveAgentPids.delete(pid);
      await this.cluster.close();
    }
  }

  private async startAgents(options: {
    regions: readonly string[];
    nodesPerRegion: number;
    cpuMillicores: number;
    memoryMib: number;
    logDir: string;
    extraArgs?: readonly string[];
  }): Promise<AgentProcesses> {
    const set = await AgentProcesses.start({ endpoints: this.cluster.endpoints(), ports: "random", ...options });
    this.agentSets.push(set);
    for (const agent of set.agents) {
      const pid = agent.child?.pid;
      if (pid === undefined) continue;
      liveAgentPids.add(pid);
      void agent.exited.then(() => liveAgentPids.delete(pid));
    }
    return set;
  }
}

async function agentLogs(dir: string): Promise<string[]> {
  const found: string[] = [];
  let entries: import("node:fs").Dirent[];
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch {
    return found;
  }
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await agentLogs(full)));
    else if (entry.name.startsWith("agent-")) found.push(full);
  }
  return found;
}

/** Replicas per node id. */
export function perNode(containers: readonly ContainerJson[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const c of containers) if (c.node !== "") counts.set(c.node, (counts.get(c.node) ?? 0) + 1);
  return counts;
}

/** Replicas per region. */
export function perRegion(containers: readonly ContainerJson[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const c of containers) if (c.region !== "") counts.set(c.region, (counts.get(c.region) ?? 0) + 1);
  return counts;
}

/** The expected allocation of every node: the sum of each placed container's request. */
export function allocationOf(
  placed: readonly { containers: readonly ContainerJson[]; cpuMillicores: number; memoryMib: number }[],
): Map<string, { cpuMillicores: number; memoryMib: number; containers: number }> {
  const result = new Map<string, { cpuMillicores: number; memoryMib: number; containers: number }>();
  for (const group of placed) {
    for (const c of group.containers) {
      if (c.node === "") continue;
      const entry = result.get(c.node) ?? { cpuMillicores: 0, memoryMib: 0, containers: 0 };
      result.set(c.node, {
        cpuMillicores: entry.cpuMillicores + group.cpuMillicores,
        memoryMib: entry.memoryMib + group.memoryMib,
        containers: entry.containers + 1,
      });
    }
  }
  return result;
}
