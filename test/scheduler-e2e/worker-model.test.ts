import { MembersDirectory } from "../../src/server/members-directory.js";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CommandProposer } from "../../src/api/command-proposer.js";
import { ClusterFsm, type StateChange } from "../../src/fsm/index.js";
import { DeploymentSpec, Strategy } from "../../src/gen/orchestrator/v1/types.js";
import { createLogger } from "../../src/lib/logger.js";
import { RaftNode } from "../../src/raft/io/raft-node.js";
import { SchedulerWorker } from "../../src/scheduler/io/scheduler-worker.js";
import { raftControllerPorts } from "../../src/server/controller-ports-raft.js";
import { freePort } from "../../dev/local-cluster/free-port.js";
import { waitFor } from "../cluster/harness.js";

/**
 * The leader's scheduler worker against a real (single-replica) Raft node and FSM, in process,
 * for an interleaving the process-level suite cannot time: a command appended to the log after
 * the worker read the state but before its plan, which makes the FSM refuse the plan.
 *
 * The worker books a plan's allocations into its model before proposing it. Placements the FSM
 * refuses change no node record, so unless the worker takes its guess back, the model keeps
 * capacity that no container holds, and later deployments stay pending on empty nodes.
 */

const logger = createLogger({ test: "worker-model" }, process.env["LOG_LEVEL"] ?? "silent");
let dataDir: string;
let node: RaftNode;
let fsm: ClusterFsm;
let proposer: CommandProposer;
const registry = new Registry();

async function planRejections(): Promise<number> {
  const metric = await registry.getSingleMetric("orchestrator_scheduler_plan_rejections_total")?.get();
  return metric?.values[0]?.value ?? 0;
}

function spec(name: string, replicas: number, cpuMillicores: number): DeploymentSpec {
  return DeploymentSpec.fromPartial({
    name,
    image: "nginx:latest",
    replicas,
    cpuMillicores,
    memoryMib: 128,
    strategy: Strategy.STRATEGY_SPREAD,
  });
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "orch-worker-model-"));
  fsm = new ClusterFsm();
  const peers = new Map([["r1", `127.0.0.1:${await freePort()}`]]);
  node = await RaftNode.open({ id: "r1", peers, dataDir: join(dataDir, "r1"), logger, stateMachine: fsm, tickMs: 10 });
  const members = new MembersDirectory(new Map([["r1", { raft: peers.get("r1") ?? "", api: "127.0.0.1:1" }]]));
  new SchedulerWorker(raftControllerPorts(node, fsm, logger, members), logger, registry).start();
  await node.start();
  await waitFor("the single replica to lead", () => node.isLeader(), { timeoutMs: 10_000 });
  proposer = new CommandProposer(node);
  for (let i = 1; i <= 3; i++) {
    await proposer.propose(
      undefined,
      {
        kind: "register-node",
        registerNode: {
          nodeId: `us-east-1-n${i}`,
          region: "us-east-1",
          capacity: { cpuMillicores: 8000, memoryMib: 16384 },
          agentAddress: "127.0.0.1:1",
        },
      },
      "register-node",
    );
  }
}, 30_000);

afterAll(async () => {
  await node?.stop({ transferLeadership: false });
  if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
});

describe("scheduler worker model", () => {
  it("takes back the allocations of a plan the FSM refused, so the capacity can be used again", async () => {
    await proposer.propose(undefined, { kind: "deploy", deploy: { spec: spec("racy", 0, 1000) } }, "deploy");
    // The moment the scale-up is applied, delete the deployment: the delete is appended to the
    // log at once (before the worker, which plans on the next turn, proposes its plan), so the
    // plan is applied after the delete and refused whole (deployment-missing).
    let deleted: Promise<unknown> | undefined;
    const stop = fsm.onChange((change: StateChange) => {
      if (deleted !== undefined || change.kind !== "deployment" || change.id !== "racy") return;
      if (fsm.getDeployment("racy")?.deployment.spec.replicas !== 9) return;
      queueMicrotask(() => {
        deleted = proposer.propose(undefined, { kind: "delete", delete: { name: "racy" } }, "delete");
      });
    });
    try {
      await proposer.propose(undefined, { kind: "scale", scale: { name: "racy", replicas: 9 } }, "scale");
      await waitFor("the delete to be proposed", () => deleted !== undefined);
      await deleted;
    } finally {
      stop();
    }
    expect(fsm.getDeployment("racy")).toBeUndefined();
    // The interleaving happened: the worker's plan for the nine replicas was refused at apply.
    await waitFor("the worker's plan to be refused", async () => (await planRejections()) >= 9);
    for (const n of fsm.listNodes()) expect(n.allocated.cpuMillicores, n.id).toBe(0);

    // Three replicas of a whole node each: they fit only if the worker knows the nodes are empty.
    await proposer.propose(undefined, { kind: "deploy", deploy: { spec: spec("whole", 3, 8000) } }, "deploy");
    await waitFor("all three replicas of whole placed", () => fsm.pendingContainers("whole").length === 0, {
      timeoutMs: 5_000,
    }).catch((error: unknown) => {
      const reason = fsm.getDeployment("whole")?.deployment.pendingReason ?? "";
      throw new Error(`${error instanceof Error ? error.message : String(error)}; pending reason: ${reason}`, {
        cause: error,
      });
    });
    expect(new Set(fsm.listContainers({ deployment: "whole" }).containers.map((c) => c.node))).toEqual(
      new Set(["us-east-1-n1", "us-east-1-n2", "us-east-1-n3"]),
    );
  });

  it("places only replicas of the deployment's current version, by that version's spec", async () => {
    // The first test's deployment fills every node: delete it, and forget its replicas (no agent here
    // reports them stopped).
    await proposer.propose(undefined, { kind: "delete", delete: { name: "whole" } }, "delete");
    for (const c of fsm.listContainers({ deployment: "whole" }).containers)
      await proposer.propose(
        undefined,
        { kind: "remove-container", removeContainer: { containerId: c.id, reason: "test" } },
        "remove-container",
      );
    // v1 may only run in eu-west-1, where there is no node: its replica stays pending.
    const v1 = { ...spec("versioned", 1, 1000), regions: ["eu-west-1"] };
    await proposer.propose(undefined, { kind: "deploy", deploy: { spec: v1 } }, "deploy");
    await waitFor("v1's pending reason", () => fsm.getDeploymentRecord("versioned")?.pendingReason !== "");
    const rejectionsBefore = await planRejections();
    // v2 may run anywhere. Its rollout's first step starts one replica of v2.
    await proposer.propose(undefined, { kind: "deploy", deploy: { spec: spec("versioned", 1, 1000) } }, "deploy");
    await proposer.propose(
      undefined,
      {
        kind: "rollout-step",
        rolloutStep: {
          deployment: "versioned",
          toVersion: 2,
          stepSeq: 0,
          startCount: 1,
          stopContainerIds: [],
          reason: "test",
        },
      },
      "rollout-step",
    );
    await waitFor("v2's replica placed", () =>
      fsm.listContainers({ deployment: "versioned" }).containers.some((c) => c.version === 2 && c.node !== ""),
    );
    // v1's replica was not planned with v2's spec (which the FSM would refuse): it is left to the rollout.
    const v1Replica = fsm.getContainer("versioned-0");
    expect(v1Replica).toMatchObject({ version: 1, state: "pending", node: "" });
    expect(await planRejections()).toBe(rejectionsBefore);
  });
});
