/**
 * orchctl apply in the FSM: one command for the whole file, all or none; the check index
 * compared at apply time against spec revisions (health reports do not move them) and deletes;
 * and a deploy without an update policy keeps the current one.
 */
import { describe, expect, it } from "vitest";
import type { DeploymentSpec, UpdatePolicy } from "../../src/gen/orchestrator/v1/types.js";
import { Command } from "../../src/gen/orchestrator/v1/fsm.js";
import { ClusterFsm, type CommandBody } from "../../src/fsm/index.js";
import { keepPolicyFormatVersion } from "../../src/fsm/limits.js";
import { body, ContainerState, Harness, HealthState, spec, t0 } from "./helpers.js";

const update = (p: Partial<UpdatePolicy> = {}): UpdatePolicy => ({
  maxParallel: 0,
  healthyDeadlineMs: 0,
  progressDeadlineMs: 0,
  canary: 0,
  ...p,
});
const applyFile = (specs: Partial<DeploymentSpec>[], checkIndex?: number, force = false): CommandBody => ({
  kind: "apply-file",
  applyFile: {
    specs: specs.map((s) => spec(s)),
    force,
    actor: "",
    ...(checkIndex !== undefined ? { checkIndex } : {}),
  },
});
const client = (seq: number) => ({ clientId: "alice", seq });

function outcomes(h: Harness, command: CommandBody, seq: number): string[] {
  const value = h.ok(command, client(seq));
  if (value.kind !== "apply-file") throw new Error(`unexpected ${value.kind}`);
  return value.outcomes.map((o) => `${o.name} ${o.result} v${o.version}`);
}

function cluster(): Harness {
  const h = new Harness();
  h.ok(body.register("n1", "us-east-1", 16_000, 16_384));
  return h;
}

describe("apply-file", () => {
  it("creates, then is unchanged, then configures and scales, all in one entry each", () => {
    const h = cluster();
    const file = [{ name: "web" }, { name: "api", image: "api:1", replicas: 2 }];
    expect(outcomes(h, applyFile(file), 1)).toEqual(["web created v1", "api created v1"]);
    expect(outcomes(h, applyFile(file), 2)).toEqual(["web unchanged v1", "api unchanged v1"]);
    const changed = [
      { name: "web", image: "nginx:2" },
      { name: "api", image: "api:1", replicas: 4 },
    ];
    expect(outcomes(h, applyFile(changed), 3)).toEqual(["web configured v2", "api scaled v1"]);
    expect(h.fsm.getDeploymentRecord("web")?.history.map((v) => v.reason)).toEqual(["apply", "apply"]);
  });

  it("is all or none: one bad spec leaves every deployment as it was", () => {
    const h = cluster();
    const failure = h.fail(applyFile([{ name: "web" }, { name: "api", image: "" }]), client(1));
    expect(failure.code).toBe("INVALID_ARGUMENT");
    expect(failure.message).toContain("deployment api needs an image");
    expect(h.fsm.getDeploymentRecord("web")).toBeUndefined();
    expect(h.fail(applyFile([{ name: "web" }, { name: "web" }]), client(2)).message).toContain("appears twice");
  });

  it("refuses more deployments than one apply allows with RESOURCE_EXHAUSTED", () => {
    const h = cluster();
    const many = Array.from({ length: 10_000 }, (_, i) => ({ name: `d${i}` }));
    expect(h.fail(applyFile(many), client(1)).code).toBe("RESOURCE_EXHAUSTED");
    expect(h.fsm.listDeployments()).toHaveLength(0);
  });

  it("check index: health reports do not make a plan stale; a spec change, a scale, a create or a delete does", () => {
    const h = cluster();
    h.ok(applyFile([{ name: "web", replicas: 1 }]), client(1));
    const index = h.fsm.getDeploymentRecord("web")!.specRevision;
    h.ok(body.plan("web", [["web-0", "n1"]]));
    h.ok(body.status("web-0", "n1", ContainerState.CONTAINER_STATE_RUNNING));
    h.ok(body.health("web-0", HealthState.HEALTH_STATE_HEALTHY));
    expect(h.fsm.revision).toBeGreaterThan(index);
    expect(outcomes(h, applyFile([{ name: "web", replicas: 1 }], index), 2)).toEqual(["web unchanged v1"]);

    h.ok(body.scale("web", 2), client(3));
    const stale = h.fail(applyFile([{ name: "web", replicas: 1 }], index), client(4));
    expect(stale.code).toBe("FAILED_PRECONDITION");
    expect(stale.message).toContain(`after check index ${index}`);

    const fresh = h.fsm.getDeploymentRecord("web")!.specRevision;
    h.ok(body.deploy({ name: "api", image: "api:1", replicas: 1 }), client(5));
    expect(h.fail(applyFile([{ name: "api", image: "api:1", replicas: 1 }], fresh), client(6)).code).toBe(
      "FAILED_PRECONDITION",
    );
    h.ok(body.delete("api"), client(7));
    const gone = h.fail(applyFile([{ name: "api", image: "api:1", replicas: 1 }], fresh), client(8));
    expect(gone.message).toContain("was deleted");
    expect(outcomes(h, applyFile([{ name: "web", replicas: 2 }], fresh), 9)).toEqual(["web unchanged v1"]);
  });

  it("spec revision and the last delete survive a snapshot", () => {
    const h = cluster();
    h.ok(applyFile([{ name: "web" }, { name: "api", image: "api:1" }]), client(1));
    h.ok(body.delete("api"), client(2));
    const restored = new ClusterFsm();
    restored.restore(h.fsm.snapshot());
    expect(restored.deletedRevision).toBe(h.fsm.deletedRevision);
    expect(restored.deletedRevision).toBeGreaterThan(0);
    expect(restored.getDeploymentRecord("web")!.specRevision).toBe(h.fsm.getDeploymentRecord("web")!.specRevision);
  });
});

describe("deploy without an update policy", () => {
  it("keeps the current policy: the same command again is unchanged, not a new version", () => {
    const h = cluster();
    const policy = update({ maxParallel: 2, canary: 1, autoRevert: false });
    h.ok(body.deploy({ update: policy }), client(1));
    const again = h.ok(body.deploy({}), client(2));
    expect(again).toMatchObject({ kind: "deploy", result: "unchanged", version: 1 });
    const image = h.ok(body.deploy({ image: "nginx:2" }), client(3));
    expect(image).toMatchObject({ result: "configured", version: 2 });
    const kept = h.fsm.getDeploymentRecord("web")!.spec.update;
    expect(kept).toMatchObject({ maxParallel: 2, canary: 1, autoRevert: false });
    // Scaling down below the canary count caps it instead of refusing the spec.
    expect(h.ok(body.deploy({ image: "nginx:2", replicas: 0 }), client(4))).toMatchObject({ result: "scaled" });
    expect(h.fsm.getDeploymentRecord("web")!.spec.update.canary).toBe(0);
  });

  it("an entry of the older command format is applied as it was: the defaults", () => {
    const h = cluster();
    h.ok(body.deploy({ update: update({ maxParallel: 2 }) }), client(1));
    const old = Command.encode(
      Command.fromPartial({
        formatVersion: keepPolicyFormatVersion - 1,
        clientId: "alice",
        seq: 2,
        atMs: t0,
        deploy: { spec: spec() },
      }),
    ).finish();
    const result = h.fsm.apply(++h.index, old);
    expect(result).toMatchObject({ ok: true, value: { result: "configured", version: 2 } });
    expect(h.fsm.getDeploymentRecord("web")!.spec.update.maxParallel).toBe(1);
  });

  it("a new deployment without a policy takes the defaults", () => {
    const h = cluster();
    h.ok(body.deploy({}), client(1));
    expect(h.fsm.getDeploymentRecord("web")!.spec.update).toMatchObject({
      maxParallel: 1,
      canary: 0,
      autoRevert: true,
    });
  });
});
