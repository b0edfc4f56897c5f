import { describe, expect, it } from "vitest";
import type { InstanceChange } from "../../src/agent/io/container-runtime.js";
import { SimRuntime } from "../../src/agent/io/sim-runtime.js";

const spec = {
  containerId: "web-0",
  nodeId: "n1",
  deployment: "web",
  generation: 0,
  healthCheckPath: "/healthz",
  image: "nginx:1",
};

describe("the simulated runtime's logs", () => {
  it("writes a line per state change, honours --tail, and follows new lines until the reader leaves", async () => {
    const changes: InstanceChange[] = [];
    const runtime = new SimRuntime({ startDelayMs: 0, onChange: (c) => changes.push(c) });
    runtime.start(spec);
    await new Promise((r) => setTimeout(r, 20));
    let all = "";
    expect(
      await runtime.logs(
        "web-0",
        { follow: false, tailLines: 0 },
        { write: (c) => (all += String(c)) },
        new AbortController().signal,
      ),
    ).toBe(true);
    expect(all).toMatch(
      /\[sim web-0 restart 0\] starting \(image nginx:1\)\n.*\[sim web-0 restart 0\] running: started\n$/,
    );
    let tail = "";
    await runtime.logs(
      "web-0",
      { follow: false, tailLines: 1 },
      { write: (c) => (tail += String(c)) },
      new AbortController().signal,
    );
    expect(tail.trim().split("\n")).toHaveLength(1);

    const abort = new AbortController();
    let followed = "";
    const following = runtime.logs(
      "web-0",
      { follow: true, tailLines: 1 },
      { write: (c) => (followed += String(c)) },
      abort.signal,
    );
    runtime.crash("web-0");
    await new Promise((r) => setTimeout(r, 20));
    abort.abort();
    expect(await following).toBe(true);
    expect(followed).toMatch(/failed: crashed \(exit code 137, fault injected\)/);
    expect(changes.map((c) => c.state)).toEqual(["starting", "running", "failed"]);
    expect(await runtime.logs("nope", { follow: false, tailLines: 0 }, { write: () => {} }, abort.signal)).toMatch(
      /no container nope/,
    );
    runtime.close();
  });
});
