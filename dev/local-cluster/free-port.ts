import { randomInt } from "node:crypto";
import { createServer } from "node:net";

/**
 * Ports for processes started on "random" ports (tests, benchmarks). The port is checked free
 * and released, then the child binds it, so something else may take it in between. To make
 * that unlikely: ports come from below Linux's ephemeral range (32768-60999), which outgoing
 * connections and listen(0) draw from, so only another caller of this function could take it;
 * a random pick makes two such callers meeting rare; and one process never hands out a port twice.
 */
const portRange = { lo: 20_000, hi: 32_000 } as const;
const attemptsMax = 200;
const handedOut = new Set<number>();

export async function freePort(host = "127.0.0.1"): Promise<number> {
  for (let attempt = 0; attempt < attemptsMax; attempt++) {
    const port = randomInt(portRange.lo, portRange.hi);
    if (handedOut.has(port)) continue;
    if (await canListen(host, port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free port on ${host} in ${portRange.lo}-${portRange.hi} after ${attemptsMax} tries`);
}

function canListen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}
