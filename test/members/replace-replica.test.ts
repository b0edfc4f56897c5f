import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ListDeploymentsRequest,
  MemberListRequest,
  type MemberListResponse,
} from "../../src/gen/orchestrator/v1/orchestrator.js";
import { TestCluster, waitFor } from "../cluster/harness.js";
import { deployMany, longestAckGapMs, WriteLoad } from "../cluster/write-load.js";
import { memberList } from "./member-list.js";

/**
 * Replacing a failed replica, as docs/operations.md tells an operator to: r3's process dies
 * (SIGKILL) with its disk (directory wiped); `member remove r3`, `member add r4`, start r4 with
 * --join. r4 must catch up by snapshot (the log is compacted well past its start), be promoted
 * by the leader's autopilot, hold every acknowledged write, and the cluster r1, r2, r4 must
 * survive a SIGKILL of its leader. Writes run through the whole replacement.
 */
const snapshotEveryEntries = 100;
const snapshotKeepEntries = 20;

let cluster: TestCluster;
const acknowledged: string[] = [];

beforeAll(async () => {
  cluster = await TestCluster.start({
    name: "replace-replica",
    extraArgs: [
      "--snapshot-every",
      String(snapshotEveryEntries),
      "--snapshot-keep",
      String(snapshotKeepEntries),
      // Short, so the leader reports the killed r3 within the test.
      "--autopilot-dead-after",
      "2s",
    ],
  });
}, 60_000);

afterAll(async () => {
  await cluster?.close();
}, 60_000);

const members = (): Promise<MemberListResponse> => memberList(cluster);

async function expectRefused(args: readonly string[], status: string, text: RegExp): Promise<void> {
  const result = await cluster.orchctl([...args, "-o", "json"]);
  expect(result.code, result.stdout).toBe(1);
  const { error } = JSON.parse(result.stdout) as { error: { code: string; message: string } };
  expect(error.code, error.message).toBe(status);
  expect(error.message).toMatch(text);
}

describe("replacing a failed replica", () => {
  it("refuses bad member operations and changes nothing", async () => {
    const { leaderId } = await cluster.waitForLeader();
    // Enough entries that a learner with nothing is far behind (and the log is compacted).
    await deployMany(cluster, leaderId, "before", 3 * snapshotEveryEntries, (name) => acknowledged.push(name));
    const before = await members();
    const r1 = before.members.find((m) => m.id === "r1")!;
    await expectRefused(
      ["member", "add", "r1", "--raft", "127.0.0.1:1", "--api", "127.0.0.1:2"],
      "ALREADY_EXISTS",
      /r1 already exists/,
    );
    await expectRefused(
      ["member", "add", "r9", "--raft", r1.raftAddress, "--api", "127.0.0.1:2"],
      "ALREADY_EXISTS",
      /already uses/,
    );
    await expectRefused(["member", "remove", "r9"], "NOT_FOUND", /r9 is not a member/);
    await expectRefused(["member", "promote", "r9"], "NOT_FOUND", /r9 is not a member/);
    // A learner that never started: its match index is 0, far behind the commit index.
    const result = await cluster.orchctl(["member", "add", "r5", "--raft", "127.0.0.1:9", "--api", "127.0.0.1:10"]);
    expect(result.code, result.stderr).toBe(0);
    await expectRefused(["member", "promote", "r5"], "FAILED_PRECONDITION", /r5 is \d+ entries behind/);
    expect((await cluster.orchctl(["member", "remove", "r5"])).code).toBe(0);
    const after = await members();
    expect(after.members.map((m) => [m.id, m.suffrage])).toEqual(before.members.map((m) => [m.id, m.suffrage]));
  }, 120_000);

  it("replaces r3 by r4 while writes go on, r4 catches up by snapshot, and the new set survives a leader crash", async () => {
    const load = new WriteLoad(cluster, "during", 2);
    try {
      await waitFor("a few writes under load", () => load.acknowledged().length >= 5, { timeoutMs: 30_000 });
      await cluster.kill("r3", "SIGKILL");
      rmSync(cluster.dataDir("r3"), { recursive: true, force: true });
      const { leaderId: reporter } = await cluster.waitForLeader({ among: ["r1", "r2"] });
      await waitFor("the leader to report r3 unreachable", async () => {
        const response = await fetch(`http://${cluster.cluster.replica(reporter).metricsAddress}/metrics`);
        return /^orchestrator_raft_member_unreachable\{[^}]*member="r3"[^}]*\} 1$/m.test(await response.text());
      });
      const removed = await cluster.orchctl(["member", "remove", "r3"]);
      expect(removed.code, removed.stderr).toBe(0);
      const r4 = await cluster.addReplica("r4");
      const added = await cluster.orchctl(["member", "add", "r4", "--raft", r4.raftAddress, "--api", r4.apiAddress]);
      expect(added.code, added.stderr).toBe(0);
      const { leaderId } = await cluster.waitForLeader({ among: ["r1", "r2"] });
      // More writes than the log keeps, so r4 cannot start from entry 1.
      await deployMany(cluster, leaderId, "compacted", 2 * snapshotEveryEntries, (name) => acknowledged.push(name));
      const joinedAtMs = Date.now();
      cluster.startJoiner("r4", `${cluster.apiAddress("r1")},${cluster.apiAddress("r2")}`);
      const promoted = await waitFor(
        "r4 promoted to voter by the leader",
        async () => {
          const list = await members();
          const m = list.members.find((x) => x.id === "r4");
          return m?.suffrage === "voter" ? list : undefined;
        },
        { timeoutMs: 60_000 },
      );
      process.stdout.write(`r4 joined and was promoted in ${Date.now() - joinedAtMs} ms\n`);
      expect(promoted.members.map((m) => m.id)).toEqual(["r1", "r2", "r4"]);
      await waitFor("r4 to have received a snapshot", async () =>
        (await cluster.logLines(leaderId)).some((l) => l.msg === "snapshot sent" && JSON.stringify(l).includes("r4")),
      );
      // r4's record in the replicated membership carries its addresses: followers redirect there.
      const r4Entry = promoted.members.find((m) => m.id === "r4")!;
      expect([r4Entry.raftAddress, r4Entry.apiAddress]).toEqual([r4.raftAddress, r4.apiAddress]);
    } finally {
      await load.stop();
    }
    const gapMs = longestAckGapMs(load.records);
    process.stdout.write(
      `writes during the replacement: ${load.acknowledged().length} acknowledged, longest gap ${gapMs} ms\n`,
    );
    acknowledged.push(...load.acknowledged());
    const leader = await cluster.waitForLeader({ among: ["r1", "r2", "r4"] });
    const commit = (await cluster.status(leader.leaderId)).commitIndex;
    await waitFor("r4 to apply everything committed", async () => (await cluster.status("r4")).appliedIndex >= commit);
    const names = new Set(
      (
        await cluster.call("r4", "listDeployments", ListDeploymentsRequest.fromPartial({ stale: true }))
      ).deployments.map((d) => d.spec!.name),
    );
    expect(acknowledged.filter((name) => !names.has(name))).toEqual([]);

    await cluster.kill(leader.leaderId, "SIGKILL");
    const survivors = ["r1", "r2", "r4"].filter((id) => id !== leader.leaderId);
    const next = await cluster.waitForLeader({ among: survivors });
    expect(next.leaderId).not.toBe(leader.leaderId);
    const write = await cluster.orchctl([
      "deploy",
      "after-leader-crash",
      "--image",
      "nginx:1.27",
      "--cpu",
      "100m",
      "--memory",
      "64Mi",
    ]);
    expect(write.code, write.stderr).toBe(0);
    // A follower redirects to the new leader's real API address, from the replicated membership.
    const follower = survivors.find((id) => id !== next.leaderId)!;
    const list = await cluster.failure(follower, "memberList", MemberListRequest.fromPartial({}));
    expect(list.metadata?.get("x-leader-address")).toEqual([cluster.apiAddress(next.leaderId)]);
  }, 240_000);
});
