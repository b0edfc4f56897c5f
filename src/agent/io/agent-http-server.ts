/**
 * The agent's HTTP server: the simulated containers' health endpoints, /metrics, /healthz, a
 * read-only view of the agent (/containers, /nodes) and the fault-injection hooks.
 *
 *   GET  /containers/<id>/health           200 "ok" while the container runs and is healthy;
 *                                          503 with its local state while it is not running:
 *                                          starting, waiting (a restart's back-off), failed
 *                                          (crashed, down until the leader restarts it) or
 *                                          stopped; 404 for a container this agent does not have
 *   GET  /containers/<id><health path>     the same, at the deployment's health-check path
 *   POST /faults/containers/<id>/crash     the container exits (reported failed; it stays down,
 *                                          503, until the leader restarts it); 409 unless it is
 *                                          starting or running
 *   POST /faults/containers/<id>/unhealthy its health endpoint answers 500
 *   POST /faults/containers/<id>/hang      its health endpoint never answers
 *   POST /faults/containers/<id>/healthy   clears unhealthy / hang
 *   POST /faults/nodes/<id>/kill           the node goes silent: no heartbeats, no reports, its
 *                                          containers' endpoints reset connections
 *   POST /faults/nodes/<id>/revive         the node comes back and reconciles
 *   POST /faults/images/<image>/crash      every instance of the image (URI-encoded) exits, now and
 *                                          whenever one starts, until `healthy`
 *   POST /faults/images/<image>/unhealthy  their health endpoints answer 500
 *   POST /faults/images/<image>/slow-start?seconds=S  new instances take S seconds to start
 *   POST /faults/images/<image>/healthy    clears the image's fault
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { assertNever } from "../../lib/assert.js";
import { splitListenHostPort } from "../../lib/host-port.js";
import { agentLimits, dockerLimits } from "../limits.js";
import type { AgentMetrics } from "./agent-metrics.js";
import type { Instance, LogRequest, LogSink } from "./container-runtime.js";

export type ContainerFault = "crash" | "unhealthy" | "healthy" | "hang";
export type NodeFault = "kill" | "revive";
/** What `POST /faults/images/...` asks for; `healthy` clears. */
export type ImageFaultRequest =
  | { readonly kind: "crash" }
  | { readonly kind: "unhealthy" }
  | { readonly kind: "slow-start"; readonly startDelayMs: number }
  | { readonly kind: "healthy" };
const imageFaults = ["crash", "unhealthy", "slow-start", "healthy"] as const;

const containerFaults: readonly ContainerFault[] = ["crash", "unhealthy", "healthy", "hang"];
const nodeFaults: readonly NodeFault[] = ["kill", "revive"];

export interface AgentHttpHandlers {
  readonly metrics: AgentMetrics;
  instance(containerId: string): Instance | undefined;
  /** Undefined for a node this agent does not run. */
  nodeAlive(nodeId: string): boolean | undefined;
  /** JSON-able views for GET /containers and GET /nodes. */
  containers(): unknown;
  nodes(): unknown;
  /** False when the target does not exist (404) or the fault does not apply (409); a string explains. */
  containerFault(containerId: string, fault: ContainerFault): true | string;
  nodeFault(nodeId: string, fault: NodeFault): true | string;
  imageFault(image: string, fault: ImageFaultRequest): true | string;
  /** Writes a container's output; a string says why there is none (404). */
  logs(containerId: string, request: LogRequest, sink: LogSink, signal: AbortSignal): Promise<true | string>;
}

export interface AgentHttpServer {
  /** host:port actually bound (the port is real even when 0 was asked for). */
  readonly address: string;
  close(): Promise<void>;
}

export async function startAgentHttpServer(address: string, handlers: AgentHttpHandlers): Promise<AgentHttpServer> {
  const { host, port } = splitListenHostPort(address);
  /** Requests the "hang" fault holds open, oldest first. */
  const hung = new Set<Socket>();
  const server: Server = createServer((req, res) => route(req, res, handlers, hung));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const bound = server.address();
  const boundPort = typeof bound === "object" && bound !== null ? bound.port : port;
  return {
    address: `${host.includes(":") ? `[${host}]` : host}:${boundPort}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of hung) socket.destroy();
        hung.clear();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function route(req: IncomingMessage, res: ServerResponse, handlers: AgentHttpHandlers, hung: Set<Socket>): void {
  const path = (req.url ?? "/").split("?")[0];
  const segments = path.split("/").slice(1);
  if (segments[0] === "faults") {
    if (req.method !== "POST") return reply(res, 405, { error: "fault hooks take POST" }, { allow: "POST" });
    return fault(res, segments, new URLSearchParams((req.url ?? "").split("?")[1] ?? ""), handlers);
  }
  if (req.method !== "GET" && req.method !== "HEAD")
    return reply(res, 405, { error: `${req.method} is not served here` }, { allow: "GET" });
  if (path === "/healthz") return text(res, 200, "ok\n");
  if (path === "/metrics") return metrics(res, handlers);
  if (path === "/containers") return reply(res, 200, handlers.containers());
  if (path === "/nodes") return reply(res, 200, handlers.nodes());
  if (segments[0] === "containers" && segments.length === 3 && segments[2] === "logs")
    return logs(req, res, decodeURIComponent(segments[1]), handlers);
  if (segments[0] === "containers" && segments.length >= 3)
    return health(req, res, segments[1], `/${segments.slice(2).join("/")}`, handlers, hung);
  return text(
    res,
    404,
    "not found: try /containers/<id>/health, /metrics, /healthz, /containers, /nodes or POST /faults/...\n",
  );
}

function health(
  req: IncomingMessage,
  res: ServerResponse,
  containerId: string,
  subPath: string,
  handlers: AgentHttpHandlers,
  hung: Set<Socket>,
): void {
  const count = (code: string): void => handlers.metrics.healthRequests.inc({ code });
  const instance = handlers.instance(containerId);
  if (instance === undefined || (subPath !== "/health" && subPath !== instance.healthCheckPath)) {
    count("404");
    return text(res, 404, `no container ${containerId} (or no endpoint ${subPath}) on this agent\n`);
  }
  if (handlers.nodeAlive(instance.nodeId) !== true) {
    // A dead machine does not answer: the prober sees its connection reset.
    count("reset");
    req.socket.destroy();
    return;
  }
  if (instance.state !== "running") {
    // Known here but not serving: a crashed container waiting for the leader's restart decision,
    // one waiting out its restart's back-off, or one starting or stopped. The prober counts a 503
    // as a failed probe; the body names the state for people.
    count("503");
    return text(res, 503, `${instance.state}\n`);
  }
  switch (instance.fault) {
    case "unhealthy":
      count("500");
      return text(res, 500, "unhealthy\n");
    case "hang": {
      count("hang");
      if (hung.size >= agentLimits.hungRequestsMax) {
        const oldest = hung.values().next().value;
        if (oldest !== undefined) {
          hung.delete(oldest);
          oldest.destroy();
        }
      }
      hung.add(req.socket);
      req.socket.once("close", () => hung.delete(req.socket));
      return;
    }
    case "none":
      count("200");
      return text(res, 200, "ok");
    default:
      return assertNever(instance.fault, "health fault");
  }
}

/** GET /containers/<id>/logs?follow=1&tail=N: the container's output as plain text, streamed with follow. */
function logs(req: IncomingMessage, res: ServerResponse, containerId: string, handlers: AgentHttpHandlers): void {
  const query = new URLSearchParams((req.url ?? "").split("?")[1] ?? "");
  const tailLines = Number(query.get("tail") ?? "0");
  if (!Number.isInteger(tailLines) || tailLines < 0 || tailLines > dockerLimits.logTailLinesMax)
    return reply(res, 400, { error: `tail must be a whole number from 0 to ${dockerLimits.logTailLinesMax}` });
  const follow = query.get("follow") === "1" || query.get("follow") === "true";
  const abort = new AbortController();
  res.once("close", () => abort.abort());
  let started = false;
  const sink = {
    write: (chunk: string | Uint8Array): void => {
      if (!started) {
        started = true;
        res.writeHead(200, { "content-type": "text/plain; charset=utf-8" });
      }
      res.write(chunk);
    },
  };
  handlers.logs(containerId, { follow, tailLines }, sink, abort.signal).then(
    (outcome) => {
      if (outcome === true) {
        if (!started) res.writeHead(200, { "content-type": "text/plain; charset=utf-8" });
        res.end();
      } else if (!started) reply(res, 404, { error: outcome });
      else res.end();
    },
    (error: unknown) => {
      if (!started) reply(res, 500, { error: String(error) });
      else res.end();
    },
  );
}

function fault(
  res: ServerResponse,
  segments: readonly string[],
  query: URLSearchParams,
  handlers: AgentHttpHandlers,
): void {
  const [, kind, id, action] = segments;
  if (segments.length === 4 && kind === "images")
    return imageFault(res, decodeURIComponent(id), action, query, handlers);
  if (segments.length === 4 && kind === "containers" && (containerFaults as readonly string[]).includes(action)) {
    return faultResult(
      res,
      handlers,
      action,
      handlers.containerFault(decodeURIComponent(id), action as ContainerFault),
      { container: id },
    );
  }
  if (segments.length === 4 && kind === "nodes" && (nodeFaults as readonly string[]).includes(action)) {
    return faultResult(res, handlers, action, handlers.nodeFault(decodeURIComponent(id), action as NodeFault), {
      node: id,
    });
  }
  return reply(res, 404, {
    error: `unknown fault hook /${segments.join("/")}: use /faults/containers/<id>/{${containerFaults.join(",")}} or /faults/nodes/<id>/{${nodeFaults.join(",")}}`,
  });
}

function imageFault(
  res: ServerResponse,
  image: string,
  action: string,
  query: URLSearchParams,
  handlers: AgentHttpHandlers,
): void {
  if (image === "") return reply(res, 400, { error: "an image fault names an image" });
  let request: ImageFaultRequest;
  switch (action) {
    case "crash":
    case "unhealthy":
    case "healthy":
      request = { kind: action };
      break;
    case "slow-start": {
      const seconds = Number(query.get("seconds") ?? "");
      const startDelayMs = seconds * 1000;
      if (!Number.isInteger(seconds) || seconds < 1 || startDelayMs > agentLimits.slowStartMsMax) {
        return reply(res, 400, {
          error: `slow-start needs ?seconds=S, a whole number from 1 to ${agentLimits.slowStartMsMax / 1000}`,
        });
      }
      request = { kind: "slow-start", startDelayMs };
      break;
    }
    default:
      return reply(res, 404, { error: `unknown image fault ${action}: use one of ${imageFaults.join(", ")}` });
  }
  return faultResult(res, handlers, `image-${action}`, handlers.imageFault(image, request), { image });
}

function faultResult(
  res: ServerResponse,
  handlers: AgentHttpHandlers,
  action: string,
  outcome: true | string,
  target: Record<string, string>,
): void {
  if (outcome === true) {
    handlers.metrics.faults.inc({ fault: action });
    return reply(res, 200, { ok: true, fault: action, ...target });
  }
  return reply(res, outcome.startsWith("no ") ? 404 : 409, { error: outcome, ...target });
}

function metrics(res: ServerResponse, handlers: AgentHttpHandlers): void {
  const registry = handlers.metrics.registry;
  registry.metrics().then(
    (body) => {
      res.writeHead(200, { "content-type": registry.contentType });
      res.end(body);
    },
    (error: unknown) => text(res, 500, `metrics failed: ${String(error)}\n`),
  );
}

function text(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { "content-type": "text/plain" });
  res.end(body);
}

function reply(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(`${JSON.stringify(body)}\n`);
}
