/**
 * Failover: SIGKILL the leader of a three-replica cluster 20 times under a light write load and
 * measure, each time, the gap between the last write acknowledged before the kill and the first
 * acknowledged after it (by another replica). One writer, a write every ~5 ms, through a client
 * that follows the leader and retries at once (following-writer.ts). After each kill the replica
 * is restarted and the next round waits until it has caught up. Side by side with etcd (20 kills,
 * --heartbeat-interval 50 --election-timeout 300) when it is installed.
 *
 * For our cluster each round also reads the replicas' logs to tell which mechanism started the
 * election that ended the gap: the transport's "connection to the leader lost" fast path, or the
 * election timeout.
 */
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import * as os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { fixed, loadAverage, machineInfo, round, table, writeResult } from "./bench-report.js";
import { detectEtcd, EtcdCluster, type EtcdInstall } from "./etcd-cluster.js";
import { EtcdFollowingSystem, FollowingWriter, OursFollowingSystem, type FollowingSystem } from "./following-writer.js";
import { trackTempDir } from "./process-guard.js";
import { runLoad, summarize, type LoadResult } from "./load-generator.js";
import {
  benchDeploymentSpec,
  deploy,
  findLeader,
  killCluster,
  orchestratorChannel,
  startTrackedCluster,
  waitAllCaughtUp,
} from "./orchestrator-bench-client.js";

export interface FailoverBenchOptions {
  readonly rounds?: number;
  readonly writeIntervalMs?: number;
  readonly skipEtcd?: boolean;
  readonly replicaEnv?: NodeJS.ProcessEnv;
  /** Keep the data and log directories (printed) instead of deleting them. */
  readonly keepFiles?: boolean;
}

const failoverDefaults = {
  rounds: 20,
  writeIntervalMs: 5,
  /** Acknowledged writes required since the previous restart before the next kill. */
  steadyAcksMin: 20,
  gapWaitMs: 15_000,
  catchUpMs: 30_000,
  clusterReadyMs: 30_000,
  /** Each system's rounds stop early past this, so the benchmark stays bounded. */
  systemBudgetMs: 85_000,
  /** Random extra wait before a kill, so kills land at random points of the heartbeat cycle. */
  killJitterMsMax: 20,
  etcdHeartbeatMs: 50,
  etcdElectionMs: 300,
  etcdValueBytes: 256,
} as const;

interface Election {
  /** "leader-connection-lost": the winner campaigned because its transport saw the leader's connection die; "election-timeout": it did not. */
  readonly mechanism: string;
  readonly newLeader: string;
  readonly term: number | null;
  /** From the kill to the first survivor's "connection to the leader lost" line (ms; log times have ms resolution). */
  readonly connectionLostAfterMs: number | null;
  /** From the kill to the new leader's "became leader" line. */
  readonly becameLeaderAfterMs: number | null;
  /** Terms in which two survivors were candidates at once (each voted for itself: no majority, so a full election timeout followed). */
  readonly splitVoteTerms: number;
}

interface Round {
  readonly round: number;
  readonly killed: string;
  readonly gapMs: number | null;
  /** From the SIGKILL to the first acknowledgement by another replica. */
  readonly killToFirstAckMs: number | null;
  readonly newLeader: string | null;
  readonly election: Election | null;
  readonly restartToCaughtUpMs: number;
  /** Failed attempts between the kill and the first acknowledgement: count, and the slowest one. */
  readonly failedAttempts: number;
  readonly slowestFailedAttempt: { readonly endpoint: string; readonly ms: number; readonly error: string } | null;
}

interface SystemUnderTest {
  readonly name: string;
  readonly ids: readonly string[];
  readonly system: FollowingSystem;
  leaderIndex(): Promise<number>;
  kill(index: number): Promise<void>;
  restart(index: number): void;
  waitCaughtUp(index: number): Promise<void>;
  election(killWallMs: number, survivors: readonly number[], newLeader: number): Election | null;
}

interface LogLine {
  readonly ms: number;
  readonly msg: string;
  readonly term: number | null;
}

function readLogLines(file: string, sinceMs: number): LogLine[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return [];
  }
  const out: LogLine[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith("{")) continue;
    let parsed: { time?: string | number; ts?: string | number; msg?: string; term?: number };
    try {
      parsed = JSON.parse(line) as typeof parsed;
    } catch {
      continue;
    }
    const stamp = parsed.time ?? parsed.ts;
    const ms =
      typeof stamp === "number"
        ? stamp < 1e11
          ? stamp * 1000
          : stamp
        : typeof stamp === "string"
          ? Date.parse(stamp)
          : NaN;
    if (!Number.isFinite(ms) || ms < sinceMs) continue;
    out.push({ ms, msg: parsed.msg ?? "", term: typeof parsed.term === "number" ? parsed.term : null });
  }
  return out;
}

/** The round's election as our replicas' logs tell it. */
function oursElection(
  logFiles: readonly string[],
  ids: readonly string[],
  killWallMs: number,
  survivors: readonly number[],
  newLeader: number,
): Election {
  // Log times are whole milliseconds; allow the kill's own millisecond.
  const since = killWallMs - 1;
  const lostTimes: number[] = [];
  let winnerLost: number | null = null;
  let became: LogLine | undefined;
  const candidatesByTerm = new Map<number, number>();
  for (const i of survivors) {
    const lines = readLogLines(logFiles[i], since);
    for (const l of lines)
      if (l.msg.startsWith("role candidate") && l.term !== null)
        candidatesByTerm.set(l.term, (candidatesByTerm.get(l.term) ?? 0) + 1);
    const lost = lines.find((l) => l.msg.startsWith("connection to the leader lost"));
    if (lost !== undefined) lostTimes.push(lost.ms);
    if (i === newLeader) {
      became = lines.find((l) => l.msg === "became leader");
      if (lost !== undefined && (became === undefined || lost.ms <= became.ms)) winnerLost = lost.ms;
    }
  }
  return {
    mechanism: winnerLost !== null ? "leader-connection-lost" : "election-timeout",
    newLeader: ids[newLeader],
    term: became?.term ?? null,
    connectionLostAfterMs: lostTimes.length === 0 ? null : Math.min(...lostTimes) - killWallMs,
    becameLeaderAfterMs: became === undefined ? null : became.ms - killWallMs,
    splitVoteTerms: [...candidatesByTerm.entries()].filter(
      ([term, n]) => n >= 2 && (became?.term === null || became === undefined || term <= became.term),
    ).length,
  };
}

/** etcd's zap log: "<id> became leader at term N" on the winner. */
function etcdElection(
  logFiles: readonly string[],
  ids: readonly string[],
  killWallMs: number,
  _survivors: readonly number[],
  newLeader: number,
): Election {
  const lines = readLogLines(logFiles[newLeader], killWallMs - 1);
  const became = lines.find((l) => / became leader at term /.test(l.msg));
  const term = became === undefined ? null : Number(/term (\d+)/.exec(became.msg)?.[1] ?? NaN);
  return {
    mechanism: "election-timeout",
    newLeader: ids[newLeader],
    term: term !== null && Number.isFinite(term) ? term : null,
    connectionLostAfterMs: null,
    becameLeaderAfterMs: became === undefined ? null : became.ms - killWallMs,
    splitVoteTerms: 0,
  };
}

async function waitFor<T>(probe: () => T | undefined, timeoutMs: number, stepMs = 2): Promise<T | undefined> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (performance.now() > deadline) return undefined;
    await sleep(stepMs);
  }
}

interface SystemRun {
  readonly rounds: Round[];
  readonly writes: LoadResult;
  readonly attempts: number;
  readonly stoppedEarly: boolean;
  readonly loadAverage: readonly number[];
}

async function runRounds(sut: SystemUnderTest, rounds: number, writeIntervalMs: number): Promise<SystemRun> {
  const writer = new FollowingWriter(sut.system);
  await writer.start();
  const controller = new AbortController();
  let seq = 1;
  const load = runLoad(() => writer.write(++seq, controller.signal), {
    concurrency: 1,
    intervalMs: writeIntervalMs,
    durationMs: 5 * 60_000,
    signal: controller.signal,
  });
  const results: Round[] = [];
  const began = performance.now();
  let stoppedEarly = false;
  try {
    for (let r = 1; r <= rounds; r++) {
      if (performance.now() - began > failoverDefaults.systemBudgetMs) {
        stoppedEarly = true;
        break;
      }
      const acksBefore = writer.acks.length;
      await waitFor(
        () => (writer.acks.length - acksBefore >= failoverDefaults.steadyAcksMin ? true : undefined),
        failoverDefaults.gapWaitMs,
      );
      const leader = await sut.leaderIndex();
      await sleep(Math.random() * failoverDefaults.killJitterMsMax);
      const killWallMs = Date.now();
      const killMs = performance.now();
      await sut.kill(leader);
      const first = await waitFor(() => writer.firstAckAfter(killMs, leader), failoverDefaults.gapWaitMs);
      const last = writer.lastAckAtOrBefore(killMs);
      const survivors = sut.ids.map((_, i) => i).filter((i) => i !== leader);
      const restartedAt = performance.now();
      sut.restart(leader);
      await sut.waitCaughtUp(leader);
      await sut.system.warm();
      const restartToCaughtUpMs = performance.now() - restartedAt;
      const failed = writer.failedAttempts.filter(
        (a) => a.endMs >= killMs && (first === undefined || a.startMs <= first.atMs),
      );
      const slowest = failed.reduce<(typeof failed)[number] | null>(
        (worst, a) => (worst === null || a.endMs - a.startMs > worst.endMs - worst.startMs ? a : worst),
        null,
      );
      // Read the logs after the catch-up: by then the election's lines have been flushed.
      const election = first === undefined ? null : sut.election(killWallMs, survivors, first.endpoint);
      const round: Round = {
        round: r,
        killed: sut.ids[leader],
        gapMs: first === undefined || last === undefined ? null : first.atMs - last.atMs,
        killToFirstAckMs: first === undefined ? null : first.atMs - killMs,
        newLeader: first === undefined ? null : sut.ids[first.endpoint],
        election,
        restartToCaughtUpMs,
        failedAttempts: failed.length,
        slowestFailedAttempt:
          slowest === null
            ? null
            : {
                endpoint: sut.ids[slowest.endpoint],
                ms: Math.round(slowest.endMs - slowest.startMs),
                error: slowest.error,
              },
      };
      results.push(round);
      const split =
        election === null || election.splitVoteTerms === 0 ? "" : `, ${election.splitVoteTerms} split vote(s)`;
      const how =
        election === null
          ? ""
          : `, ${election.mechanism}${election.becameLeaderAfterMs === null ? "" : `, leader after ${election.becameLeaderAfterMs} ms`}${split}`;
      const stuck =
        round.slowestFailedAttempt !== null && round.slowestFailedAttempt.ms >= 100
          ? `; a write attempt at ${round.slowestFailedAttempt.endpoint} failed after ${round.slowestFailedAttempt.ms} ms (${round.slowestFailedAttempt.error})`
          : "";
      console.log(
        `  ${sut.name.padEnd(4)} round ${String(r).padStart(2)}: killed ${round.killed}, gap ${fixed(round.gapMs, 1)} ms (kill->ack ${fixed(round.killToFirstAckMs, 1)} ms), new leader ${round.newLeader ?? "none"}${how}; caught up in ${fixed(restartToCaughtUpMs, 0)} ms${stuck}`,
      );
    }
  } finally {
    controller.abort();
  }
  const writes = await load;
  return { rounds: results, writes, attempts: writer.attempts, stoppedEarly, loadAverage: loadAverage() };
}

async function oursRun(
  options: Required<Pick<FailoverBenchOptions, "rounds" | "writeIntervalMs">> & FailoverBenchOptions,
  root: string,
): Promise<SystemRun> {
  const dir = path.join(root, "ours");
  const logDir = path.join(dir, "logs");
  const { cluster, untrack } = await startTrackedCluster({
    ports: "random",
    dataRoot: path.join(dir, "data"),
    wipe: true,
    logDir,
    ...(options.replicaEnv !== undefined ? { env: options.replicaEnv } : {}),
  });
  const endpoints = cluster.replicas.map((r) => r.apiAddress);
  const ids = cluster.replicas.map((r) => r.id);
  const logFiles = cluster.replicas.map((r) => r.logFile ?? "");
  const system = new OursFollowingSystem(endpoints, `bench-failover-${process.pid}`, "failover-probe");
  try {
    await waitAllCaughtUp(endpoints, failoverDefaults.clusterReadyMs);
    const leader = await findLeader(endpoints);
    const client = orchestratorChannel(leader.apiAddress);
    await deploy(
      client,
      {
        header: { clientId: `bench-failover-setup-${process.pid}`, seq: 1 },
        spec: { ...benchDeploymentSpec("failover-probe"), replicas: 0 },
      },
      5_000,
    );
    client.close();
    const sut: SystemUnderTest = {
      name: "ours",
      ids,
      system,
      leaderIndex: async () => endpoints.indexOf((await findLeader(endpoints)).apiAddress),
      kill: async (i) => {
        await cluster.kill(ids[i], "SIGKILL");
      },
      restart: (i) => cluster.restart(ids[i]),
      waitCaughtUp: () => waitAllCaughtUp(endpoints, failoverDefaults.catchUpMs),
      election: (killWallMs, survivors, newLeader) => oursElection(logFiles, ids, killWallMs, survivors, newLeader),
    };
    return await runRounds(sut, options.rounds, options.writeIntervalMs);
  } finally {
    system.close();
    await killCluster(cluster);
    untrack();
  }
}

async function etcdRun(
  options: Required<Pick<FailoverBenchOptions, "rounds" | "writeIntervalMs">>,
  install: EtcdInstall,
  root: string,
): Promise<SystemRun> {
  const dir = path.join(root, "etcd");
  const logDir = path.join(dir, "logs");
  const cluster = await EtcdCluster.start({
    install,
    dataRoot: path.join(dir, "data"),
    logDir,
    heartbeatIntervalMs: failoverDefaults.etcdHeartbeatMs,
    electionTimeoutMs: failoverDefaults.etcdElectionMs,
  });
  const endpoints = cluster.members.map((m) => m.clientAddress);
  const ids = cluster.members.map((m) => m.name);
  const logFiles = ids.map((id) => path.join(logDir, `${id}.log`));
  const system = new EtcdFollowingSystem(endpoints, "/bench/failover", failoverDefaults.etcdValueBytes);
  try {
    await cluster.waitForLeader(failoverDefaults.clusterReadyMs);
    const sut: SystemUnderTest = {
      name: "etcd",
      ids,
      system,
      leaderIndex: async () => cluster.members.indexOf(await cluster.waitForLeader(failoverDefaults.clusterReadyMs)),
      kill: (i) => cluster.kill(ids[i], "SIGKILL"),
      restart: (i) => cluster.restart(ids[i]),
      waitCaughtUp: (i) => cluster.waitCaughtUp(ids[i], failoverDefaults.catchUpMs),
      election: (killWallMs, survivors, newLeader) => etcdElection(logFiles, ids, killWallMs, survivors, newLeader),
    };
    return await runRounds(sut, options.rounds, options.writeIntervalMs);
  } finally {
    system.close();
    await cluster.stop();
  }
}

function gapsWhere(run: SystemRun, split: boolean): { rounds: number; p50Ms: number | null; maxMs: number | null } {
  const gaps = run.rounds
    .filter((r) => r.gapMs !== null && (r.election?.splitVoteTerms ?? 0) > 0 === split)
    .map((r) => r.gapMs as number);
  const s = summarize(gaps);
  return {
    rounds: gaps.length,
    p50Ms: gaps.length === 0 ? null : round(s.p50Ms, 1),
    maxMs: gaps.length === 0 ? null : round(s.maxMs, 1),
  };
}

function gapSummary(run: SystemRun) {
  const gaps = run.rounds.flatMap((r) => (r.gapMs === null ? [] : [r.gapMs]));
  const s = summarize(gaps);
  const mechanisms: Record<string, number> = {};
  for (const r of run.rounds)
    if (r.election !== null) mechanisms[r.election.mechanism] = (mechanisms[r.election.mechanism] ?? 0) + 1;
  const elected = summarize(
    run.rounds.flatMap((r) =>
      r.election === null || r.election.becameLeaderAfterMs === null ? [] : [r.election.becameLeaderAfterMs],
    ),
  );
  return {
    kills: run.rounds.length,
    roundsWithoutRecovery: run.rounds.filter((r) => r.gapMs === null).length,
    gapP50Ms: round(s.p50Ms, 1),
    gapP90Ms: round(s.p90Ms, 1),
    gapMaxMs: round(s.maxMs, 1),
    gapMeanMs: round(s.meanMs, 1),
    becameLeaderAfterKillP50Ms: Number.isNaN(elected.p50Ms) ? null : elected.p50Ms,
    becameLeaderAfterKillMaxMs: Number.isNaN(elected.maxMs) ? null : elected.maxMs,
    electionMechanisms: mechanisms,
    roundsWithSplitVote: run.rounds.filter((r) => (r.election?.splitVoteTerms ?? 0) > 0).length,
    gapWithoutSplitVote: gapsWhere(run, false),
    gapWithSplitVote: gapsWhere(run, true),
    writes: {
      ok: run.writes.ok,
      errors: run.writes.errors,
      attempts: run.attempts,
      p50Ms: round(run.writes.p50Ms, 3),
      p99Ms: round(run.writes.p99Ms, 3),
      maxMs: round(run.writes.maxMs, 1),
    },
    stoppedEarly: run.stoppedEarly,
    loadAverage: run.loadAverage,
    rounds: run.rounds.map((r) => ({
      ...r,
      gapMs: r.gapMs === null ? null : round(r.gapMs, 2),
      killToFirstAckMs: r.killToFirstAckMs === null ? null : round(r.killToFirstAckMs, 2),
      restartToCaughtUpMs: Math.round(r.restartToCaughtUpMs),
    })),
  };
}

export async function benchFailover(options: FailoverBenchOptions = {}): Promise<unknown> {
  const opts = {
    ...options,
    rounds: options.rounds ?? failoverDefaults.rounds,
    writeIntervalMs: options.writeIntervalMs ?? failoverDefaults.writeIntervalMs,
  };
  const machine = machineInfo();
  const install = options.skipEtcd === true ? null : detectEtcd();
  console.log(
    `\nfailover: ${opts.rounds} SIGKILLs of the leader, one writer, a write every ~${opts.writeIntervalMs} ms, replica restarted and caught up after each`,
  );
  console.log(
    "  ours: Scale writes with a RequestHeader; after a failure the writer follows x-leader-address or tries the next replica at once (2 ms pause per full round)",
  );
  if (install === null)
    console.log(options.skipEtcd === true ? "  etcd: skipped" : "  etcd: not installed: skipping the etcd side");
  else
    console.log(
      `  etcd ${install.version}: ${failoverDefaults.etcdValueBytes} B Puts, --heartbeat-interval ${failoverDefaults.etcdHeartbeatMs} --election-timeout ${failoverDefaults.etcdElectionMs}; after a failure the writer polls Maintenance.Status every 2 ms and writes to the member that reports itself leader (with etcd's defaults, 100/1000 ms, the gap was ~1.1 s on this machine)`,
    );
  console.log(`  load average at start: ${machine.loadAverageAtStart.join(" ")} on ${machine.machineCores} cores`);

  const root = await mkdtemp(path.join(os.tmpdir(), "orch-bench-failover-"));
  const untrackRoot = options.keepFiles === true ? () => false : trackTempDir(root);
  let ours: SystemRun;
  let etcd: SystemRun | null = null;
  try {
    ours = await oursRun(opts, root);
    if (install !== null) etcd = await etcdRun(opts, install, root);
  } finally {
    untrackRoot();
    if (options.keepFiles === true) console.log(`  kept data and logs in ${root}`);
    else await rm(root, { recursive: true, force: true });
  }
  const oursSummary = gapSummary(ours);
  const etcdSummary = etcd === null ? null : gapSummary(etcd);
  const targets = { gapP50BelowMs: 150, gapMaxBelowMs: 500 };
  const met = { p50: oursSummary.gapP50Ms < targets.gapP50BelowMs, max: oursSummary.gapMaxMs < targets.gapMaxBelowMs };

  console.log("");
  console.log(
    table(
      ["system", "kills", "gap p50 ms", "gap p90 ms", "gap max ms", "leader elected p50 ms", "no recovery"],
      [
        [
          "ours",
          String(oursSummary.kills),
          fixed(oursSummary.gapP50Ms),
          fixed(oursSummary.gapP90Ms),
          fixed(oursSummary.gapMaxMs),
          fixed(oursSummary.becameLeaderAfterKillP50Ms, 0),
          String(oursSummary.roundsWithoutRecovery),
        ],
        ...(etcdSummary === null
          ? []
          : [
              [
                "etcd 50/300",
                String(etcdSummary.kills),
                fixed(etcdSummary.gapP50Ms),
                fixed(etcdSummary.gapP90Ms),
                fixed(etcdSummary.gapMaxMs),
                fixed(etcdSummary.becameLeaderAfterKillP50Ms, 0),
                String(etcdSummary.roundsWithoutRecovery),
              ],
            ]),
      ],
    ),
  );
  console.log(
    `  our elections: ${
      Object.entries(oursSummary.electionMechanisms)
        .map(([k, v]) => `${v} by ${k}`)
        .join(", ") || "unknown"
    }; ${oursSummary.roundsWithSplitVote} of ${oursSummary.kills} rounds had a split vote`,
  );
  const clean = oursSummary.gapWithoutSplitVote;
  const split = oursSummary.gapWithSplitVote;
  if (split.rounds > 0) {
    console.log(
      `  our gaps: without a split vote p50 ${fixed(clean.p50Ms)} / max ${fixed(clean.maxMs)} ms (${clean.rounds} rounds); with one p50 ${fixed(split.p50Ms)} / max ${fixed(split.maxMs)} ms (${split.rounds} rounds)`,
    );
  }
  console.log(
    `  targets: ours gap p50 < ${targets.gapP50BelowMs} ms: ${met.p50 ? "met" : "MISSED"}; max < ${targets.gapMaxBelowMs} ms: ${met.max ? "met" : "MISSED"}`,
  );
  if (etcdSummary !== null)
    console.log(
      `  ratio ours/etcd: gap p50 ${fixed(oursSummary.gapP50Ms / etcdSummary.gapP50Ms, 2)}x, gap max ${fixed(oursSummary.gapMaxMs / etcdSummary.gapMaxMs, 2)}x`,
    );
  const loadAtEnd = loadAverage();
  console.log(`  load average at end: ${loadAtEnd.join(" ")}`);

  const result = {
    name: "failover",
    date: new Date().toISOString(),
    nodeVersion: machine.nodeVersion,
    machineCores: machine.machineCores,
    cpuModel: machine.cpuModel,
    platform: machine.platform,
    loadAverageAtStart: machine.loadAverageAtStart,
    loadAverageAtEnd: loadAtEnd,
    config: { rounds: opts.rounds, writeIntervalMs: opts.writeIntervalMs },
    ours: oursSummary,
    etcd:
      etcdSummary === null || install === null
        ? null
        : {
            version: install.version,
            settings: `--heartbeat-interval ${failoverDefaults.etcdHeartbeatMs} --election-timeout ${failoverDefaults.etcdElectionMs}`,
            ...etcdSummary,
          },
    etcdNote:
      install === null
        ? "etcd not installed"
        : "with etcd's defaults (100/1000 ms) the gap was ~1.1 s on this machine (not re-measured here)",
    ratios:
      etcdSummary === null
        ? null
        : {
            gapP50OursOverEtcd: round(oursSummary.gapP50Ms / etcdSummary.gapP50Ms, 3),
            gapMaxOursOverEtcd: round(oursSummary.gapMaxMs / etcdSummary.gapMaxMs, 3),
          },
    targets: { ...targets, met },
  };
  const file = await writeResult("failover", result);
  console.log(`  wrote ${file}`);
  return result;
}
