#!/usr/bin/env node
import * as path from "node:path";
import { rmSync } from "node:fs";
import { Command } from "commander";
import {
  bootstrapToken,
  ensureLocalPki,
  localSecurity,
  replicaSecurityArgs,
  writeLocalContext,
  type LocalSecurity,
} from "./local-security.js";
import { ProcessCluster } from "./process-cluster.js";
import { AgentProcesses } from "./process-agents.js";
import {
  findExecutable,
  PrometheusNotInstalledError,
  PrometheusProcess,
  prometheusConfigDir,
} from "./process-prometheus.js";

/** Where `--with-prometheus` serves Prometheus (docs/architecture.md: Prometheus 9090). */
const prometheusListenAddressDefault = "127.0.0.1:9090";
/** How long the first start waits for a leader to bootstrap the ACL token. */
const bootstrapTimeoutSeconds = 60;

/** `npm run cluster`: three replicas on the default local ports, in the foreground; Ctrl-C stops all. */
async function main(): Promise<void> {
  const program = new Command("cluster")
    .description("Run a local three-replica MicroOrchestrator cluster in the foreground (Ctrl-C stops every process).")
    .option("--replicas <n>", "number of replicas", "3")
    .option("--data <dir>", "data directory root (kept between runs)", "./data")
    .option("--wipe", "delete the data directory first (a brand-new cluster)", false)
    .option("--logs <dir>", "write each process's JSON log to <dir>/<name>.log instead of the terminal")
    .option("--nodes <n>", "simulated nodes per regional agent", "3")
    .option("--no-agents", "start only the replicas, no regional node agents")
    .option(
      "--insecure",
      "plaintext and no tokens (on 127.0.0.1 only); the default is mutual TLS with <data>/pki",
      false,
    )
    .option("--tls", "mutual TLS (the default; kept for older scripts)", false)
    .option(
      "--context <name>",
      "the orchctl context written and made current ($ORCH_CONFIG or ~/.config/orchestrator/config.yaml)",
      "local",
    )
    .option("--random-ports", "free ports instead of the fixed 700i/5005i/808(i-1)/910i (tests)", false)
    .option(
      "--with-prometheus",
      "also run Prometheus (prometheus/prometheus.yml and its alert rules) on 127.0.0.1:9090, data under <data>/prometheus",
      false,
    )
    .addHelpText(
      "after",
      "\nOn first start it makes a PKI (and, with ACLs, a management token) under <data>, runs every process with\n" +
        "mutual TLS, and writes the orchctl context 'local' (current). Then, in another terminal:\n" +
        "  orchctl deploy web --image nginx:1 --replicas 3\n  orchctl list\n  orchctl cluster\n\n" +
        "With --with-prometheus, open http://127.0.0.1:9090 (targets, alerts, graphs).",
    );
  program.parse(process.argv);
  const opts = program.opts<{
    replicas: string;
    data: string;
    wipe: boolean;
    logs?: string;
    nodes: string;
    agents: boolean;
    withPrometheus: boolean;
    insecure: boolean;
    tls: boolean;
    context: string;
    randomPorts: boolean;
  }>();
  const replicas = Number(opts.replicas);
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > 7) {
    process.stderr.write("error: --replicas must be between 1 and 7\n");
    process.exit(2);
  }
  // Refuse before starting anything: a cluster without the Prometheus that was asked for is not
  // what the user wanted.
  if (opts.withPrometheus && findExecutable("prometheus") === null) {
    process.stderr.write(
      `error: --with-prometheus: ${new PrometheusNotInstalledError("prometheus").message} Or run without --with-prometheus.\n`,
    );
    process.exit(1);
  }
  if (opts.wipe) rmSync(opts.data, { recursive: true, force: true });
  if (opts.insecure && opts.tls) {
    process.stderr.write("error: --insecure and --tls contradict each other\n");
    process.exit(2);
  }
  const security = opts.insecure ? null : localSecurity(opts.data);
  if (security !== null)
    ensureLocalPki(
      security,
      Array.from({ length: replicas }, (_, i) => `r${i + 1}`),
    );
  const tlsDir = security?.pkiDir;
  const ports = opts.randomPorts ? "random" : "default";
  const cluster = await ProcessCluster.start({
    replicas,
    dataRoot: opts.data,
    wipe: false,
    ports,
    logDir: opts.logs ?? "inherit",
    extraArgs: replicaSecurityArgs(security),
    ...(tlsDir !== undefined ? { tlsDir } : {}),
  });
  const nodesPerRegion = Number(opts.nodes);
  const agents = opts.agents
    ? await AgentProcesses.start({
        endpoints: cluster.endpoints(),
        nodesPerRegion,
        ports,
        logDir: opts.logs ?? "inherit",
        ...(tlsDir !== undefined ? { tlsDir } : {}),
      })
    : null;
  let prometheus: PrometheusProcess | null = null;
  if (opts.withPrometheus) {
    try {
      prometheus = await startPrometheus(opts.data, opts.logs);
    } catch (error) {
      process.stderr.write(
        `error: --with-prometheus: ${error instanceof Error ? error.message : String(error)}\nstopping the cluster...\n`,
      );
      await (agents?.stop() ?? Promise.resolve());
      await cluster.stop();
      process.exit(1);
    }
  }
  for (const r of cluster.replicas) {
    process.stdout.write(
      `${r.id}: api ${r.apiAddress}  raft ${r.raftAddress}  http ${r.metricsAddress}  data ${r.dataDir}  pid ${r.child?.pid}\n`,
    );
  }
  for (const a of agents?.agents ?? []) {
    process.stdout.write(`agent ${a.region}: ${a.nodes} nodes  http ${a.httpAddress}  pid ${a.child?.pid}\n`);
  }
  if (prometheus !== null) {
    process.stdout.write(
      `prometheus: ${prometheus.url}  (config prometheus/prometheus.yml, alerts prometheus/alerts.yml, data ${path.join(opts.data, "prometheus")})  pid ${prometheus.pid}\n`,
    );
  }
  try {
    await secureAccess(cluster.endpoints(), security, opts.context);
  } catch (error) {
    process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\nstopping the cluster...\n`);
    await (prometheus?.stop() ?? Promise.resolve());
    await (agents?.stop() ?? Promise.resolve());
    await cluster.stop();
    process.exit(1);
  }
  process.stdout.write(`\nendpoints: ${cluster.endpoints()}\nCtrl-C stops the cluster.\n\n`);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    process.stdout.write("\nstopping the cluster...\n");
    void (prometheus?.stop() ?? Promise.resolve())
      .then(() => agents?.stop())
      .then(() => cluster.stop())
      .then(() => process.exit(0));
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  for (const r of cluster.replicas) {
    void r.exited.then((code) => {
      if (!stopping) process.stderr.write(`replica ${r.id} exited with code ${code}\n`);
    });
  }
  void prometheus?.exited.then((code) => {
    if (!stopping) process.stderr.write(`prometheus exited with code ${code}\n`);
  });
}

/**
 * On first start with ACLs, the management token; then the orchctl context, made current, and
 * what was done, so `orchctl list` works in another terminal with nothing exported.
 */
async function secureAccess(endpoints: string, security: LocalSecurity | null, contextName: string): Promise<void> {
  const token = await bootstrapToken(security, endpoints, bootstrapTimeoutSeconds);
  const file = writeLocalContext(process.env, contextName, endpoints, security);
  if (security === null) process.stdout.write("\nplaintext (--insecure): no TLS, no tokens; loopback only\n");
  else {
    process.stdout.write(`\nmutual TLS: PKI in ${security.pkiDir} (admin.pem is orchctl's certificate)\n`);
    if (token === "bootstrapped")
      process.stdout.write(`ACL: management token bootstrapped into ${security.tokenFile}\n`);
    else if (token === "kept") process.stdout.write(`ACL: management token in ${security.tokenFile}\n`);
  }
  process.stdout.write(
    file === null
      ? `no contexts file (set ORCH_CONFIG or HOME): pass orchctl --endpoints ${endpoints} and the --tls-* files\n`
      : `orchctl context "${contextName}" written to ${file} and made current: try \`orchctl cluster\`\n`,
  );
}

/**
 * Prometheus with the repository's local configuration (the default ports of the replicas and
 * agents) and alert rules, its data under <data>/prometheus, quiet unless something is wrong.
 */
function startPrometheus(dataRoot: string, logDir: string | undefined): Promise<PrometheusProcess> {
  return PrometheusProcess.start({
    configFile: path.join(prometheusConfigDir(), "prometheus.yml"),
    dataDir: path.join(dataRoot, "prometheus"),
    listenAddress: prometheusListenAddressDefault,
    logDir: logDir ?? "inherit",
    logLevel: "warn",
  });
}

void main();
