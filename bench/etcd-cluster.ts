/**
 * A three-member etcd cluster on loopback for side-by-side benchmarks: random ports, a temporary
 * data directory per member, each member's log in logDir. Members are started, SIGKILLed and
 * restarted by PID, like ProcessCluster does for our replicas.
 */
import * as grpc from "@grpc/grpc-js";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync, type WriteStream } from "node:fs";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort } from "../dev/local-cluster/free-port.js";
import { EtcdChannel, type EtcdStatus } from "./etcd-client.js";
import { trackProcesses } from "./process-guard.js";

const etcdCandidates = ["/usr/bin/etcd", "/usr/local/bin/etcd"];

export interface EtcdInstall {
  readonly binary: string;
  readonly version: string;
}

/** Finds etcd (ETCD_BIN, the usual paths, then PATH); null when it is not installed. */
export function detectEtcd(): EtcdInstall | null {
  const fromEnv = process.env["ETCD_BIN"];
  const candidates = [...(fromEnv !== undefined && fromEnv !== "" ? [fromEnv] : []), ...etcdCandidates, "etcd"];
  for (const binary of candidates) {
    if (binary.includes("/") && !existsSync(binary)) continue;
    const result = spawnSync(binary, ["--version"], { encoding: "utf8", timeout: 5_000 });
    if (result.status !== 0 || typeof result.stdout !== "string") continue;
    const match = /etcd Version:\s*(\S+)/.exec(result.stdout);
    return { binary, version: match?.[1] ?? "unknown" };
  }
  return null;
}

export interface EtcdClusterOptions {
  readonly install: EtcdInstall;
  readonly dataRoot: string;
  readonly logDir: string;
  readonly members?: number;
  /** Milliseconds; undefined leaves etcd's default (100). */
  readonly heartbeatIntervalMs?: number;
  /** Milliseconds; undefined leaves etcd's default (1000). */
  readonly electionTimeoutMs?: number;
  /**
   * An `orchctl pki init` directory: client and peer TLS with client certificates required on
   * both (member eN serves rN.pem, which names 127.0.0.1; clients present admin.pem), so that
   * etcd and our replicas are measured with certificates of one CA.
   */
  readonly tlsDir?: string;
}

interface EtcdMember {
  readonly name: string;
  readonly clientAddress: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  child: ChildProcess | null;
  exited: Promise<number | null>;
}

const etcdLimits = {
  leaderWaitMs: 20_000,
  statusTimeoutMs: 500,
  pollMs: 20,
} as const;

export class EtcdCluster {
  readonly members: EtcdMember[] = [];
  private readonly logStreams = new Map<string, WriteStream>();
  private readonly untrack: () => void;
  private readonly token = `bench-${process.pid}-${Date.now()}`;

  private constructor(private readonly options: EtcdClusterOptions) {
    this.untrack = trackProcesses(() => this.pids());
  }

  static async start(options: EtcdClusterOptions): Promise<EtcdCluster> {
    const cluster = new EtcdCluster(options);
    rmSync(options.dataRoot, { recursive: true, force: true });
    for (let i = 1; i <= (options.members ?? 3); i++) {
      const name = `e${i}`;
      const scheme = options.tlsDir === undefined ? "http" : "https";
      cluster.members.push({
        name,
        clientAddress: `127.0.0.1:${await freePort()}`,
        peerUrl: `${scheme}://127.0.0.1:${await freePort()}`,
        dataDir: path.join(options.dataRoot, name),
        child: null,
        exited: Promise.resolve(null),
      });
    }
    for (const member of cluster.members) cluster.spawnMember(member);
    return cluster;
  }

  /** What a client presents: admin.pem of the PKI with `tlsDir`, else nothing (plaintext). */
  clientCredentials(): grpc.ChannelCredentials {
    const dir = this.options.tlsDir;
    if (dir === undefined) return grpc.credentials.createInsecure();
    const read = (name: string) => readFileSync(path.join(dir, name));
    return grpc.credentials.createSsl(read("ca.pem"), read("admin-key.pem"), read("admin.pem"));
  }

  member(name: string): EtcdMember {
    const member = this.members.find((m) => m.name === name);
    if (member === undefined) throw new Error(`no etcd member ${name}`);
    return member;
  }

  pids(): number[] {
    return this.members.flatMap((m) => (m.child?.pid === undefined ? [] : [m.child.pid]));
  }

  async kill(name: string, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const member = this.member(name);
    if (member.child === null) return;
    member.child.kill(signal);
    await member.exited;
    member.child = null;
  }

  restart(name: string): void {
    const member = this.member(name);
    if (member.child !== null) throw new Error(`etcd member ${name} is still running`);
    this.spawnMember(member);
  }

  async stop(): Promise<void> {
    await Promise.all(this.members.map((m) => this.kill(m.name, "SIGKILL")));
    for (const stream of this.logStreams.values()) stream.end();
    this.untrack();
    rmSync(this.options.dataRoot, { recursive: true, force: true });
  }

  /** Each running member's view; unreachable members are left out. */
  async statuses(): Promise<{ member: EtcdMember; status: EtcdStatus }[]> {
    const out: { member: EtcdMember; status: EtcdStatus }[] = [];
    await Promise.all(
      this.members
        .filter((m) => m.child !== null)
        .map(async (member) => {
          const channel = new EtcdChannel(member.clientAddress, this.clientCredentials());
          try {
            out.push({ member, status: await channel.status(etcdLimits.statusTimeoutMs) });
          } catch {
            // Not up yet.
          } finally {
            channel.close();
          }
        }),
    );
    return out;
  }

  /** Waits until a running member reports itself leader and every running member agrees. */
  async waitForLeader(timeoutMs: number = etcdLimits.leaderWaitMs): Promise<EtcdMember> {
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      const views = await this.statuses();
      const running = this.members.filter((m) => m.child !== null).length;
      const leaders = new Set(views.map((v) => v.status.leaderId));
      if (views.length === running && leaders.size === 1) {
        const leaderView = views.find((v) => v.status.memberId === v.status.leaderId);
        if (leaderView !== undefined) return leaderView.member;
      }
      await sleep(etcdLimits.pollMs);
    }
    throw new Error(`etcd elected no leader within ${timeoutMs} ms; see ${this.options.logDir}`);
  }

  /** Waits until `name` has applied at least what the leader had committed when called. */
  async waitCaughtUp(name: string, timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    let target = -1;
    while (performance.now() < deadline) {
      const views = await this.statuses();
      const leader = views.find((v) => v.status.memberId === v.status.leaderId && v.status.leaderId !== "0");
      const me = views.find((v) => v.member.name === name);
      if (target < 0 && leader !== undefined) target = leader.status.raftIndex;
      if (target >= 0 && me !== undefined && me.status.leaderId !== "0" && me.status.raftAppliedIndex >= target) return;
      await sleep(etcdLimits.pollMs);
    }
    throw new Error(`etcd member ${name} did not catch up within ${timeoutMs} ms`);
  }

  /** Client and peer TLS (etcd's --cert-file ... --peer-client-cert-auth) from the PKI, member eN as rN. */
  private tlsArgs(member: EtcdMember): string[] {
    const dir = this.options.tlsDir;
    if (dir === undefined) return [];
    const ca = path.join(dir, "ca.pem");
    const cert = path.join(dir, `${member.name.replace(/^e/, "r")}.pem`);
    const key = path.join(dir, `${member.name.replace(/^e/, "r")}-key.pem`);
    return [
      ...["--cert-file", cert, "--key-file", key, "--trusted-ca-file", ca, "--client-cert-auth"],
      ...["--peer-cert-file", cert, "--peer-key-file", key, "--peer-trusted-ca-file", ca, "--peer-client-cert-auth"],
    ];
  }

  private spawnMember(member: EtcdMember): void {
    mkdirSync(member.dataDir, { recursive: true });
    const initialCluster = this.members.map((m) => `${m.name}=${m.peerUrl}`).join(",");
    const clientUrl = `${this.options.tlsDir === undefined ? "http" : "https"}://${member.clientAddress}`;
    const args = [
      "--name",
      member.name,
      "--data-dir",
      member.dataDir,
      "--listen-client-urls",
      clientUrl,
      "--advertise-client-urls",
      clientUrl,
      "--listen-peer-urls",
      member.peerUrl,
      "--initial-advertise-peer-urls",
      member.peerUrl,
      "--initial-cluster",
      initialCluster,
      "--initial-cluster-token",
      this.token,
      "--initial-cluster-state",
      "new",
      "--logger",
      "zap",
      "--log-outputs",
      "stderr",
      ...this.tlsArgs(member),
      ...(this.options.heartbeatIntervalMs !== undefined
        ? ["--heartbeat-interval", String(this.options.heartbeatIntervalMs)]
        : []),
      ...(this.options.electionTimeoutMs !== undefined
        ? ["--election-timeout", String(this.options.electionTimeoutMs)]
        : []),
    ];
    const child = spawn(this.options.install.binary, args, { stdio: ["ignore", "ignore", "pipe"] });
    mkdirSync(this.options.logDir, { recursive: true });
    let stream = this.logStreams.get(member.name);
    if (stream === undefined) {
      stream = createWriteStream(path.join(this.options.logDir, `${member.name}.log`), { flags: "a" });
      this.logStreams.set(member.name, stream);
    }
    child.stderr?.pipe(stream, { end: false });
    member.child = child;
    member.exited = new Promise((resolve) => child.once("exit", (code) => resolve(code)));
  }
}
