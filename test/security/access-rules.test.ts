import { describe, expect, it } from "vitest";
import { accessNeedOf, accessRules } from "../../src/api/access-rules.js";
import { AgentServiceService } from "../../src/gen/agent/v1/agent.js";
import { OrchestratorServiceService } from "../../src/gen/orchestrator/v1/orchestrator.js";

const services = [OrchestratorServiceService, AgentServiceService];

describe("the access rules", () => {
  it("name what every RPC of every served service needs (a new RPC needs a rule)", () => {
    const missing = services
      .flatMap((service) => Object.values(service).map((method) => method.path))
      .filter((path) => accessNeedOf(path) === undefined);
    expect(missing).toEqual([]);
  });

  it("know only the services the API server serves", () => {
    expect(Object.keys(accessRules).sort()).toEqual(["agent.v1.AgentService", "orchestrator.v1.OrchestratorService"]);
    expect(accessNeedOf("/raft.v1.RaftTransportService/Stream")).toBeUndefined();
    expect(accessNeedOf("not a path")).toBeUndefined();
  });

  it("keep the issue's roles: reads for viewers, deployments for deployers, the cluster for operators, tokens for admins", () => {
    const need = (method: string) => accessNeedOf(`/orchestrator.v1.OrchestratorService/${method}`);
    expect(need("Watch")).toBe("viewer");
    expect(need("Apply")).toBe("deployer");
    expect(need("Plan")).toBe("deployer");
    expect(need("InjectFault")).toBe("operator");
    expect(need("TransferLeadership")).toBe("operator");
    expect(need("TokenCreate")).toBe("admin");
    expect(need("AclBootstrap")).toBe("public");
    expect(accessNeedOf("/agent.v1.AgentService/Register")).toBe("agent");
  });
});
