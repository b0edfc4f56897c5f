import { mkdtempSync, readFileSync, truncateSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  DeploymentFileError,
  deploymentFileLimits,
  parseDeploymentText,
  readDeploymentFiles,
} from "../../src/cli/apply/deployment-file.js";
import { formatDuration, parseDuration } from "../../src/lib/duration.js";

const examples = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "examples");

function refusal(run: () => unknown): { code: string; message: string } {
  try {
    run();
  } catch (error) {
    if (error instanceof DeploymentFileError) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error("expected a refusal");
}

describe("durations", () => {
  it.each([
    ["500ms", 500],
    ["10s", 10_000],
    ["2m", 120_000],
    ["1m30s", 90_000],
    ["1.5s", 1_500],
    ["1h", 3_600_000],
    ["0", 0],
  ])("%s is %d ms", (text, ms) => {
    expect(parseDuration(text)).toEqual({ ok: true, value: ms });
  });

  it.each(["", "10", "ten s", "10x", "-1s", "1.0005s", "5000000h"])("%j is refused with the forms", (text) => {
    const parsed = parseDuration(text);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error).toContain("use a duration like 500ms, 10s, 2m, 1h or 1m30s");
  });

  it("formats back", () => {
    expect([500, 1_500, 120_000, 90_000, 3_600_000].map(formatDuration)).toEqual([
      "500ms",
      "1.5s",
      "2m",
      "1m30s",
      "1h",
    ]);
  });
});

describe("deployment files", () => {
  it("reads one deployment with every field, in the cluster's units", () => {
    const [d] = parseDeploymentText(
      `
name: web
image: web:2
replicas: 6
cpu: 500m
memory: 256Mi
strategy: spread
regions: [us-east-1, eu-west-1]
client_regions: eu-west-1
one_per_node: true
health_check: { path: /healthz, period: 1s, timeout: 500ms, failure_threshold: 3, success_threshold: 1, initial_delay: 2s }
restart_policy: { initial_delay: 1s, factor: 2, max_delay: 1m, reset_after: 10m }
progress_deadline: 2m
update: { max_parallel: 2, max_surge: 1, min_healthy_time: 5s, healthy_deadline: 1m, progress_deadline: 10m, canary: 1, auto_revert: false }
`,
      "web.yaml",
    );
    expect(d.source).toBe("web.yaml");
    expect(d.input).toEqual({
      name: "web",
      image: "web:2",
      replicas: 6,
      cpuMillicores: 500,
      memoryMib: 256,
      strategy: "spread",
      regions: ["us-east-1", "eu-west-1"],
      clientRegions: ["eu-west-1"],
      onePerNode: true,
      healthCheck: {
        path: "/healthz",
        periodMs: 1_000,
        timeoutMs: 500,
        failureThreshold: 3,
        successThreshold: 1,
        initialDelayMs: 2_000,
      },
      restartPolicy: { initialDelayMs: 1_000, factor: 2, maxDelayMs: 60_000, resetAfterMs: 600_000 },
      progressDeadlineMs: 120_000,
      update: {
        maxParallel: 2,
        maxSurge: 1,
        minHealthyTimeMs: 5_000,
        healthyDeadlineMs: 60_000,
        progressDeadlineMs: 600_000,
        canary: 1,
        autoRevert: false,
      },
    });
  });

  it("reads the workload of a real container: command, args, env as a mapping, named ports, the health port", () => {
    const [d] = parseDeploymentText(readFileSync(join(examples, "hello-http", "hello-http.yaml"), "utf8"), "h.yaml");
    expect(d.input.workload).toEqual({
      command: "/bin/sh",
      args: ["-c", expect.stringContaining("httpd -f -v -p")],
      env: [{ name: "GREETING", value: "hello" }],
      ports: [{ name: "http", containerPort: 8080 }],
    });
    expect(d.input.healthCheck).toMatchObject({ path: "/healthz", port: "http" });
    expect(refusal(() => parseDeploymentText("name: a\nimage: a:1\nports: [{name: http}]\n", "p.yaml")).message).toBe(
      "p.yaml: deployment a: ports[0].port is required",
    );
    expect(
      refusal(() => parseDeploymentText("name: a\nimage: a:1\nports: [{name: http, port: 80, proto: tcp}]\n", "p.yaml"))
        .message,
    ).toContain('unknown field "ports[0].proto"');
    expect(refusal(() => parseDeploymentText("name: a\nimage: a:1\nenv: [A=1]\n", "p.yaml")).message).toContain(
      "env must be a mapping of NAME: value",
    );
  });

  it("takes a list, a deployments: list, several YAML documents, and JSON", () => {
    const list = parseDeploymentText("- {name: a, image: a:1}\n- {name: b, image: b:1}\n", "l.yaml");
    expect(list.map((d) => d.input.name)).toEqual(["a", "b"]);
    const wrapped = parseDeploymentText("deployments:\n  - {name: c, image: c:1}\n", "w.yaml");
    expect(wrapped[0].input).toMatchObject({ name: "c", replicas: 1, cpuMillicores: 100, memoryMib: 128 });
    const docs = parseDeploymentText("name: d\nimage: d:1\n---\nname: e\nimage: e:1\n", "docs.yaml");
    expect(docs.map((d) => d.source)).toEqual(["docs.yaml (document 1)", "docs.yaml (document 2)"]);
    const json = parseDeploymentText(JSON.stringify([{ name: "f", image: "f:1", cpu: 0.25 }]), "f.json");
    expect(json[0].input.cpuMillicores).toBe(250);
  });

  it.each([
    [
      "name: web\nimage: web:1\nreplica: 3\n",
      'web.yaml: deployment web: unknown field "replica" (did you mean replicas?)',
    ],
    [
      "name: web\nimage: web:1\nupdate: {max_paralel: 2}\n",
      'web.yaml: deployment web: unknown field "update.max_paralel" (did you mean update.max_parallel?)',
    ],
    [
      "name: web\nimage: web:1\nupdate: {max_parallel: 0}\n",
      "web.yaml: deployment web: update.max_parallel must be a whole number, 1 or more, got 0",
    ],
    [
      "name: web\nimage: web:1\nupdate: {min_healthy_time: 10}\n",
      'web.yaml: deployment web: update.min_healthy_time must be a duration like "10s" or "2m", got 10',
    ],
    [
      "name: web\nimage: web:1\nupdate: {healthy_deadline: 5 minutes}\n",
      'web.yaml: deployment web: update.healthy_deadline: invalid duration "5 minutes"',
    ],
    ["name: web\nimage: web:1\ncpu: lots\n", 'web.yaml: deployment web: cpu: invalid cpu "lots"'],
    ["name: web\nreplicas: 2\n", "web.yaml: deployment web: image is required"],
    ["image: web:1\n", 'web.yaml: a deployment needs a name (the "name" field)'],
    ["- {name: a, image: a:1}\n- 42\n", "web.yaml: item 2: a deployment is a mapping of fields, got a number"],
    ["name: web\nimage: web:1\nstrategy: random\n", "strategy must be one of binpack, spread, latency"],
    ["name: web\nname: web2\nimage: x\n", "web.yaml: not valid YAML or JSON at line 2, column 1: DUPLICATE_KEY"],
    ["name: [web\n", "web.yaml: not valid YAML or JSON"],
    ["deployments: {name: a}\n", "web.yaml: deployments must be a list"],
  ])("refuses %j naming the file, the deployment and the field", (text, message) => {
    const refused = refusal(() => parseDeploymentText(text, "web.yaml"));
    expect(refused.code).toBe("INVALID_ARGUMENT");
    expect(refused.message).toContain(message);
  });

  it("reads every deployment file of a directory in name order, and refuses a name given twice", () => {
    const dir = mkdtempSync(join(tmpdir(), "orch-apply-"));
    writeFileSync(join(dir, "b.yaml"), "name: b\nimage: b:1\n");
    writeFileSync(join(dir, "a.json"), '{"name": "a", "image": "a:1"}');
    writeFileSync(join(dir, "notes.txt"), "not a deployment");
    mkdirSync(join(dir, "sub"));
    expect(readDeploymentFiles(dir).map((d) => d.input.name)).toEqual(["a", "b"]);
    writeFileSync(join(dir, "c.yml"), "name: a\nimage: a:2\n");
    expect(refusal(() => readDeploymentFiles(dir)).message).toMatch(/c\.yml: deployment a is also in a\.json/);
  });

  it("refuses a missing path, an empty directory, a huge file and too many deployments with the right code", () => {
    const dir = mkdtempSync(join(tmpdir(), "orch-apply-"));
    expect(refusal(() => readDeploymentFiles(join(dir, "nope.yaml"))).code).toBe("NOT_FOUND");
    expect(refusal(() => readDeploymentFiles(dir))).toMatchObject({ code: "NOT_FOUND" });
    const huge = join(dir, "huge.yaml");
    writeFileSync(huge, "");
    truncateSync(huge, 100 * 1024 * 1024); // 100 MiB, sparse: refused before it is read
    expect(refusal(() => readDeploymentFiles(huge))).toMatchObject({ code: "RESOURCE_EXHAUSTED" });
    const many = Array.from({ length: 10_000 }, (_, i) => `- {name: d${i}, image: x:1}`).join("\n");
    const manyFile = join(dir, "many.yaml");
    writeFileSync(manyFile, many);
    const refused = refusal(() => readDeploymentFiles(manyFile));
    expect(refused.code).toBe("RESOURCE_EXHAUSTED");
    expect(refused.message).toContain(`more than ${deploymentFileLimits.deploymentsMax} deployments`);
  });
});
