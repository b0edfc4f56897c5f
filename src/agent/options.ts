/**
 * The node-agent's command line (docs/architecture.md, Interface contract):
 *   node-agent --region eu-west-1 --nodes 3 --cpu 8000 --memory 16384 \
 *     --endpoints 127.0.0.1:50051,127.0.0.1:50052,127.0.0.1:50053 --http 127.0.0.1:9102
 */
import { Command, Option } from "commander";
import { knownRegions, validateNodeId } from "../fsm/index.js";
import { splitListenHostPort } from "../lib/host-port.js";
import type { AgentOptions } from "./agent.js";
import { agentLimits, dockerLimits } from "./limits.js";
import type { ChannelCredentials } from "@grpc/grpc-js";
import { tokenFromInput } from "../lib/bearer-token.js";
import { clientCredentials, loadTlsMaterial, tlsFilesFromFlags, type TlsFiles } from "../lib/tls-material.js";

/** The local cluster's ports: agent i of the regions in this order serves HTTP on 9100 + i. */
const defaultHttpPortByRegion: Readonly<Record<string, number>> = {
  "us-east-1": 9101,
  "eu-west-1": 9102,
  "ap-southeast-1": 9103,
};
const defaultEndpoints = "127.0.0.1:50051,127.0.0.1:50052,127.0.0.1:50053";
export const endpointsEnv = "ORCH_ENDPOINTS";

/** A usage mistake: main prints it and exits with status 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

export function agentProgram(): Command {
  return new Command("node-agent")
    .description(
      "One region's simulated nodes for MicroOrchestrator: registers them with the leader, heartbeats, watches their assignments and runs each assigned container in a simulated runtime with a real HTTP health endpoint.",
    )
    .addOption(new Option("--region <region>", "region of the nodes").choices(knownRegions).makeOptionMandatory())
    .option(
      "--nodes <n>",
      `number of nodes (1..${agentLimits.nodesMax}; default 3 simulated, 1 with --driver docker, which slices one engine into N logical nodes)`,
    )
    .addOption(
      new Option("--driver <driver>", "container runtime: sim (simulated) or docker (real containers)")
        .choices(["sim", "docker"])
        .default("sim"),
    )
    .option(
      "--docker-host <url>",
      "the Docker engine for --driver docker (default: $DOCKER_HOST or unix:///var/run/docker.sock)",
    )
    .option(
      "--host-ports <first-last>",
      `host ports handed to containers' named ports (--driver docker)`,
      `${dockerLimits.hostPortFirst}-${dockerLimits.hostPortLast}`,
    )
    .option("--cpu <millicores>", "each node's cpu capacity in millicores", "8000")
    .option("--memory <MiB>", "each node's memory capacity in MiB", "16384")
    .option(
      "--endpoints <list>",
      `control-plane API addresses, comma-separated (default: $${endpointsEnv} or ${defaultEndpoints})`,
    )
    .option(
      "--http <host:port>",
      "where the agent serves container health endpoints, /metrics, /healthz and fault hooks (default: 127.0.0.1:9101|9102|9103 by region)",
    )
    .option("--advertise <host:port>", "the address replicas reach --http at (default: the --http address)")
    .option("--start-delay-ms <ms>", "how long a simulated container takes to start", "300")
    .option("--node-prefix <prefix>", "node ids are <prefix>-n1, <prefix>-n2, ... (default: the region)")
    .option("--agent-id <id>", "this agent's name in logs (default: agent-<node prefix>)")
    .option("--tls-ca <file>", "CA certificate the replicas' certificates are signed by")
    .option("--tls-cert <file>", "this agent's certificate (role agent; see orchctl pki)")
    .option("--tls-key <file>", "the key of --tls-cert")
    .option(
      "--token <secret>",
      "agent token of a control plane run with --acl (orchctl token create --role agent --region R); not needed with an agent certificate",
    )
    .option("--heartbeat-ms <ms>", "heartbeat period in milliseconds", String(agentLimits.heartbeatIntervalMsDefault))
    .addHelpText(
      "after",
      `
HTTP endpoints (on --http):
  GET  /containers/<id>/health                   200 "ok" while the container runs healthy, 503 while it
                                                 is not running (starting, waiting for a restart, failed)
  GET  /metrics, /healthz, /containers, /nodes
  POST /faults/containers/<id>/crash|unhealthy|healthy|hang
  POST /faults/nodes/<id>/kill|revive

Example:
  node-agent --region eu-west-1 --nodes 3 --cpu 8000 --memory 16384 \\
    --endpoints 127.0.0.1:50051,127.0.0.1:50052,127.0.0.1:50053 --http 127.0.0.1:9102
  node-agent --region eu-west-1 --driver docker --docker-host unix:///var/run/docker.sock

With --driver docker each container is a real Docker container on the host network, labelled with
its container id, deployment, version and node; named ports get host ports (PORT, PORT_<NAME>).
  GET  /containers/<id>/logs?follow=1&tail=N   the container's output (the simulator writes its own)

Logs are JSON lines on stderr. SIGTERM or SIGINT stops the agent (its containers stop with it).`,
    )
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s), writeOut: (s) => process.stdout.write(s) });
}

interface RawOptions {
  region: string;
  nodes?: string;
  driver: "sim" | "docker";
  dockerHost?: string;
  hostPorts: string;
  cpu: string;
  memory: string;
  endpoints?: string;
  http?: string;
  advertise?: string;
  startDelayMs: string;
  nodePrefix?: string;
  agentId?: string;
  heartbeatMs: string;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  token?: string;
}

/** Parses the flags; commander errors (and --help) surface as CommanderError, bad values as UsageError. */
export function parseAgentArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): AgentOptions {
  const program = agentProgram();
  program.parse([...argv], { from: "user" });
  const raw = program.opts<RawOptions>();
  const nodePrefix = raw.nodePrefix ?? raw.region;
  const nodeCount = wholeNumber(raw.nodes ?? (raw.driver === "docker" ? "1" : "3"), "--nodes", 1, agentLimits.nodesMax);
  const hostPorts = /^(\d{1,5})-(\d{1,5})$/.exec(raw.hostPorts);
  const hostPortFirst = Number(hostPorts?.[1] ?? 0);
  const hostPortLast = Number(hostPorts?.[2] ?? 0);
  if (hostPorts === null || hostPortFirst < 1 || hostPortLast > 65_535 || hostPortFirst > hostPortLast)
    throw new UsageError(`--host-ports must be FIRST-LAST within 1..65535, got ${JSON.stringify(raw.hostPorts)}`);
  const dockerHost = raw.dockerHost ?? env["DOCKER_HOST"] ?? "unix:///var/run/docker.sock";
  if (!/^(unix|tcp):\/\/\S+$/.test(dockerHost))
    throw new UsageError(
      `--docker-host must be unix:///path/docker.sock or tcp://host:port, got ${JSON.stringify(dockerHost)}`,
    );
  const lastNodeId = `${nodePrefix}-n${nodeCount}`;
  const problem = validateNodeId(lastNodeId);
  if (problem !== null) throw new UsageError(`--node-prefix ${JSON.stringify(nodePrefix)} makes ${problem.message}`);
  const endpoints = (raw.endpoints ?? env[endpointsEnv] ?? defaultEndpoints)
    .split(",")
    .map((e) => e.trim())
    .filter((e) => e !== "");
  if (endpoints.length === 0) throw new UsageError("--endpoints names no address");
  for (const endpoint of endpoints) address(endpoint, "--endpoints");
  const httpAddress = raw.http ?? `127.0.0.1:${defaultHttpPortByRegion[raw.region] ?? 9101}`;
  address(httpAddress, "--http");
  if (raw.advertise !== undefined) address(raw.advertise, "--advertise");
  let tlsFiles: TlsFiles | null;
  let credentials: ChannelCredentials | undefined;
  try {
    tlsFiles = tlsFilesFromFlags(raw);
    credentials = tlsFiles === null ? undefined : clientCredentials(loadTlsMaterial(tlsFiles));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const token = tokenFromInput(raw.token);
  return {
    ...(credentials !== undefined ? { credentials } : {}),
    ...(token !== undefined ? { token } : {}),
    region: raw.region,
    nodeCount,
    cpuMillicores: wholeNumber(raw.cpu, "--cpu", 1, agentLimits.nodeCpuMillicoresMax),
    memoryMib: wholeNumber(raw.memory, "--memory", 1, agentLimits.nodeMemoryMibMax),
    endpoints,
    httpAddress,
    ...(raw.advertise !== undefined ? { advertiseAddress: raw.advertise } : {}),
    startDelayMs: wholeNumber(raw.startDelayMs, "--start-delay-ms", 0, agentLimits.startDelayMsMax),
    nodePrefix,
    agentId: raw.agentId ?? `agent-${nodePrefix}`,
    heartbeatIntervalMs: wholeNumber(raw.heartbeatMs, "--heartbeat-ms", 10, agentLimits.heartbeatTimeoutMs),
    driver: raw.driver,
    ...(raw.driver === "docker" ? { dockerHost, hostPortFirst, hostPortLast } : {}),
  };
}

function wholeNumber(text: string, flag: string, min: number, max: number): number {
  const value = Number(text);
  if (text.trim() === "" || !Number.isInteger(value) || value < min || value > max) {
    throw new UsageError(`${flag} must be a whole number from ${min} to ${max}, got ${JSON.stringify(text)}`);
  }
  return value;
}

function address(text: string, flag: string): void {
  try {
    const { port } = splitListenHostPort(text);
    if (!text.includes(":")) throw new Error("no port");
    if (flag !== "--http" && port === 0) throw new Error("port 0");
  } catch {
    throw new UsageError(`${flag}: ${JSON.stringify(text)} is not a host:port address`);
  }
}
