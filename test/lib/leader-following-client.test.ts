import * as grpc from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { freePort } from "../../dev/local-cluster/free-port.js";
import { LeaderFollowingClient, unaryCall, type MethodDefinition } from "../../src/lib/leader-following-client.js";
import type { RetryPolicy } from "../../src/lib/retry-policy.js";
import { RpcFailure } from "../../src/lib/rpc-failure.js";

/**
 * The shared client against real grpc-js servers on 127.0.0.1: a one-method service whose
 * answer each test scripts (a reply naming the server, a follower's UNAVAILABLE with leader
 * trailers, a refusal).
 */
const sayPath = "/test.Replica/Say";
const say: MethodDefinition<string, string> = {
  path: sayPath,
  requestSerialize: (value) => Buffer.from(value, "utf8"),
  responseDeserialize: (bytes) => bytes.toString("utf8"),
};

type Answer = (request: string) => { reply: string } | { error: Partial<grpc.StatusObject> };

interface ScriptedReplica {
  readonly address: string;
  readonly requests: string[];
}

const servers: grpc.Server[] = [];

afterEach(() => {
  for (const server of servers.splice(0)) server.forceShutdown();
});

async function startReplica(answer: Answer): Promise<ScriptedReplica> {
  const address = `127.0.0.1:${await freePort()}`;
  const requests: string[] = [];
  const server = new grpc.Server();
  server.addService(
    {
      say: {
        path: sayPath,
        requestStream: false,
        responseStream: false,
        requestSerialize: (value: string) => Buffer.from(value, "utf8"),
        requestDeserialize: (bytes: Buffer) => bytes.toString("utf8"),
        responseSerialize: (value: string) => Buffer.from(value, "utf8"),
        responseDeserialize: (bytes: Buffer) => bytes.toString("utf8"),
      },
    },
    {
      say: (call: grpc.ServerUnaryCall<string, string>, callback: grpc.sendUnaryData<string>) => {
        requests.push(call.request);
        const outcome = answer(call.request);
        if ("reply" in outcome) callback(null, outcome.reply);
        else callback(outcome.error, null);
      },
    },
  );
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (error) => (error ? reject(error) : resolve())),
  );
  servers.push(server);
  return { address, requests };
}

function refusal(
  code: grpc.status,
  details: string,
  trailers: Record<string, string> = {},
): { error: Partial<grpc.StatusObject> } {
  const metadata = new grpc.Metadata();
  for (const [key, value] of Object.entries(trailers)) metadata.set(key, value);
  return { error: { code, details, metadata } };
}

const policy: RetryPolicy = {
  retryableCodes: new Set([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED]),
  roundsMax: 1_000,
  backoff: { initialMs: 10, factor: 2, maxMs: 50 },
  deadlineMs: 10_000,
  attemptTimeoutMsMax: 2_000,
  leaderRedirectsPerAttemptMax: 3,
  answererIsLeader: false,
};

function clientOf(endpoints: readonly string[], overrides: Partial<RetryPolicy> = {}): LeaderFollowingClient {
  return new LeaderFollowingClient({
    endpoints,
    policy: { ...policy, ...overrides },
    channelOptions: { "grpc.initial_reconnect_backoff_ms": 50, "grpc.max_reconnect_backoff_ms": 200 },
  });
}

const sayHello = (channel: grpc.Client, address: string, timeoutMs: number): Promise<string> =>
  unaryCall(channel, address, say, "hello", timeoutMs);

describe("LeaderFollowingClient", () => {
  it("follows a follower's leader trailers to the leader and goes straight there afterwards", async () => {
    const leader = await startReplica(() => ({ reply: "leader r2" }));
    const follower = await startReplica(() =>
      refusal(grpc.status.UNAVAILABLE, "not the leader; the leader is r2", {
        "x-leader-id": "r2",
        "x-leader-address": leader.address,
      }),
    );
    const client = clientOf([follower.address]);
    try {
      const attempts: string[] = [];
      expect(await client.call(sayHello, { onAttempt: (a) => attempts.push(a) })).toBe("leader r2");
      expect(attempts).toEqual([follower.address, leader.address]);
      expect(client.knownLeader()).toEqual({ id: "r2", address: leader.address });
      expect(await client.call(sayHello)).toBe("leader r2");
      expect(follower.requests).toHaveLength(1);
      expect(leader.requests).toHaveLength(2);
    } finally {
      client.close();
    }
  });

  it("moves to the next endpoint when a replica cannot be reached", async () => {
    const dead = `127.0.0.1:${await freePort()}`;
    const live = await startReplica(() => ({ reply: "live" }));
    const client = clientOf([dead, live.address]);
    try {
      const attempts: string[] = [];
      const retried: RpcFailure[] = [];
      const reply = await client.call(sayHello, {
        onAttempt: (a) => attempts.push(a),
        onRetry: (failure) => retried.push(failure),
      });
      expect(reply).toBe("live");
      expect(attempts).toEqual([dead, live.address]);
      expect(retried).toHaveLength(1);
      expect(retried[0].code).toBe(grpc.status.UNAVAILABLE);
      expect(retried[0].address).toBe(dead);
      // The failed endpoint is passed over from now on.
      expect(client.current()).toBe(live.address);
    } finally {
      client.close();
    }
  });

  it("gives up at the deadline with the last failure", async () => {
    let answered = 0;
    const leaderless = await startReplica(() => {
      answered += 1;
      return refusal(grpc.status.UNAVAILABLE, `no leader yet (answer ${answered})`);
    });
    const dead = `127.0.0.1:${await freePort()}`;
    const client = clientOf([leaderless.address, dead], { deadlineMs: 600 });
    try {
      const attempts: string[] = [];
      const startedMs = performance.now();
      const error = await client.call(sayHello, { onAttempt: (a) => attempts.push(a) }).catch((e: unknown) => e);
      const elapsedMs = performance.now() - startedMs;
      expect(error).toBeInstanceOf(RpcFailure);
      const failure = error as RpcFailure;
      // The last attempt may also run out of the time left before the deadline.
      expect([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED]).toContain(failure.code);
      // The last attempt's failure, not the first one's.
      expect(failure.address).toBe(attempts[attempts.length - 1]);
      if (failure.address === leaderless.address && failure.code === grpc.status.UNAVAILABLE)
        expect(failure.details).toBe(`no leader yet (answer ${answered})`);
      expect(attempts.length).toBeGreaterThan(2);
      expect(attempts).toContain(dead);
      expect(elapsedMs).toBeGreaterThanOrEqual(500);
      expect(elapsedMs).toBeLessThan(10_000);
    } finally {
      client.close();
    }
  });

  it("gives up after roundsMax backed-off rounds even before the deadline", async () => {
    const leaderless = await startReplica(() => refusal(grpc.status.UNAVAILABLE, "no leader yet"));
    const client = clientOf([leaderless.address], { roundsMax: 3 });
    try {
      const error = await client.call(sayHello).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RpcFailure);
      // One attempt, then one more after each of the three backed-off rounds.
      expect(leaderless.requests).toHaveLength(4);
    } finally {
      client.close();
    }
  });

  it("returns a non-retryable refusal at once, without trying another replica", async () => {
    const refusing = await startReplica(() => refusal(grpc.status.INVALID_ARGUMENT, "replicas must be 0 or more"));
    const other = await startReplica(() => ({ reply: "other" }));
    const client = clientOf([refusing.address, other.address]);
    try {
      const retried: RpcFailure[] = [];
      const error = await client.call(sayHello, { onRetry: (f) => retried.push(f) }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RpcFailure);
      expect((error as RpcFailure).code).toBe(grpc.status.INVALID_ARGUMENT);
      expect((error as RpcFailure).details).toBe("replicas must be 0 or more");
      expect(retried).toEqual([]);
      expect(refusing.requests).toHaveLength(1);
      expect(other.requests).toHaveLength(0);
      // The refusing replica answered: it stays the one to ask next.
      expect(client.current()).toBe(refusing.address);
    } finally {
      client.close();
    }
  });

  it("stops retrying when its signal aborts, with the abort reason", async () => {
    const leaderless = await startReplica(() => refusal(grpc.status.UNAVAILABLE, "no leader yet"));
    const client = clientOf([leaderless.address], { deadlineMs: Infinity, roundsMax: Infinity });
    try {
      const controller = new AbortController();
      const reason = new Error("the agent is stopping");
      setTimeout(() => controller.abort(reason), 200);
      await expect(client.call(sayHello, { signal: controller.signal })).rejects.toBe(reason);
      expect(leaderless.requests.length).toBeGreaterThan(1);
    } finally {
      client.close();
    }
  });

  it("takes whoever answers for the leader when the policy says followers always redirect", async () => {
    const replica = await startReplica(() => ({ reply: "ok" }));
    const client = clientOf([replica.address], { answererIsLeader: true });
    try {
      await client.call(sayHello);
      expect(client.knownLeader()).toEqual({ id: "", address: replica.address });
    } finally {
      client.close();
    }
  });
});
