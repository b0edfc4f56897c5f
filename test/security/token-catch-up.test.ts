import * as grpc from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { AccessControl } from "../../src/api/access-control.js";
import { accessLimits } from "../../src/api/access-limits.js";
import { secretSha256 } from "../../src/api/token-secret.js";
import {
  ListDeploymentsResponse,
  OrchestratorServiceClient,
  OrchestratorServiceService,
  ListDeploymentsRequest,
} from "../../src/gen/orchestrator/v1/orchestrator.js";
import { bearerValue } from "../../src/lib/bearer-token.js";
import { Harness } from "../fsm/helpers.js";

/**
 * A token created a moment ago through the leader, presented to a follower that has not applied
 * it yet, works: the access check waits for the replica to catch up (a read barrier) before it
 * calls the token unknown. The replica here is a real FSM behind a real gRPC server with the real
 * interceptor; its catch-up applies the token's creation, as a lagging follower's would.
 */

const adminSecret = "orch_admin-secret-for-the-catch-up-test";
const newSecret = "orch_a-token-created-a-moment-ago";

interface Replica {
  readonly client: OrchestratorServiceClient;
  readonly catchUps: () => number;
  close(): void;
}

const open: Replica[] = [];
afterEach(() => {
  for (const replica of open.splice(0)) replica.close();
});

/** A server whose FSM knows only the bootstrap token until `catchUp` runs. */
async function replica(catchUp: ((fsm: Harness) => Promise<void>) | undefined): Promise<Replica> {
  const h = new Harness();
  h.ok({
    kind: "acl-bootstrap",
    aclBootstrap: {
      token: { name: "bootstrap", role: "admin", secretSha256: secretSha256(adminSecret), expiresAtMs: 0, region: "" },
    },
  });
  let catchUps = 0;
  const access = new AccessControl({
    state: h.fsm,
    acl: true,
    ...(catchUp !== undefined
      ? {
          catchUp: async () => {
            catchUps += 1;
            await catchUp(h);
          },
        }
      : {}),
  });
  const server = new grpc.Server({ interceptors: [access.interceptor] });
  server.addService(OrchestratorServiceService, {
    listDeployments: (
      _call: grpc.ServerUnaryCall<ListDeploymentsRequest, ListDeploymentsResponse>,
      done: grpc.sendUnaryData<ListDeploymentsResponse>,
    ) => done(null, ListDeploymentsResponse.fromPartial({ revision: h.index })),
  } as unknown as grpc.UntypedServiceImplementation);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error === null ? resolve(bound) : reject(error),
    ),
  );
  const client = new OrchestratorServiceClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const r: Replica = {
    client,
    catchUps: () => catchUps,
    close() {
      client.close();
      server.forceShutdown();
    },
  };
  open.push(r);
  return r;
}

function createToken(h: Harness): void {
  h.ok({
    kind: "token-create",
    tokenCreate: { name: "fresh", role: "viewer", secretSha256: secretSha256(newSecret), expiresAtMs: 0, region: "" },
  });
}

type Outcome = { ok: true } | { ok: false; code: number; details: string };

function list(r: Replica, secret: string): Promise<Outcome> {
  const metadata = new grpc.Metadata();
  metadata.set("authorization", bearerValue(secret));
  return new Promise((resolve) =>
    r.client.listDeployments(ListDeploymentsRequest.fromPartial({}), metadata, (error) =>
      resolve(error === null ? { ok: true } : { ok: false, code: error.code, details: error.details }),
    ),
  );
}

describe("a token this replica has not applied yet", () => {
  it("is accepted once the replica has caught up", async () => {
    const r = await replica(async (h) => createToken(h));
    expect(await list(r, newSecret)).toEqual({ ok: true });
    expect(r.catchUps()).toBe(1);
    // Known now: no second catch-up.
    expect(await list(r, newSecret)).toEqual({ ok: true });
    expect(r.catchUps()).toBe(1);
  });

  it("is refused when it is still unknown after the catch-up, or the catch-up fails, or there is none", async () => {
    const stillUnknown = await replica(async () => undefined);
    const refused = await list(stillUnknown, newSecret);
    expect(refused).toMatchObject({ ok: false, code: grpc.status.UNAUTHENTICATED });
    expect(refused.ok ? "" : refused.details).toMatch(/unknown or revoked token/);
    expect(stillUnknown.catchUps()).toBe(1);

    const noLeader = await replica(async () => {
      throw new Error("no leader");
    });
    expect(await list(noLeader, newSecret)).toMatchObject({ ok: false, code: grpc.status.UNAUTHENTICATED });

    const without = await replica(undefined);
    expect(await list(without, newSecret)).toMatchObject({ ok: false, code: grpc.status.UNAUTHENTICATED });
    // A known token never waits.
    expect(await list(without, adminSecret)).toEqual({ ok: true });
  });

  it("bounds the calls waiting at once: beyond the bound an unknown token is refused without waiting", async () => {
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    const r = await replica(async (h) => {
      await released;
      if (h.fsm.getToken("fresh") === undefined) createToken(h);
    });
    const waiting = Array.from({ length: accessLimits.unknownTokenCatchUpsMax }, () => list(r, newSecret));
    await expect.poll(() => r.catchUps(), { timeout: 10_000 }).toBe(accessLimits.unknownTokenCatchUpsMax);
    const beyond = await list(r, newSecret);
    expect(beyond).toMatchObject({ ok: false, code: grpc.status.UNAUTHENTICATED });
    release();
    for (const outcome of await Promise.all(waiting)) expect(outcome).toEqual({ ok: true });
  });
});
