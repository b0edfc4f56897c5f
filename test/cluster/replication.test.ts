import * as grpc from "@grpc/grpc-js";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  DeployRequest,
  GetDeploymentRequest,
  ListDeploymentsRequest,
} from "../../src/gen/orchestrator/v1/orchestrator.js";
import { DeploymentSpec } from "../../src/gen/orchestrator/v1/types.js";
import { TestCluster, waitFor, type LeaderView } from "./harness.js";

/**
 * Election and replication on three real replica processes: one leader that everybody agrees
 * on, and writes sent to a follower that the CLI carries to the leader and that every replica
 * then serves.
 */

let cluster: TestCluster;
let leader: LeaderView;

beforeAll(async () => {
  cluster = await TestCluster.start({ name: "replication" });
  leader = await cluster.waitForLeader();
}, 60_000);

afterEach(async (context) => {
  if (context.task.result?.state === "fail") await cluster.dumpLogs();
});

afterAll(async () => {
  await cluster?.close();
}, 60_000);

describe("a three-replica cluster", () => {
  it("elects exactly one leader, and every replica agrees on it and on the term", async () => {
    const statuses = await Promise.all(cluster.ids().map((id) => cluster.status(id)));
    const leaders = statuses.filter((s) => s.role === "leader");
    expect(leaders.map((s) => s.replicaId)).toEqual([leader.leaderId]);
    for (const status of statuses) {
      expect(status.leaderId, `leader as ${status.replicaId} sees it`).toBe(leader.leaderId);
      expect(status.term, `term as ${status.replicaId} sees it`).toBe(leader.term);
      expect(status.leaderAddress).toBe(cluster.apiAddress(leader.leaderId));
      expect(status.members.map((m) => m.id)).toEqual(["r1", "r2", "r3"]);
      if (status.replicaId !== leader.leaderId) expect(status.role).toBe("follower");
    }
    // The leader sees both followers as reachable members.
    const own = statuses.find((s) => s.replicaId === leader.leaderId)!;
    expect(own.members.filter((m) => m.reachable).map((m) => m.id)).toEqual(["r1", "r2", "r3"]);

    // orchctl cluster -o json, asked of each replica in turn, tells the same story.
    for (const id of cluster.ids()) {
      const result = await cluster.orchctl(["cluster", "-o", "json"], cluster.apiAddress(id));
      expect(result.code, result.stderr).toBe(0);
      const json = JSON.parse(result.stdout) as { replicaId: string; leaderId: string; term: number; role: string };
      expect(json).toMatchObject({ replicaId: id, leaderId: leader.leaderId, term: leader.term });
    }

    // And so do the metrics: one replica with is_leader 1, all with has_leader 1 and the same term.
    const isLeader = await Promise.all(cluster.ids().map((id) => cluster.metric(id, "orchestrator_raft_is_leader")));
    expect(isLeader.reduce((a, b) => a + b, 0)).toBe(1);
    for (const id of cluster.ids()) {
      expect(await cluster.metric(id, "orchestrator_raft_has_leader")).toBe(1);
      expect(await cluster.metric(id, "orchestrator_raft_term")).toBe(leader.term);
    }
  });

  it("answers a write sent to a follower with UNAVAILABLE and the leader's address", async () => {
    const follower = cluster.followersOf(leader.leaderId)[0];
    const spec = DeploymentSpec.fromPartial({
      name: "direct-to-follower",
      image: "nginx:1",
      replicas: 1,
      cpuMillicores: 100,
      memoryMib: 64,
    });
    const failure = await cluster.failure(
      follower,
      "deploy",
      DeployRequest.fromPartial({ header: { clientId: "replication-test", seq: 1 }, spec }),
    );
    expect(failure.code).toBe(grpc.status.UNAVAILABLE);
    expect(failure.details).toContain(
      `replica ${follower} is not the leader; the leader is ${leader.leaderId} at ${cluster.apiAddress(leader.leaderId)}`,
    );
    expect(failure.metadata?.get("x-leader-id")).toEqual([leader.leaderId]);
    expect(failure.metadata?.get("x-leader-address")).toEqual([cluster.apiAddress(leader.leaderId)]);
    // Nothing was written.
    const list = await cluster.call(leader.leaderId, "listDeployments", ListDeploymentsRequest.fromPartial({}));
    expect(list.deployments.map((d) => d.spec?.name)).not.toContain("direct-to-follower");
  });

  it("carries orchctl writes sent to a follower to the leader, and every replica then serves them", async () => {
    const [follower, other] = cluster.followersOf(leader.leaderId);
    const proposedBefore = await cluster.metric(leader.leaderId, "orchestrator_raft_proposals_committed_total");
    const names = ["via-follower-a", "via-follower-b", "via-follower-c"];
    for (const name of names) {
      // Only the follower's endpoint: orchctl must follow the x-leader-address redirect.
      const result = await cluster.orchctl(
        ["deploy", name, "--image", "nginx:1.27", "--replicas", "2", "--cpu", "250m", "--memory", "128Mi"],
        cluster.apiAddress(follower),
      );
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toMatch(new RegExp(`deployment ${name} created \\(version 1, revision \\d+\\)`));

      // Linearizable reads on every replica show the write as soon as it returned.
      for (const id of cluster.ids()) {
        const got = await cluster.call(id, "getDeployment", GetDeploymentRequest.fromPartial({ name, stale: false }));
        expect(got.deployment?.spec?.name, `linearizable read on ${id}`).toBe(name);
        expect(got.deployment?.spec?.replicas).toBe(2);
        expect(got.containers).toHaveLength(2);
      }
    }
    // The writes were proposed on the leader, not on the follower that received them.
    // At least the writes: the leader's scheduler also proposes (it records why replicas stay pending without nodes).
    expect(await cluster.metric(leader.leaderId, "orchestrator_raft_proposals_committed_total")).toBeGreaterThanOrEqual(
      proposedBefore + names.length,
    );
    expect(await cluster.metric(follower, "orchestrator_raft_proposals_committed_total")).toBe(0);
    expect(await cluster.metric(other, "orchestrator_raft_proposals_committed_total")).toBe(0);

    // Stale reads answer from each replica's own state: they show the writes once replicated.
    for (const id of cluster.ids()) {
      await waitFor(`stale list on ${id} to show ${names.join(", ")}`, async () => {
        const list = await cluster.call(id, "listDeployments", ListDeploymentsRequest.fromPartial({ stale: true }));
        const have = new Set(list.deployments.map((d) => d.spec?.name));
        return names.every((n) => have.has(n));
      });
    }

    // orchctl reads through each replica alone (linearizable and stale) agree.
    for (const id of cluster.ids()) {
      for (const extra of [[], ["--stale"]]) {
        const result = await cluster.orchctl(["list", "-o", "json", ...extra], cluster.apiAddress(id));
        expect(result.code, result.stderr).toBe(0);
        const listed = (JSON.parse(result.stdout) as { deployments: { name: string }[] }).deployments.map(
          (d) => d.name,
        );
        expect(listed, `orchctl list ${extra.join(" ")} on ${id}`).toEqual(expect.arrayContaining(names));
      }
    }

    // The leader never changed while all this happened.
    const after = await cluster.waitForLeader();
    expect(after).toEqual(leader);
  });
});
