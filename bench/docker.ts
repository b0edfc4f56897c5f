/**
 * The Docker driver through the whole path (`npm run bench -- docker`), beside the simulator on
 * the same cluster: three replicas, one node-agent with --driver docker (one node on the engine,
 * us-east-1) and one simulated agent (eu-west-1, 300 ms start delay).
 *
 *   1. start rate: a deployment of 50 busybox httpd containers (an image imported offline, as
 *      the tests build it), timed from the Deploy call until all are placed, until the engine
 *      holds 50 created containers, until all run, and until all are healthy by the leader's
 *      probes (500 ms period); containers started per second = 50 / time to healthy. The same
 *      for 50 simulated containers.
 *   2. crash to healthy: 5 times, one container killed (`docker kill`; the simulator's crash
 *      fault) until it is healthy again as a new instance after the leader's restart backoff.
 *
 * The engine is $DOCKER_HOST when it answers, else a private dockerd (stopped by its PID).
 * Figures go to bench/results/docker.json.
 */
import { mkdtemp, rm } from "node:fs/promises";
import * as os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import * as grpc from "@grpc/grpc-js";
import Docker from "dockerode";
import type { OrchestratorServiceClient } from "../src/gen/orchestrator/v1/orchestrator.js";
import { ContainerState, Strategy, type Container, type DeploymentSpec } from "../src/gen/orchestrator/v1/types.js";
import { AgentProcesses } from "../dev/local-cluster/process-agents.js";
import { startEngine, testImage } from "../test/docker/engine.js";
import { loadAverage, machineInfo, round, table, writeResult } from "./bench-report.js";
import {
  deploy,
  findLeader,
  killCluster,
  orchestratorChannel,
  startTrackedCluster,
} from "./orchestrator-bench-client.js";
import { trackProcesses } from "./process-guard.js";

const replicas = 50;
const crashTrials = 5;
const waitMs = 180_000;

interface StartFigures {
  readonly placedMs: number;
  readonly createdMs: number | null;
  readonly runningMs: number;
  readonly healthyMs: number;
  readonly containersPerSecond: number;
}

function spec(name: string, region: string, docker: boolean): DeploymentSpec {
  return {
    name,
    image: docker ? testImage : "sim/hello:1",
    replicas,
    cpuMillicores: 50,
    memoryMib: 32,
    strategy: Strategy.STRATEGY_BINPACK,
    regions: [region],
    clientRegions: [],
    onePerNode: false,
    healthCheck: {
      path: "/healthz",
      periodMs: 500,
      timeoutMs: 400,
      failureThreshold: 3,
      successThreshold: 1,
      initialDelayMs: 0,
      ...(docker ? { port: "http" } : {}),
    },
    restartPolicy: undefined,
    progressDeadlineMs: 300_000,
    ...(docker
      ? {
          workload: {
            command: "/bin/sh",
            args: ["-c", 'exec httpd -f -p "$PORT" -h /www'],
            env: [],
            ports: [{ name: "http", containerPort: 8080 }],
          },
        }
      : {}),
  };
}

function listContainers(client: OrchestratorServiceClient, deployment: string): Promise<Container[]> {
  return new Promise((resolve, reject) => {
    client.listContainers(
      { deployment, node: "", limit: 0, stale: true },
      new grpc.Metadata(),
      { deadline: Date.now() + 5_000 },
      (error, response) => (error === null ? resolve(response.containers) : reject(error)),
    );
  });
}

function live(containers: readonly Container[]): Container[] {
  return containers.filter((c) => c.desiredState === 1);
}

async function startRate(
  client: OrchestratorServiceClient,
  name: string,
  region: string,
  engine: Docker | null,
): Promise<StartFigures> {
  const t0 = performance.now();
  await deploy(client, { header: undefined, spec: spec(name, region, engine !== null) }, 10_000);
  let placedMs: number | null = null;
  let createdMs: number | null = null;
  let runningMs: number | null = null;
  while (performance.now() - t0 < waitMs) {
    const containers = live(await listContainers(client, name));
    const now = performance.now() - t0;
    if (placedMs === null && containers.length === replicas && containers.every((c) => c.node !== "")) placedMs = now;
    if (engine !== null && createdMs === null) {
      const created = await engine.listContainers({
        all: true,
        filters: { label: [`io.micro-orchestrator.deployment=${name}`] },
      });
      if (created.length >= replicas) createdMs = performance.now() - t0;
    }
    const running = containers.filter((c) => c.state === ContainerState.CONTAINER_STATE_RUNNING);
    if (runningMs === null && running.length === replicas) runningMs = now;
    if (running.length === replicas && running.every((c) => c.health === "healthy")) {
      const healthyMs = performance.now() - t0;
      return {
        placedMs: round(placedMs ?? healthyMs, 0),
        createdMs: engine === null ? null : round(createdMs ?? healthyMs, 0),
        runningMs: round(runningMs ?? healthyMs, 0),
        healthyMs: round(healthyMs, 0),
        containersPerSecond: round(replicas / (healthyMs / 1000), 1),
      };
    }
    await sleep(100);
  }
  throw new Error(`${name}: not all ${replicas} containers healthy within ${waitMs} ms`);
}

async function crashToHealthy(
  client: OrchestratorServiceClient,
  name: string,
  crash: (container: Container) => Promise<void>,
): Promise<number[]> {
  const times: number[] = [];
  for (let trial = 0; trial < crashTrials; trial++) {
    const victim = live(await listContainers(client, name))[trial];
    const t0 = performance.now();
    await crash(victim);
    for (;;) {
      if (performance.now() - t0 > waitMs) throw new Error(`${victim.id} did not come back`);
      const c = (await listContainers(client, name)).find((x) => x.id === victim.id);
      if (c !== undefined && c.restartCount > victim.restartCount && c.health === "healthy") break;
      await sleep(50);
    }
    times.push(round(performance.now() - t0, 0));
  }
  return times;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

export async function benchDocker(): Promise<unknown> {
  const engine = await startEngine();
  const root = await mkdtemp(path.join(os.tmpdir(), "orch-bench-docker-"));
  let agents: AgentProcesses[] = [];
  const untrackAgents = trackProcesses(() => agents.flatMap((a) => a.pids()));
  const { cluster, untrack } = await startTrackedCluster({
    ports: "random",
    dataRoot: path.join(root, "data"),
    logDir: path.join(root, "logs"),
    wipe: true,
  });
  const docker = new Docker({ socketPath: engine.host.replace(/^unix:\/\//, "") });
  try {
    const common = { endpoints: cluster.endpoints(), ports: "random" as const, logDir: path.join(root, "logs") };
    agents = [
      await AgentProcesses.start({
        ...common,
        regions: ["us-east-1"],
        nodesPerRegion: 1,
        cpuMillicores: 64_000,
        memoryMib: 65_536,
        extraArgs: ["--driver", "docker", "--docker-host", engine.host, "--host-ports", "24000-24999"],
      }),
      await AgentProcesses.start({
        ...common,
        regions: ["eu-west-1"],
        nodesPerRegion: 1,
        cpuMillicores: 64_000,
        memoryMib: 65_536,
      }),
    ];
    const leader = await findLeader(cluster.endpoints().split(","));
    const client = orchestratorChannel(leader.apiAddress);
    await sleep(3_000); // both agents registered and watching
    const dockerStart = await startRate(client, "bench-docker", "us-east-1", docker);
    const simStart = await startRate(client, "bench-sim", "eu-west-1", null);
    const dockerCrash = await crashToHealthy(client, "bench-docker", async (c) => {
      const [found] = await docker.listContainers({
        filters: { label: [`io.micro-orchestrator.container-id=${c.id}`], status: ["running"] },
      });
      await docker.getContainer(found.Id).kill();
    });
    const simAgent = agents[1].agents[0].httpAddress;
    const simCrash = await crashToHealthy(client, "bench-sim", async (c) => {
      await fetch(`http://${simAgent}/faults/containers/${c.id}/crash`, { method: "POST" });
    });
    client.close();
    const result = {
      machine: machineInfo(),
      loadAverage: loadAverage(),
      containers: replicas,
      probePeriodMs: 500,
      docker: { start: dockerStart, crashToHealthyMs: dockerCrash, crashToHealthyMedianMs: median(dockerCrash) },
      sim: { start: simStart, crashToHealthyMs: simCrash, crashToHealthyMedianMs: median(simCrash) },
      notes:
        "vfs storage driver, host networking, busybox httpd imported offline; restart backoff starts at 500 ms, so crash-to-healthy includes it",
    };
    console.log(
      table(
        ["driver", "placed ms", "created ms", "running ms", "healthy ms", "containers/s", "crash->healthy ms (median)"],
        [["docker", dockerStart, dockerCrash] as const, ["sim", simStart, simCrash] as const].map(
          ([name, s, crash]) => [
            name,
            String(s.placedMs),
            s.createdMs === null ? "-" : String(s.createdMs),
            String(s.runningMs),
            String(s.healthyMs),
            String(s.containersPerSecond),
            String(median(crash)),
          ],
        ),
      ),
    );
    const file = await writeResult("docker", result);
    console.log(`docker: wrote ${file}`);
    return result;
  } finally {
    await Promise.all(agents.map((a) => a.stop()));
    untrackAgents();
    await killCluster(cluster);
    untrack();
    const ids = (await docker.listContainers({ all: true, filters: { label: ["io.micro-orchestrator.managed=true"] } }))
      .filter((c) => (c.Labels["io.micro-orchestrator.deployment"] ?? "").startsWith("bench-"))
      .map((c) => c.Id);
    for (const id of ids) await docker.getContainer(id).remove({ force: true });
    await engine.stop();
    await rm(root, { recursive: true, force: true });
  }
}
