import { describe, expect, it } from "vitest";
import { ClusterFsm, encodeCommand, type CommandBody } from "../../src/fsm/index.js";
import { MembersDirectory } from "../../src/server/members-directory.js";

/**
 * The members directory follows the replicated membership: the FSM's address table (applied
 * entries and restored snapshots) and Raft's configuration. The flags only fill in founding
 * members the table does not name yet, and a member that left both is forgotten.
 */
const founders = new Map([
  ["r1", { raft: "127.0.0.1:7001", api: "127.0.0.1:50051" }],
  ["r2", { raft: "127.0.0.1:7002", api: "127.0.0.1:50052" }],
  ["r3", { raft: "127.0.0.1:7003", api: "127.0.0.1:50053" }],
]);

function apply(fsm: ClusterFsm, index: number, body: CommandBody): void {
  const result = fsm.apply(index, encodeCommand({ clientId: "", seq: 0, atMs: 1, body }));
  expect(result.ok, JSON.stringify(result)).toBe(true);
}

function follow(fsm: ClusterFsm, directory: MembersDirectory): string[] {
  const seen: string[] = [];
  fsm.onMembersChange(() => directory.setTable(fsm.memberAddresses()));
  directory.onChange(() => seen.push(JSON.stringify(Object.fromEntries(directory.raftAddresses()))));
  return seen;
}

const set = (id: string, raftAddress: string, apiAddress: string): CommandBody => ({
  kind: "member-set",
  memberSet: { member: { id, raftAddress, apiAddress } },
});

describe("MembersDirectory", () => {
  it("learns new members from applied entries and forgets removed ones", () => {
    const fsm = new ClusterFsm();
    const directory = new MembersDirectory(founders).withSelf("r1", founders.get("r1")!);
    const seen = follow(fsm, directory);
    directory.setConf({ voters: ["r1", "r2", "r3"], learners: [] });
    expect(seen).toEqual([]); // the same addresses as the flags: no change

    apply(fsm, 1, set("r2", "10.0.0.2:7002", "10.0.0.2:50052"));
    expect(directory.addresses("r2")).toEqual({ raft: "10.0.0.2:7002", api: "10.0.0.2:50052" });
    apply(fsm, 2, set("r4", "127.0.0.1:7004", "127.0.0.1:50054"));
    expect(directory.raftAddresses().get("r4")).toBe("127.0.0.1:7004");
    expect(seen).toHaveLength(2);

    // r3 leaves the configuration: its flag addresses no longer count.
    directory.setConf({ voters: ["r1", "r2"], learners: ["r4"] });
    expect(directory.ids()).toEqual(["r1", "r2", "r4"]);
    expect(directory.addresses("r3")).toEqual(founders.get("r3")); // what the flags said, for messages
    expect(directory.raftAddresses().has("r3")).toBe(false);

    apply(fsm, 3, { kind: "member-forget", memberForget: { id: "r4" } });
    directory.setConf({ voters: ["r1", "r2"], learners: [] });
    expect([...directory.raftAddresses().keys()]).toEqual(["r1", "r2"]);
  });

  it("takes the table from a restored snapshot", () => {
    const source = new ClusterFsm();
    apply(source, 1, set("r4", "127.0.0.1:7004", "127.0.0.1:50054"));
    apply(source, 2, set("r1", "127.0.0.1:7001", "127.0.0.1:60001"));
    const fsm = new ClusterFsm();
    const directory = new MembersDirectory(founders).withSelf("r2", founders.get("r2")!);
    const seen = follow(fsm, directory);
    fsm.restore(source.snapshot());
    expect(fsm.memberAddresses().map((m) => m.id)).toEqual(["r1", "r4"]);
    expect(directory.addresses("r1")?.api).toBe("127.0.0.1:60001");
    expect(directory.addresses("r4")?.raft).toBe("127.0.0.1:7004");
    expect(seen).toHaveLength(1);
  });

  it("keeps this replica's own addresses whatever the table says", () => {
    const fsm = new ClusterFsm();
    const directory = new MembersDirectory(founders).withSelf("r1", { raft: "127.0.0.1:7001", api: "127.0.0.1:50099" });
    follow(fsm, directory);
    apply(fsm, 1, set("r1", "127.0.0.1:7001", "127.0.0.1:50051"));
    expect(directory.addresses("r1")?.api).toBe("127.0.0.1:50099");
  });

  it("refuses a second member at an address already taken, and bad addresses", () => {
    const fsm = new ClusterFsm();
    apply(fsm, 1, set("r1", "127.0.0.1:7001", "127.0.0.1:50051"));
    const clash = fsm.apply(
      2,
      encodeCommand({ clientId: "", seq: 0, atMs: 1, body: set("r2", "127.0.0.1:7001", "127.0.0.1:50052") }),
    );
    expect(clash).toMatchObject({ ok: false, code: "ALREADY_EXISTS" });
    const bad = fsm.apply(
      3,
      encodeCommand({ clientId: "", seq: 0, atMs: 1, body: set("R2", "nowhere", "127.0.0.1:50052") }),
    );
    expect(bad).toMatchObject({ ok: false, code: "INVALID_ARGUMENT" });
    expect(fsm.memberAddresses().map((m) => m.id)).toEqual(["r1"]);
  });
});
