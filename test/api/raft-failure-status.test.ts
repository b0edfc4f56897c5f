import { status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { toServiceError } from "../../src/api/grpc-status.js";
import { raftFailureStatus } from "../../src/api/raft-failure-status.js";
import { RaftError, type RaftFailure } from "../../src/raft/io/raft-error.js";
import { MembersDirectory } from "../../src/server/members-directory.js";

// The one place a Raft refusal becomes a gRPC status: code, message, and the leader trailers
// clients follow (orchctl and the agents read x-leader-address).

const members = new MembersDirectory(
  new Map([
    ["r1", { raft: "127.0.0.1:7001", api: "127.0.0.1:50051" }],
    ["r2", { raft: "127.0.0.1:7002", api: "127.0.0.1:50052" }],
  ]),
);

function grpcOf(failure: RaftFailure) {
  const error = toServiceError(new RaftError("r1", failure), members);
  return {
    code: error.code,
    message: error.message,
    leaderId: error.metadata?.get("x-leader-id"),
    leaderAddress: error.metadata?.get("x-leader-address"),
  };
}

describe("RaftError -> gRPC status", () => {
  it("not-leader with a known leader: UNAVAILABLE naming the leader's API address in the trailers", () => {
    expect(grpcOf({ kind: "not-leader", leaderId: "r2" })).toEqual({
      code: status.UNAVAILABLE,
      message: "replica r1 is not the leader; the leader is r2 at 127.0.0.1:50052",
      leaderId: ["r2"],
      leaderAddress: ["127.0.0.1:50052"],
    });
  });

  it("not-leader with no leader, or one the directory does not know: UNAVAILABLE without trailers", () => {
    const expected = {
      code: status.UNAVAILABLE,
      message: "replica r1 is not the leader and no leader is known yet (election in progress); retry shortly",
      leaderId: [],
      leaderAddress: [],
    };
    expect(grpcOf({ kind: "not-leader", leaderId: "" })).toEqual(expected);
    expect(grpcOf({ kind: "not-leader", leaderId: "r9" })).toEqual(expected);
  });

  it("a transfer under way: UNAVAILABLE naming the (outgoing) leader, with no address to go back to", () => {
    expect(grpcOf({ kind: "transferring", leaderId: "r1" })).toEqual({
      code: status.UNAVAILABLE,
      message: "leadership is being transferred; retry in a moment",
      leaderId: ["r1"],
      leaderAddress: [],
    });
  });

  it("lost-leader, stopped, fatal and dropped are UNAVAILABLE: retry, maybe elsewhere", () => {
    expect(grpcOf({ kind: "lost-leader" }).code).toBe(status.UNAVAILABLE);
    expect(grpcOf({ kind: "stopped" })).toMatchObject({
      code: status.UNAVAILABLE,
      message: "replica r1 is shutting down; retry on another replica",
    });
    expect(grpcOf({ kind: "fatal", message: "disk full" })).toMatchObject({
      code: status.UNAVAILABLE,
      message: "replica r1 stopped after an internal error: disk full",
    });
    expect(grpcOf({ kind: "dropped" })).toMatchObject({
      code: status.UNAVAILABLE,
      message: "leadership changed before the write committed; it was not applied — retry",
    });
  });

  it("a timed-out write is DEADLINE_EXCEEDED (it may still apply); a timed-out read is UNAVAILABLE", () => {
    expect(grpcOf({ kind: "timed-out", what: "proposal", timeoutMs: 5000 })).toMatchObject({
      code: status.DEADLINE_EXCEEDED,
      message: "the write was not committed within 5000 ms; it may still be applied — retry with the same request id",
    });
    expect(grpcOf({ kind: "timed-out", what: "read", timeoutMs: 5000 })).toMatchObject({
      code: status.UNAVAILABLE,
      message: "the leader did not confirm the read within 5000 ms; retry",
    });
    expect(grpcOf({ kind: "timed-out", what: "transfer", timeoutMs: 2000, target: "r2" })).toMatchObject({
      code: status.DEADLINE_EXCEEDED,
      message: "leadership did not move to r2 within 2000 ms",
    });
  });

  it("overload is RESOURCE_EXHAUSTED; bad requests are INVALID_ARGUMENT or FAILED_PRECONDITION", () => {
    for (const what of ["proposals", "uncommitted-bytes", "reads"] as const)
      expect(grpcOf({ kind: "overloaded", what }).code).toBe(status.RESOURCE_EXHAUSTED);
    expect(grpcOf({ kind: "too-large" }).code).toBe(status.INVALID_ARGUMENT);
    expect(grpcOf({ kind: "not-a-voter", target: "r9", voters: ["r1", "r2"] })).toMatchObject({
      code: status.INVALID_ARGUMENT,
      message: "replica r9 is not another voting member (voters: r1, r2)",
    });
    expect(grpcOf({ kind: "conf-change-refused", detail: "conf-change-pending" })).toMatchObject({
      code: status.FAILED_PRECONDITION,
      message: "membership change refused: conf-change-pending",
    });
    expect(grpcOf({ kind: "no-transfer-target" }).code).toBe(status.FAILED_PRECONDITION);
    expect(grpcOf({ kind: "transfer-stalled", target: "r2" }).code).toBe(status.UNAVAILABLE);
  });

  it("maps straight to the API's error for callers that need it before a status", () => {
    const mapped = raftFailureStatus(new RaftError("r1", { kind: "not-leader", leaderId: "r2" }), members);
    expect(mapped.code).toBe("UNAVAILABLE");
    expect(mapped.details).toEqual({ leaderId: "r2", leaderAddress: "127.0.0.1:50052" });
  });
});
