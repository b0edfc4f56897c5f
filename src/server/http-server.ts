import { createServer, type Server } from "node:http";
import type { Registry } from "prom-client";
import { splitListenHostPort } from "../lib/host-port.js";

export interface HealthSource {
  /** Why the replica is not ready to serve, or null when it is. */
  notReadyReason(): string | null;
}

/** /metrics, /healthz (the process is alive) and /readyz (it can serve traffic). */
export function startHttpServer(address: string, registry: Registry, health: HealthSource): Promise<Server> {
  const { host, port } = splitListenHostPort(address);
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/metrics") {
      registry
        .metrics()
        .then((body) => {
          res.writeHead(200, { "content-type": registry.contentType });
          res.end(body);
        })
        .catch((error: unknown) => {
          res.writeHead(500, { "content-type": "text/plain" });
          res.end(`metrics failed: ${String(error)}\n`);
        });
      return;
    }
    if (path === "/healthz") {
      res.writeHead(200, { "content-type": "text/plain" });
      res.end("ok\n");
      return;
    }
    if (path === "/readyz") {
      const reason = health.notReadyReason();
      res.writeHead(reason === null ? 200 : 503, { "content-type": "text/plain" });
      res.end(reason === null ? "ready\n" : `not ready: ${reason}\n`);
      return;
    }
    res.writeHead(404, { "content-type": "text/plain" });
    res.end("not found: try /metrics, /healthz or /readyz\n");
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve(server);
    });
  });
}
