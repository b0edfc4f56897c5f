/**
 * A cluster state of N containers, built fast: FSM commands applied directly in-process (no Raft,
 * no agents), as a replica would apply them; deployments of fsmLimits.replicasMax replicas.
 *
 * With `nodes`, 1,000 nodes in three regions hold nine in ten replicas, half of those reported
 * running. Without, every container is pending: the replica the benchmark restores it into has
 * no agents, and with nodes its health controller would declare all 1,000 down after the
 * fail-over grace and replace every container, a storm that is not what is measured here.
 */
import { ClusterFsm, encodeCommand, fsmLimits, type CommandBody } from "../../src/fsm/index.js";
import { ContainerState, Strategy } from "../../src/gen/orchestrator/v1/types.js";
import { HealthState } from "../../src/gen/orchestrator/v1/fsm.js";

const nodesCount = 1_000;
const regions = ["us-east-1", "eu-west-1", "ap-southeast-1"];
const t0 = 1_700_000_000_000;

export interface BuiltState {
  readonly fsm: ClusterFsm;
  /** The index of the last command applied. */
  readonly index: number;
}

export function buildState(containers: number, withNodes: boolean): BuiltState {
  const fsm = new ClusterFsm();
  let index = 0;
  const run = (body: CommandBody): void => {
    index += 1;
    const result = fsm.apply(index, encodeCommand({ clientId: "", seq: 0, atMs: t0 + index, body }));
    if (!result.ok) throw new Error(result.message);
  };
  for (let n = 0; n < (withNodes ? nodesCount : 0); n++)
    run({
      kind: "register-node",
      registerNode: {
        nodeId: `node-${n}`,
        region: regions[n % regions.length],
        capacity: { cpuMillicores: 1_024_000, memoryMib: 4_000_000 },
        agentAddress: `10.0.${n >> 8}.${n & 255}:9101`,
      },
    });
  const perDeployment = fsmLimits.replicasMax;
  for (let d = 0; d * perDeployment < containers; d++) {
    const name = `app-${d}`;
    const replicas = Math.min(perDeployment, containers - d * perDeployment);
    run({
      kind: "deploy",
      deploy: {
        spec: {
          name,
          image: `registry.local/app:${d}`,
          replicas,
          cpuMillicores: 100,
          memoryMib: 128,
          strategy: Strategy.STRATEGY_UNSPECIFIED,
          regions: [],
          clientRegions: [],
          onePerNode: false,
          healthCheck: undefined,
          restartPolicy: undefined,
          progressDeadlineMs: 0,
        },
      },
    });
    if (!withNodes) continue;
    const placements: { containerId: string; nodeId: string }[] = [];
    for (let i = 0; i < replicas; i++)
      if (i % 10 !== 9) placements.push({ containerId: `${name}-${i}`, nodeId: `node-${(d * 7 + i) % nodesCount}` });
    run({
      kind: "apply-plan",
      applyPlan: { planId: `p${d}`, seed: 42, deployment: name, deploymentVersion: 1, placements, pendingReason: "" },
    });
    for (let i = 0; i < replicas; i += 2)
      if (i % 10 !== 9)
        run({
          kind: "container-status",
          containerStatus: {
            containerId: `${name}-${i}`,
            nodeId: `node-${(d * 7 + i) % nodesCount}`,
            state: ContainerState.CONTAINER_STATE_RUNNING,
            health: HealthState.HEALTH_STATE_UNSPECIFIED,
            message: "",
          },
        });
  }
  return { fsm, index };
}
