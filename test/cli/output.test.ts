import { describe, expect, it } from "vitest";
import { renderCluster } from "../../src/cli/commands/cluster.js";
import { containerRow } from "../../src/cli/commands/containers.js";
import { DEPLOYMENT_HEADERS, deploymentRow } from "../../src/cli/commands/list.js";
import { nodeRow } from "../../src/cli/commands/nodes.js";
import { watchLine } from "../../src/cli/commands/watch.js";
import { formatAge, renderFields, renderTable } from "../../src/cli/output.js";
import { containerView, deploymentView, nodeView } from "../../src/cli/views.js";
import { sampleContainer, sampleDeployment, sampleNode } from "./fixtures.js";

describe("renderTable", () => {
  it("aligns columns three spaces apart with no trailing spaces", () => {
    const text = renderTable(
      ["NAME", "READY", "IMAGE"],
      [
        ["web", "3/3", "nginx:latest"],
        ["a-much-longer-name", "0/1", ""],
      ],
    );
    expect(text).toBe(
      [
        "NAME                 READY   IMAGE",
        "web                  3/3     nginx:latest",
        "a-much-longer-name   0/1",
      ].join("\n") + "\n",
    );
  });

  it("prints just the header for no rows", () => {
    expect(renderTable(["A", "B"], [])).toBe("A   B\n");
  });
});

describe("rows", () => {
  it("renders a deployment row", () => {
    expect([...DEPLOYMENT_HEADERS]).toEqual(["NAME", "IMAGE", "READY", "HEALTHY", "STRATEGY", "VERSION", "REVISION"]);
    expect(deploymentRow(sampleDeployment({ replicas: 3, running: 2 }))).toEqual([
      "web",
      "nginx:latest",
      "2/3",
      "2/3",
      "spread",
      "2",
      "42",
    ]);
  });

  it("renders a container row", () => {
    expect(containerRow(sampleContainer("web-1", "n1"))).toEqual([
      "web-1",
      "web",
      "n1",
      "us-east-1",
      "running",
      "healthy",
      "1",
    ]);
    expect(containerRow({ ...sampleContainer("web-2", ""), region: "", state: 1, health: "" })).toEqual([
      "web-2",
      "web",
      "-",
      "-",
      "pending",
      "unknown",
      "1",
    ]);
  });

  it("renders a node row with allocated/capacity and share", () => {
    expect(nodeRow(sampleNode("eu-1"))).toEqual([
      "eu-1",
      "eu-west-1",
      "ready",
      "1.5/8 (19%)",
      "2Gi/16Gi (13%)",
      "3",
      "eligible",
      "-",
    ]);
  });

  it("renders the cluster view", () => {
    const text = renderCluster({
      replicaId: "r2",
      role: "follower",
      leaderId: "r1",
      leaderAddress: "127.0.0.1:50051",
      term: 4,
      commitIndex: 120,
      appliedIndex: 119,
      members: [
        {
          id: "r2",
          raftAddress: "127.0.0.1:7002",
          apiAddress: "127.0.0.1:50052",
          role: "follower",
          matchIndex: 120,
          reachable: true,
          suffrage: "voter",
          lastContactMs: 0,
        },
        {
          id: "r1",
          raftAddress: "127.0.0.1:7001",
          apiAddress: "127.0.0.1:50051",
          role: "leader",
          matchIndex: 120,
          reachable: true,
          suffrage: "voter",
          lastContactMs: 0,
        },
      ],
    });
    expect(text).toContain("Leader:         r1 (127.0.0.1:50051)\n");
    expect(text).toContain("Term:           4\n");
    expect(text).toContain("Applied index:  119\n");
    expect(text).toContain("Answered by:    r2 (follower)\n");
    expect(text).toContain("ID   ROLE       API-ADDRESS       RAFT-ADDRESS     MATCH-INDEX   REACHABLE\n");
    expect(text.indexOf("r1   leader")).toBeLessThan(text.indexOf("r2   follower"));
  });

  it("renders watch lines", () => {
    expect(
      watchLine({ revision: 7, kind: "deployment", action: "put", deployment: sampleDeployment({ running: 1 }) }),
    ).toBe("     7  deployment  put     web  v2 nginx:latest 1/3 running");
    expect(
      watchLine({
        revision: 8,
        kind: "event",
        action: "put",
        event: {
          revision: 8,
          atMs: 0,
          kind: "node-down",
          deployment: "",
          container: "",
          node: "n3",
          message: "missed heartbeats",
          actor: "leader",
        },
      }),
    ).toBe("     8  event       put     n3  node-down: missed heartbeats (by leader)");
  });
});

describe("fields and ages", () => {
  it("aligns key/value blocks", () => {
    expect(
      renderFields([
        ["Name", "web"],
        ["Client regions", "-"],
      ]),
    ).toBe("Name:            web\nClient regions:  -\n");
  });

  it("prints ages as kubectl does", () => {
    const now = 1_000_000_000;
    expect(formatAge(now - 5_000, now)).toBe("5s");
    expect(formatAge(now - 300_000, now)).toBe("5m");
    expect(formatAge(now - 3 * 3_600_000, now)).toBe("3h");
    expect(formatAge(now - 3 * 86_400_000, now)).toBe("3d");
    expect(formatAge(0, now)).toBe("-");
  });
});

describe("json views", () => {
  it("names enums and keeps zero fields", () => {
    const view = deploymentView(
      sampleDeployment({ replicas: 2, running: 0, pendingReason: "0/9 nodes: 9 insufficient memory" }),
    );
    expect(view).toMatchObject({
      name: "web",
      strategy: "spread",
      cpuMillicores: 500,
      memoryMib: 256,
      onePerNode: false,
    });
    expect(view.status).toMatchObject({ running: 0, desired: 2, pendingReason: "0/9 nodes: 9 insufficient memory" });
    expect(containerView(sampleContainer("c", "n"))).toMatchObject({
      state: "running",
      desiredState: "running",
      health: "healthy",
    });
    expect(nodeView(sampleNode("n"))).toMatchObject({
      status: "ready",
      capacity: { cpuMillicores: 8000, memoryMib: 16384 },
    });
  });
});
