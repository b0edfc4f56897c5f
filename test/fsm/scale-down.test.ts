import { describe, expect, it } from "vitest";
import { Strategy } from "../../src/gen/orchestrator/v1/types.js";
import { body, ContainerState, Harness } from "./helpers.js";

const S = ContainerState;

describe("scale-down order", () => {
  /** 12 replicas placed 4/4/4 over three regions (newest in us-east-1), all running. */
  function spreadOverRegions(strategy: Strategy): Harness {
    const h = new Harness();
    const regions = ["us-east-1", "eu-west-1", "ap-southeast-1"];
    for (const region of regions) h.ok(body.register(`${region}-n`, region, 64_000, 65_536));
    h.ok(body.deploy({ replicas: 12, strategy }));
    // Ordinals 0-3 in ap, 4-7 in eu, 8-11 in us: newest-first alone would empty us-east-1.
    const placements: [string, string][] = [];
    for (let i = 0; i < 12; i++) placements.push([`web-${i}`, `${regions[2 - Math.floor(i / 4)]}-n`]);
    h.ok(body.plan("web", placements));
    for (const [id, node] of placements) h.ok(body.status(id, node, S.CONTAINER_STATE_RUNNING));
    return h;
  }
  const liveByRegion = (h: Harness): Record<string, number> => {
    const counts: Record<string, number> = {};
    for (const c of h.fsm.listContainers({ deployment: "web" }).containers)
      if (c.desired === "running") counts[c.region] = (counts[c.region] ?? 0) + 1;
    return counts;
  };

  it("keeps a spread deployment even over its regions", () => {
    const h = spreadOverRegions(Strategy.STRATEGY_SPREAD);
    h.ok(body.scale("web", 3));
    expect(liveByRegion(h)).toEqual({ "us-east-1": 1, "eu-west-1": 1, "ap-southeast-1": 1 });
    h.ok(body.scale("web", 2));
    expect(Object.values(liveByRegion(h)).sort()).toEqual([1, 1]);
    h.fsm.checkInvariants();
  });

  it("takes the newest first for binpack", () => {
    const h = spreadOverRegions(Strategy.STRATEGY_BINPACK);
    h.ok(body.scale("web", 4));
    expect(liveByRegion(h)).toEqual({ "ap-southeast-1": 4 });
  });
});
