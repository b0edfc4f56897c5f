import { createServer } from "node:net";
import * as grpc from "@grpc/grpc-js";
import {
  OrchestratorServiceService,
  type OrchestratorServiceServer,
} from "../../src/gen/orchestrator/v1/orchestrator.js";
import { BufferSink } from "../../src/cli/io.js";
import { run } from "../../src/cli/run.js";

/**
 * A real gRPC server on 127.0.0.1 speaking OrchestratorService with hand-written handlers,
 * recording every request it receives. Methods without a handler answer UNIMPLEMENTED.
 */
export interface RecordedCall {
  readonly method: string;
  readonly request: unknown;
}

export interface FakeServer {
  readonly address: string;
  readonly calls: RecordedCall[];
  callsTo(method: string): unknown[];
  stop(): void;
}

type Handlers = Partial<OrchestratorServiceServer>;

export async function startFakeServer(handlers: Handlers): Promise<FakeServer> {
  const calls: RecordedCall[] = [];
  const implementation: Record<string, grpc.UntypedHandleCall> = {};
  for (const method of Object.keys(OrchestratorServiceService)) {
    const handler = (handlers as Record<string, grpc.UntypedHandleCall | undefined>)[method];
    const streaming = OrchestratorServiceService[method as keyof typeof OrchestratorServiceService].responseStream;
    implementation[method] = (call: grpc.ServerUnaryCall<unknown, unknown>, callback?: grpc.sendUnaryData<unknown>) => {
      calls.push({ method, request: call.request });
      if (handler !== undefined) return (handler as (c: unknown, cb?: unknown) => void)(call, callback);
      const error = { code: grpc.status.UNIMPLEMENTED, details: `${method} not implemented by this fake` };
      if (streaming) (call as unknown as grpc.ServerWritableStream<unknown, unknown>).emit("error", error);
      else callback?.(error, null);
    };
  }
  const server = new grpc.Server();
  server.addService(OrchestratorServiceService, implementation);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  return {
    address: `127.0.0.1:${port}`,
    calls,
    callsTo: (method) => calls.filter((call) => call.method === method).map((call) => call.request),
    stop: () => server.forceShutdown(),
  };
}

/** A status error a handler passes to its callback, with optional trailers. */
export function statusError(
  code: grpc.status,
  details: string,
  trailers: Record<string, string> = {},
): Partial<grpc.StatusObject> {
  const metadata = new grpc.Metadata();
  for (const [key, value] of Object.entries(trailers)) metadata.set(key, value);
  return { code, details, metadata };
}

/** The follower's answer: not the leader, ask `leader` instead. */
export function notLeader(leaderId: string, leaderAddress: string): Partial<grpc.StatusObject> {
  return statusError(grpc.status.UNAVAILABLE, `not the leader; the leader is ${leaderId}`, {
    "x-leader-id": leaderId,
    "x-leader-address": leaderAddress,
  });
}

/** An address where nothing listens (bound, then released). */
export async function deadAddress(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `127.0.0.1:${address.port}`;
}

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs orchctl in-process with captured output. */
export async function runCli(
  args: readonly string[],
  options: { signal?: AbortSignal; env?: Record<string, string> } = {},
): Promise<CliResult> {
  const stdout = new BufferSink();
  const stderr = new BufferSink();
  const code = await run(args, { stdout, stderr, env: options.env ?? {}, signal: options.signal });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}
