import { assertNever } from "../lib/assert.js";
import type { DeployResult as FsmDeployResult } from "../fsm/index.js";
import { DeployResult } from "../gen/orchestrator/v1/orchestrator.js";

export function deployResultToProto(result: FsmDeployResult): DeployResult {
  switch (result) {
    case "created":
      return DeployResult.DEPLOY_RESULT_CREATED;
    case "configured":
      return DeployResult.DEPLOY_RESULT_CONFIGURED;
    case "scaled":
      return DeployResult.DEPLOY_RESULT_SCALED;
    case "unchanged":
      return DeployResult.DEPLOY_RESULT_UNCHANGED;
    default:
      return assertNever(result, "deploy result");
  }
}
