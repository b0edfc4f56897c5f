import { expect, it } from "vitest";
import { ClusterFsm, encodeCommand, fsmLimits, type CommandBody } from "../../src/fsm/index.js";
import { body, ContainerState, expectSameBytes, t0 } from "./helpers.js";

/**
 * Snapshot cost at scale. The suite runs 100,000 containers; FSM_SNAPSHOT_CONTAINERS=1000000
 * measures the design target (a million containers) and prints the figures.
 */
const containers = Number(process.env.FSM_SNAPSHOT_CONTAINERS ?? 100_000);
const nodesCount = 1_000;

function build(): ClusterFsm {
  const fsm = new ClusterFsm();
  let index = 0;
  const run = (b: CommandBody): void => {
    index += 1;
    const result = fsm.apply(index, encodeCommand({ clientId: "", seq: 0, atMs: t0 + index, body: b }));
    if (!result.ok) throw new Error(result.message);
  };
  const regions = ["us-east-1", "eu-west-1", "ap-southeast-1"];
  for (let n = 0; n < nodesCount; n++)
    run(body.register(`node-${n}`, regions[n % 3], 1_024_000, 4_000_000, `10.0.${n >> 8}.${n & 255}:9101`));
  const perDeployment = fsmLimits.replicasMax;
  for (let d = 0; d * perDeployment < containers; d++) {
    const name = `app-${d}`;
    const replicas = Math.min(perDeployment, containers - d * perDeployment);
    run(body.deploy({ name, image: `registry.local/app:${d}`, replicas, cpuMillicores: 100, memoryMib: 128 }));
    const placements: [string, string][] = [];
    // Every tenth replica stays pending, as if it did not fit.
    for (let i = 0; i < replicas; i++)
      if (i % 10 !== 9) placements.push([`${name}-${i}`, `node-${(d * 7 + i) % nodesCount}`]);
    run(body.plan(name, placements));
    for (let i = 0; i < replicas; i += 2)
      if (i % 10 !== 9)
        run(body.status(`${name}-${i}`, `node-${(d * 7 + i) % nodesCount}`, ContainerState.CONTAINER_STATE_RUNNING));
  }
  return fsm;
}

it(`snapshots and restores ${containers} containers`, () => {
  const buildStart = performance.now();
  const fsm = build();
  const buildMs = performance.now() - buildStart;
  expect(fsm.containerCount).toBe(containers);
  global.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;

  const encodeStart = performance.now();
  const bytes = fsm.snapshot();
  const encodeMs = performance.now() - encodeStart;

  const restored = new ClusterFsm();
  const decodeStart = performance.now();
  restored.restore(bytes);
  const decodeMs = performance.now() - decodeStart;
  const heapAfter = process.memoryUsage().heapUsed;

  console.log(
    `fsm snapshot: ${containers} containers, ${nodesCount} nodes: ${(bytes.byteLength / 1e6).toFixed(1)} MB ` +
      `(${(bytes.byteLength / containers).toFixed(1)} B/container); encode ${encodeMs.toFixed(0)} ms, restore ${decodeMs.toFixed(0)} ms; ` +
      `build by apply ${buildMs.toFixed(0)} ms; heap ${(heapBefore / 1e6).toFixed(0)} MB with one state, ${(heapAfter / 1e6).toFixed(0)} MB with two`,
  );
  expect(restored.revision).toBe(fsm.revision);
  expectSameBytes(restored.snapshot(), bytes);
  restored.checkInvariants();
});
