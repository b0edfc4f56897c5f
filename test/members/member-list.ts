import { expect } from "vitest";
import type { MemberListResponse } from "../../src/gen/orchestrator/v1/orchestrator.js";
import type { TestCluster } from "../cluster/harness.js";

/** `orchctl member list -o json` on the cluster, which must succeed. */
export async function memberList(cluster: TestCluster): Promise<MemberListResponse> {
  const result = await cluster.orchctl(["member", "list", "-o", "json"]);
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as MemberListResponse;
}
