import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { readSpecs } from "../../src/cli/apply/read-specs.js";

const example = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../examples/deployments/web.yaml");

describe("examples/deployments/web.yaml", () => {
  it("reads as the README says: web with its update policy, api without one (keeps the cluster's)", () => {
    const [web, api] = readSpecs(example);
    expect(web).toMatchObject({ name: "web", image: "nginx:1.27", replicas: 3, cpuMillicores: 250, memoryMib: 128 });
    expect(web.update).toMatchObject({
      maxParallel: 1,
      maxSurge: 1,
      minHealthyTimeMs: 5000,
      healthyDeadlineMs: 60_000,
    });
    expect(web.healthCheck).toMatchObject({ path: "/healthz", periodMs: 5000 });
    expect(api.name).toBe("api");
    expect(api.update).toBeUndefined();
  });
});

describe("examples/hello-http/hello-http.yaml", () => {
  it("becomes a spec with its workload and health port, as the Docker driver needs", () => {
    const file = path.resolve(path.dirname(example), "../hello-http/hello-http.yaml");
    const [hello] = readSpecs(file);
    expect(hello.workload).toMatchObject({
      command: "/bin/sh",
      env: [{ name: "GREETING", value: "hello" }],
      ports: [{ name: "http", containerPort: 8080 }],
    });
    expect(hello.healthCheck).toMatchObject({ path: "/healthz", port: "http" });
  });
});
