import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { EventRing } from "../../src/fsm/event-ring.js";
import type { FsmEvent } from "../../src/fsm/state.js";

/** What recentOf must equal: a scan of the whole ring, newest first, the first `max` of one deployment. */
function scanned(ring: EventRing, deployment: string, max: number): FsmEvent[] {
  return [...ring.newestFirst()].filter((e) => e.deployment === deployment).slice(0, max);
}

describe("EventRing per-deployment index", () => {
  it("always equals a scan of the ring, through wrap-around and restore", () => {
    const names = ["web", "api", "db", ""];
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 80 }),
        (capacity, perDeployment, picks) => {
          const ring = new EventRing(capacity, perDeployment);
          picks.forEach((pick, i) =>
            ring.append({
              revision: i + 1,
              atMs: i,
              kind: "scaled",
              deployment: names[pick],
              container: "",
              node: "",
              message: `event ${i}`,
              actor: "",
            }),
          );
          for (const name of names.slice(0, 3)) expect(ring.recentOf(name)).toEqual(scanned(ring, name, perDeployment));
          const restored = new EventRing(capacity, perDeployment);
          restored.restore(ring.oldestFirst(), ring.appendedTotal);
          for (const name of names.slice(0, 3))
            expect(restored.recentOf(name)).toEqual(scanned(ring, name, perDeployment));
        },
      ),
    );
  });
});
