import { promises as fs } from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { probesInFlightMax } from "../../src/health/io/http-prober.js";
import { WorkerProber } from "../../src/health/io/worker-prober.js";

/**
 * The prober the replicas run: real HTTP probes sent from a worker thread (the compiled
 * dist/src/health/io/probe-worker.js, which `npm test` builds first) to real servers on 127.0.0.1.
 */

const thread = new URL("../../dist/src/health/io/probe-worker.js", import.meta.url);

let server: http.Server;
let origin: string;
let closedOrigin: string;
let tmp: string;
/** "/held" requests being answered right now, and the most at once. */
let open = 0;
let openMax = 0;
const held: (() => void)[] = [];
const seen: string[] = [];

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), "orch-worker-prober-"));
  server = http.createServer((request, response) => {
    seen.push(request.url ?? "");
    const answer = (code: number): void => void response.writeHead(code).end();
    if (request.url === "/ok") answer(200);
    else if (request.url === "/sick") answer(503);
    else if (request.url === "/held") {
      open++;
      openMax = Math.max(openMax, open);
      held.push(() => {
        open--;
        answer(200);
      });
    }
    // "/hang": never answered; the probe's timeout decides.
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const closed = http.createServer();
  await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
  closedOrigin = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await fs.rm(tmp, { recursive: true, force: true });
});

function failures(): { prober: WorkerProber; errors: Error[] } {
  const errors: Error[] = [];
  return { prober: new WorkerProber({ script: thread, onThreadFailure: (e) => errors.push(e) }), errors };
}

describe("WorkerProber", () => {
  it("answers healthy, unhealthy and no-answer from its thread", async () => {
    await expect(fs.access(thread)).resolves.toBeUndefined();
    const { prober, errors } = failures();
    try {
      const outcomes = await Promise.all([
        prober.probe(origin, "/ok", 2_000),
        prober.probe(origin, "/sick", 2_000),
        prober.probe(origin, "/hang", 300),
        prober.probe(closedOrigin, "/ok", 2_000),
      ]);
      expect(outcomes).toEqual(["healthy", "unhealthy", "no-answer", "no-answer"]);
      expect(errors).toEqual([]);
    } finally {
      await prober.close();
    }
  });

  it("runs dispatch on the caller's thread and sends nothing when it says no", async () => {
    const { prober } = failures();
    try {
      const before = seen.length;
      let dispatched = 0;
      expect(await prober.probe(origin, "/declined", 2_000, () => false)).toBeNull();
      expect(
        await prober.probe(origin, "/ok", 2_000, () => {
          dispatched++;
          return true;
        }),
      ).toBe("healthy");
      expect(dispatched).toBe(1);
      expect(seen.slice(before)).toEqual(["/ok"]);
    } finally {
      await prober.close();
    }
  });

  it(`keeps at most ${probesInFlightMax} probes in flight; the rest wait for a slot`, async () => {
    const { prober, errors } = failures();
    openMax = 0;
    try {
      const count = probesInFlightMax + 100;
      const all = Promise.all(Array.from({ length: count }, () => prober.probe(origin, "/held", 20_000)));
      await expect.poll(() => held.length, { timeout: 15_000 }).toBe(probesInFlightMax);
      // Released one by one: each frees a slot for one that waited.
      let done = false;
      void all.finally(() => (done = true));
      while (!done) {
        held.shift()?.();
        await new Promise((resolve) => setTimeout(resolve, held.length === 0 ? 20 : 0));
      }
      expect((await all).every((o) => o === "healthy")).toBe(true);
      expect(openMax).toBe(probesInFlightMax);
      expect(errors).toEqual([]);
    } finally {
      for (const release of held.splice(0)) release();
      await prober.close();
    }
  }, 60_000);

  it("answers no-answer for what a failed thread held, and probes from the caller's thread from then on", async () => {
    // A thread that takes the first batch and dies with it.
    const dying = path.join(tmp, "dying-probe-worker.mjs");
    await fs.writeFile(
      dying,
      'import { parentPort } from "node:worker_threads";\nparentPort.on("message", () => process.exit(3));\n',
    );
    const errors: Error[] = [];
    const prober = new WorkerProber({ script: pathToFileURL(dying), onThreadFailure: (e) => errors.push(e) });
    try {
      expect(await prober.probe(origin, "/ok", 2_000)).toBe("no-answer");
      expect(errors.map((e) => e.message)).toEqual(["the probe thread exited with code 3"]);
      expect(await prober.probe(origin, "/ok", 2_000)).toBe("healthy");
      expect(await prober.probe(origin, "/sick", 2_000)).toBe("unhealthy");
    } finally {
      await prober.close();
    }
  });

  it("answers null after close", async () => {
    const { prober } = failures();
    expect(await prober.probe(origin, "/ok", 2_000)).toBe("healthy");
    await prober.close();
    expect(await prober.probe(origin, "/ok", 2_000)).toBeNull();
  });
});
