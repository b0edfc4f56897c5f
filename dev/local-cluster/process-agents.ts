import type { ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "./free-port.js";
import { spawnLogged } from "./spawn-logged.js";
import { tlsArgs } from "./process-cluster.js";

export const defaultRegions = ["us-east-1", "eu-west-1", "ap-southeast-1"] as const;

/** One regional node-agent process. */
export interface AgentProcess {
  readonly region: string;
  readonly httpAddress: string;
  readonly nodes: number;
  child: ChildProcess | null;
  exited: Promise<number | null>;
}

export interface AgentProcessesOptions {
  /** API endpoints of the replicas, comma-separated. */
  readonly endpoints: string;
  readonly regions?: readonly string[];
  readonly nodesPerRegion?: number;
  readonly cpuMillicores?: number;
  readonly memoryMib?: number;
  /** "default": HTTP on 9101..9103 (docs/architecture.md); "random": free ports. */
  readonly ports?: "default" | "random";
  readonly host?: string;
  readonly logDir?: string | "inherit" | null;
  readonly extraArgs?: readonly string[];
  /** An `orchctl pki` directory: agents connect with mutual TLS as agent.pem. */
  readonly tlsDir?: string;
}

const stopGraceMs = 5_000;

/** Starts and stops one node-agent per region on this machine. */
export class AgentProcesses {
  readonly agents: AgentProcess[] = [];

  private constructor(private readonly options: AgentProcessesOptions) {}

  static async start(options: AgentProcessesOptions): Promise<AgentProcesses> {
    const set = new AgentProcesses(options);
    const host = options.host ?? "127.0.0.1";
    const regions = options.regions ?? defaultRegions;
    for (let i = 0; i < regions.length; i++) {
      const port = options.ports === "random" ? await freePort(host) : 9101 + i;
      const agent: AgentProcess = {
        region: regions[i],
        httpAddress: `${host}:${port}`,
        nodes: options.nodesPerRegion ?? 3,
        child: null,
        exited: Promise.resolve(null),
      };
      set.agents.push(agent);
      set.spawnAgent(agent);
    }
    return set;
  }

  agent(region: string): AgentProcess {
    const agent = this.agents.find((a) => a.region === region);
    if (agent === undefined) throw new Error(`no agent for region ${region}`);
    return agent;
  }

  pids(): number[] {
    return this.agents.flatMap((a) => (a.child?.pid === undefined ? [] : [a.child.pid]));
  }

  async kill(region: string, signal: NodeJS.Signals = "SIGKILL"): Promise<number | null> {
    const agent = this.agent(region);
    if (agent.child === null) return null;
    agent.child.kill(signal);
    return agent.exited;
  }

  restart(region: string): void {
    const agent = this.agent(region);
    if (agent.child !== null) throw new Error(`agent ${region} is still running`);
    this.spawnAgent(agent);
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.agents.map(async (agent) => {
        const child = agent.child;
        if (child === null) return;
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), stopGraceMs);
        await agent.exited;
        clearTimeout(timer);
      }),
    );
  }

  private spawnAgent(agent: AgentProcess): void {
    const args = [
      agentEntry(),
      "--region",
      agent.region,
      "--nodes",
      String(agent.nodes),
      "--cpu",
      String(this.options.cpuMillicores ?? 8000),
      "--memory",
      String(this.options.memoryMib ?? 16384),
      "--endpoints",
      this.options.endpoints,
      "--http",
      agent.httpAddress,
      ...tlsArgs(this.options.tlsDir, "agent"),
      ...(this.options.extraArgs ?? []),
    ];
    const logDir = this.options.logDir;
    const { child, exited } = spawnLogged({
      command: process.execPath,
      args,
      log:
        logDir === "inherit"
          ? "inherit"
          : typeof logDir === "string"
            ? { file: path.join(logDir, `agent-${agent.region}.log`) }
            : null,
    });
    agent.child = child;
    agent.exited = exited.then((code) => {
      if (agent.child === child) agent.child = null;
      return code;
    });
  }
}

/** The compiled `node-agent` entry (dist/src/agent/main.js), from dist/dev/local-cluster or from the sources. */
export function agentEntry(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const compiled = path.resolve(here, "../../src/agent/main.js");
  if (existsSync(compiled)) return compiled;
  const fromSource = path.resolve(here, "../../dist/src/agent/main.js");
  if (existsSync(fromSource)) return fromSource;
  throw new Error(`cannot find the compiled node-agent (looked at ${compiled} and ${fromSource}); run npm run build`);
}
