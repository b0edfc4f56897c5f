import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MemberListResponse } from "../../src/gen/orchestrator/v1/orchestrator.js";
import { TestCluster, waitFor } from "../cluster/harness.js";
import { memberList } from "./member-list.js";

/**
 * --autopilot-remove-dead: with a fourth member promoted, a voter that stops answering for
 * --autopilot-dead-after is removed by the leader itself, and three voters remain.
 */
let cluster: TestCluster;

beforeAll(async () => {
  cluster = await TestCluster.start({
    name: "autopilot-remove-dead",
    extraArgs: ["--autopilot-remove-dead", "--autopilot-dead-after", "2s"],
  });
}, 60_000);

afterAll(async () => {
  await cluster?.close();
}, 60_000);

const members = (): Promise<MemberListResponse> => memberList(cluster);

const voters = (list: MemberListResponse) =>
  list.members
    .filter((m) => m.suffrage === "voter")
    .map((m) => m.id)
    .join(",");

describe("autopilot", () => {
  it("removes a dead voter while three voters remain after it, and never goes below three", async () => {
    await cluster.waitForLeader();
    const r4 = await cluster.addReplica("r4");
    const added = await cluster.orchctl(["member", "add", "r4", "--raft", r4.raftAddress, "--api", r4.apiAddress]);
    expect(added.code, added.stderr).toBe(0);
    cluster.startJoiner("r4", `${cluster.apiAddress("r1")},${cluster.apiAddress("r2")},${cluster.apiAddress("r3")}`);
    await waitFor("r4 promoted", async () => voters(await members()) === "r1,r2,r3,r4", { timeoutMs: 60_000 });
    const { leaderId } = await cluster.waitForLeader({ among: ["r1", "r2", "r3", "r4"] });
    const victim = ["r1", "r2", "r3", "r4"].find((id) => id !== leaderId)!;
    await cluster.kill(victim, "SIGKILL");
    const after = await waitFor(
      `${victim} removed by the leader`,
      async () => {
        const list = await members();
        return list.members.some((m) => m.id === victim) ? undefined : list;
      },
      { timeoutMs: 60_000 },
    );
    expect(after.members.filter((m) => m.suffrage === "voter")).toHaveLength(3);
    // Three voters left: another dead one is reported, never removed.
    const second = ["r1", "r2", "r3", "r4"].find((id) => id !== leaderId && id !== victim)!;
    await cluster.kill(second, "SIGKILL");
    const reporter = after.leaderId;
    await waitFor(`the leader to report ${second} unreachable`, async () => {
      const response = await fetch(`http://${cluster.cluster.replica(reporter).metricsAddress}/metrics`);
      const text = await response.text();
      return new RegExp(`^orchestrator_raft_member_unreachable\\{[^}]*member="${second}"[^}]*\\} 1$`, "m").test(text);
    });
    expect((await members()).members.filter((m) => m.suffrage === "voter").map((m) => m.id)).toContain(second);
  }, 180_000);
});
