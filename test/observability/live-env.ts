import { promises as fs } from "node:fs";
import * as path from "node:path";
import { AgentProcesses } from "../../dev/local-cluster/process-agents.js";
import { freePort } from "../../dev/local-cluster/free-port.js";
import { PrometheusProcess } from "../../dev/local-cluster/process-prometheus.js";
import { TestCluster, waitFor } from "../cluster/harness.js";
import { prometheusDir, requireTool } from "./tools.js";

/**
 * Everything the live observability tests look at: three real replicas (TestCluster), one real
 * node-agent per region, and a real Prometheus scraping them every second with the repository's
 * alert and recording rules, all on 127.0.0.1 with free ports, under one temp directory.
 *
 * Cleanup is by PID: the replicas through TestCluster; the agents and Prometheus here, each PID
 * remembered until it is seen to exit, with an exit hook that SIGKILLs leftovers if the test
 * worker itself dies.
 */

const livePids = new Set<number>();
process.once("exit", () => {
  for (const pid of livePids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
});

function track(pid: number | undefined, exited: Promise<unknown>): void {
  if (pid === undefined) return;
  livePids.add(pid);
  void exited.then(() => livePids.delete(pid));
}

export interface PromVectorSample {
  readonly metric: Record<string, string>;
  readonly value: [number, string];
}

export type PromQueryResult =
  | { readonly ok: true; readonly resultType: string; readonly samples: PromVectorSample[] }
  | { readonly ok: false; readonly error: string };

export interface PromRule {
  readonly name: string;
  readonly query: string;
  readonly type: "alerting" | "recording";
  readonly health: string;
  readonly lastError?: string;
}

export const regionCount = 3;
export const nodesPerRegion = 2;
/** Prometheus' scrape and rule evaluation interval in the tests. */
const scrapeIntervalSeconds = 1;
const prometheusStartAttemptsMax = 2;

export class LiveEnv {
  private closed = false;

  private constructor(
    readonly cluster: TestCluster,
    readonly agents: AgentProcesses,
    readonly prometheus: PrometheusProcess,
  ) {}

  /** Fails at once, saying how to install them, when prometheus or promtool is missing. */
  static async start(): Promise<LiveEnv> {
    requireTool("prometheus");
    requireTool("promtool");
    const cluster = await TestCluster.start({ name: "observability" });
    let agents: AgentProcesses | undefined;
    let prometheus: PrometheusProcess | undefined;
    try {
      await cluster.waitForLeader();
      agents = await AgentProcesses.start({
        endpoints: cluster.endpoints(),
        ports: "random",
        nodesPerRegion,
        logDir: path.join(cluster.root, "logs"),
      });
      for (const agent of agents.agents) track(agent.child?.pid, agent.exited);
      const started = agents;
      // Prometheus first: it takes a few seconds to apply its targets (its scrape manager
      // reloads at most every 5 s), time the agents spend registering their nodes.
      prometheus = await LiveEnv.startPrometheus(cluster, started);
      await waitFor(
        `${regionCount * nodesPerRegion} nodes registered and ready`,
        async () => {
          const result = await cluster.orchctl(["--output", "json", "nodes"]);
          if (result.code !== 0) return undefined;
          const nodes = (JSON.parse(result.stdout) as { nodes: { status: string }[] }).nodes;
          return nodes.length === regionCount * nodesPerRegion && nodes.every((n) => n.status === "ready");
        },
        { timeoutMs: 30_000, intervalMs: 200 },
      );
      const env = new LiveEnv(cluster, started, prometheus);
      // Scraping before anything else happens, so what follows is in its data.
      await env.waitForScrapes(2);
      return env;
    } catch (error) {
      await cluster.dumpLogs();
      await prometheus?.stop();
      await agents?.stop();
      await cluster.close();
      throw error;
    }
  }

  /** Replica id -> the address of its /metrics. */
  replicaMetricsAddresses(): Map<string, string> {
    return new Map(this.cluster.cluster.replicas.map((r) => [r.id, r.metricsAddress]));
  }

  /** Region -> the address of its agent's /metrics. */
  agentMetricsAddresses(): Map<string, string> {
    return new Map(this.agents.agents.map((a) => [a.region, a.httpAddress]));
  }

  /** orchctl against the cluster, --output json; fails unless it exits 0. */
  async ctl<T>(args: readonly string[]): Promise<T> {
    const result = await this.cluster.orchctl(["--output", "json", ...args]);
    if (result.code !== 0) throw new Error(`orchctl ${args.join(" ")} exited ${result.code}: ${result.stderr.trim()}`);
    return JSON.parse(result.stdout) as T;
  }

  /** An instant query through Prometheus' HTTP API. */
  async query(promql: string): Promise<PromQueryResult> {
    const url = `${this.prometheus.url}/api/v1/query?${new URLSearchParams({ query: promql })}`;
    const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
    const body = (await response.json()) as {
      status: string;
      error?: string;
      errorType?: string;
      data?: { resultType: string; result: unknown };
    };
    if (body.status !== "success" || body.data === undefined)
      return { ok: false, error: `${body.errorType ?? "error"}: ${body.error ?? `HTTP ${response.status}`}` };
    const { resultType, result } = body.data;
    if (resultType === "vector") return { ok: true, resultType, samples: result as PromVectorSample[] };
    if (resultType === "scalar")
      return { ok: true, resultType, samples: [{ metric: {}, value: result as [number, string] }] };
    return { ok: true, resultType, samples: [] };
  }

  /** Every rule Prometheus loaded, with its last evaluation's health. */
  async rules(): Promise<PromRule[]> {
    const response = await fetch(`${this.prometheus.url}/api/v1/rules`, { signal: AbortSignal.timeout(10_000) });
    const body = (await response.json()) as { data: { groups: { rules: PromRule[] }[] } };
    return body.data.groups.flatMap((g) => g.rules);
  }

  /**
   * Waits until Prometheus has scraped every target at least `scrapes` times since now, so
   * what happened before this call is in its data, with points enough for rate().
   */
  async waitForScrapes(scrapes: number): Promise<void> {
    const sinceMs = Date.now();
    const targets = this.cluster.cluster.replicas.length + this.agents.agents.length;
    await waitFor(
      `Prometheus to scrape all ${targets} targets ${scrapes} times`,
      async () => {
        const elapsedSeconds = Math.max(1, Math.floor((Date.now() - sinceMs) / 1000));
        const up = await this.query("count(up == 1)");
        const fewest = await this.query(`min(count_over_time(up[${elapsedSeconds}s]))`);
        return (
          up.ok &&
          fewest.ok &&
          Number(up.samples[0]?.value[1]) === targets &&
          Number(fewest.samples[0]?.value[1]) >= scrapes
        );
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.prometheus.stop();
    await this.agents.stop();
    await this.cluster.close();
  }

  private static async startPrometheus(cluster: TestCluster, agents: AgentProcesses): Promise<PrometheusProcess> {
    const dir = path.join(cluster.root, "prometheus");
    await fs.mkdir(dir, { recursive: true });
    const configFile = path.join(dir, "prometheus.yml");
    const targets = (addresses: readonly string[]) => `[${addresses.map((a) => JSON.stringify(a)).join(", ")}]`;
    await fs.writeFile(
      configFile,
      [
        "global:",
        `  scrape_interval: ${scrapeIntervalSeconds}s`,
        `  scrape_timeout: ${scrapeIntervalSeconds}s`,
        `  evaluation_interval: ${scrapeIntervalSeconds}s`,
        "rule_files:",
        `  - ${JSON.stringify(path.join(prometheusDir, "alerts.yml"))}`,
        "scrape_configs:",
        "  - job_name: orchestrator",
        "    static_configs:",
        `      - targets: ${targets(cluster.cluster.replicas.map((r) => r.metricsAddress))}`,
        "  - job_name: node-agent",
        "    static_configs:",
        `      - targets: ${targets(agents.agents.map((a) => a.httpAddress))}`,
        "",
      ].join("\n"),
    );
    // freePort() only finds a port that was free a moment ago: one more try if it was taken.
    for (let attempt = 1; ; attempt++) {
      try {
        const prometheus = await PrometheusProcess.start({
          configFile,
          dataDir: path.join(dir, `data-${attempt}`),
          listenAddress: `127.0.0.1:${await freePort()}`,
          logDir: path.join(cluster.root, "logs"),
          logLevel: "warn",
        });
        track(prometheus.pid, prometheus.exited);
        return prometheus;
      } catch (error) {
        if (attempt >= prometheusStartAttemptsMax) throw error;
      }
    }
  }
}
