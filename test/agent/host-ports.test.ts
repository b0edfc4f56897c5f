import { createServer, type Server } from "node:net";
import { describe, expect, it } from "vitest";
import { HostPorts } from "../../src/agent/io/host-ports.js";

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(port, "0.0.0.0", () => resolve(server));
  });
}

describe("host ports for named container ports", () => {
  it("hands out free ports of its range, skips held and busy ones, and says when the range is spent", async () => {
    // Below the ephemeral range, and another pick if the one to hold busy happens to be taken.
    let first = 0;
    let busy: Server | undefined;
    for (let attempt = 0; busy === undefined && attempt < 10; attempt++) {
      first = 20_000 + Math.floor(Math.random() * 12_000);
      busy = await listen(first + 1).catch(() => undefined);
    }
    if (busy === undefined) throw new Error("no free port to hold busy after 10 picks");
    try {
      const ports = new HostPorts(first, first + 3);
      ports.hold([first]);
      expect(await ports.take(2)).toEqual([first + 2, first + 3]);
      expect(await ports.take(1)).toBeNull();
      ports.release([first + 2]);
      expect(await ports.take(1)).toEqual([first + 2]);
    } finally {
      busy.close();
    }
  });
});
