import { describe, expect, it } from "vitest";
import { decideAutopilot, type AutopilotConfig, type MemberStatus } from "../../src/members/core/autopilot.js";

const config: AutopilotConfig = { deadAfterMs: 30_000, removeDead: true, minVoters: 3, promoteHeardWithinMs: 2_000 };
const self = { raft: "h:7001", api: "h:50051" };

function member(id: string, fields: Partial<MemberStatus> = {}): MemberStatus {
  const n = id.slice(1);
  return {
    id,
    suffrage: "voter",
    match: 1_000,
    lastContactAgoMs: 100,
    recorded: true,
    addresses: { raft: `h:700${n}`, api: `h:5005${n}` },
    ...fields,
  };
}

function view(members: MemberStatus[], commit = 1_000) {
  return { selfId: "r1", commit, catchUpEntriesMax: 256, members };
}

describe("decideAutopilot", () => {
  it("records this replica's real addresses and founding members the table never named", () => {
    const moved = decideAutopilot(
      view([member("r1", { addresses: { raft: "h:7001", api: "old:1" } })]),
      self,
      0,
      config,
    );
    expect(moved.action).toEqual({ kind: "record", id: "r1", raftAddress: "h:7001", apiAddress: "h:50051" });
    const founder = decideAutopilot(view([member("r1"), member("r2", { recorded: false })]), self, 0, config);
    expect(founder.action).toEqual({ kind: "record", id: "r2", raftAddress: "h:7002", apiAddress: "h:50052" });
  });

  it("promotes a learner only once it is caught up and answering", () => {
    const base = [member("r1"), member("r2"), member("r3")];
    const behind = member("r4", { suffrage: "learner", match: 500 });
    expect(decideAutopilot(view([...base, behind]), self, 0, config).action).toBeNull();
    const silent = member("r4", { suffrage: "learner", lastContactAgoMs: 5_000 });
    expect(decideAutopilot(view([...base, silent]), self, 0, config).action).toBeNull();
    const ready = member("r4", { suffrage: "learner", match: 900 });
    expect(decideAutopilot(view([...base, ready]), self, 0, config).action).toMatchObject({
      kind: "promote",
      id: "r4",
    });
  });

  it("reports a silent voter and removes it only when three voters remain", () => {
    const dead = member("r3", { lastContactAgoMs: 31_000 });
    const three = decideAutopilot(view([member("r1"), member("r2"), dead]), self, 60_000, config);
    expect(three.deadVoters).toEqual(["r3"]);
    expect(three.action).toBeNull();
    const four = decideAutopilot(view([member("r1"), member("r2"), dead, member("r4")]), self, 60_000, config);
    expect(four.action).toMatchObject({ kind: "remove", id: "r3" });
    const noRemoval = decideAutopilot(view([member("r1"), member("r2"), dead, member("r4")]), self, 60_000, {
      ...config,
      removeDead: false,
    });
    expect(noRemoval).toEqual({ deadVoters: ["r3"], action: null });
  });

  it("counts a voter never heard from as silent since this replica leads", () => {
    const never = member("r3", { lastContactAgoMs: null });
    expect(decideAutopilot(view([member("r1"), member("r2"), never]), self, 10_000, config).deadVoters).toEqual([]);
    expect(decideAutopilot(view([member("r1"), member("r2"), never]), self, 30_000, config).deadVoters).toEqual(["r3"]);
  });
});
