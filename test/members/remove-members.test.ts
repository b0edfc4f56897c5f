import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MemberListResponse } from "../../src/gen/orchestrator/v1/orchestrator.js";
import { TestCluster, waitFor } from "../cluster/harness.js";
import { memberList } from "./member-list.js";

/**
 * Removing members down to one: removing the leader hands leadership over first (the client
 * follows the redirect and the new leader removes the old one), and the last voter is refused.
 * A replica started with --join before `member add` is refused with the command to run.
 */
let cluster: TestCluster;

beforeAll(async () => {
  cluster = await TestCluster.start({ name: "remove-members" });
}, 60_000);

afterAll(async () => {
  await cluster?.close();
}, 60_000);

const members = (): Promise<MemberListResponse> => memberList(cluster);

describe("member remove", () => {
  it("refuses a --join replica the cluster has not added", async () => {
    await cluster.waitForLeader();
    await cluster.addReplica("r6");
    cluster.startJoiner("r6");
    const code = await cluster.exitOf("r6");
    expect(code).not.toBe(0);
    const log = await cluster.log("r6");
    expect(log).toMatch(/replica r6 is not a member of the cluster/);
    expect(log).toMatch(/run `orchctl member add r6 --raft 127\.0\.0\.1:\d+ --api 127\.0\.0\.1:\d+` first/);
  }, 60_000);

  it("removes the leader after handing leadership over, then refuses to remove the last voter", async () => {
    const { leaderId } = await cluster.waitForLeader({ among: ["r1", "r2", "r3"] });
    const removed = await cluster.orchctl(["member", "remove", leaderId]);
    expect(removed.code, removed.stderr).toBe(0);
    const after = await members();
    expect(after.leaderId).not.toBe(leaderId);
    expect(after.members.map((m) => m.id)).not.toContain(leaderId);
    expect(after.members.filter((m) => m.suffrage === "voter")).toHaveLength(2);
    // The removed replica steps down for good and the remaining pair keeps serving.
    const pair = ["r1", "r2", "r3"].filter((id) => id !== leaderId);
    const write = await cluster.orchctl(["deploy", "after-removing-the-leader", "--image", "nginx:1.27"]);
    expect(write.code, write.stderr).toBe(0);
    const follower = pair.find((id) => id !== after.leaderId)!;
    expect((await cluster.orchctl(["member", "remove", follower])).code).toBe(0);
    const last = await cluster.orchctl(["member", "remove", after.leaderId, "-o", "json"]);
    expect(last.code).toBe(1);
    const { error } = JSON.parse(last.stdout) as { error: { code: string; message: string } };
    expect(error.code).toBe("FAILED_PRECONDITION");
    expect(error.message).toMatch(/is the last voter/);
    await waitFor("the last voter still leads and serves", async () => {
      const list = await members();
      return (
        list.members
          .filter((m) => m.suffrage === "voter")
          .map((m) => m.id)
          .join() === after.leaderId
      );
    });
  }, 120_000);
});
