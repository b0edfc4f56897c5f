/**
 * A deployment of a file as the API's DeploymentSpec. Absent optional fields stay unset (zero,
 * or no message at all) so the server fills in its defaults; an absent `update` is sent as no
 * policy, which keeps the deployment's current policy.
 */
import { DeploymentSpec, type UpdatePolicy } from "../../gen/orchestrator/v1/types.js";
import { STRATEGY_BY_NAME } from "../views.js";
import type { DeploymentInput, UpdatePolicyInput } from "./deployment-input.js";

function updateOf(update: UpdatePolicyInput): UpdatePolicy {
  return {
    maxParallel: update.maxParallel ?? 0,
    healthyDeadlineMs: update.healthyDeadlineMs ?? 0,
    progressDeadlineMs: update.progressDeadlineMs ?? 0,
    canary: update.canary ?? 0,
    ...(update.maxSurge !== undefined ? { maxSurge: update.maxSurge } : {}),
    ...(update.minHealthyTimeMs !== undefined ? { minHealthyTimeMs: update.minHealthyTimeMs } : {}),
    ...(update.autoRevert !== undefined ? { autoRevert: update.autoRevert } : {}),
  };
}

export function specOfInput(input: DeploymentInput): DeploymentSpec {
  const health = input.healthCheck;
  const restart = input.restartPolicy;
  return DeploymentSpec.fromPartial({
    name: input.name,
    image: input.image,
    replicas: input.replicas,
    cpuMillicores: input.cpuMillicores,
    memoryMib: input.memoryMib,
    strategy: STRATEGY_BY_NAME[input.strategy],
    regions: [...input.regions],
    clientRegions: [...input.clientRegions],
    onePerNode: input.onePerNode,
    healthCheck:
      health === undefined
        ? undefined
        : {
            path: health.path ?? "",
            periodMs: health.periodMs ?? 0,
            timeoutMs: health.timeoutMs ?? 0,
            failureThreshold: health.failureThreshold ?? 0,
            successThreshold: health.successThreshold ?? 0,
            initialDelayMs: health.initialDelayMs ?? 0,
            port: health.port ?? "",
          },
    restartPolicy:
      restart === undefined
        ? undefined
        : {
            initialDelayMs: restart.initialDelayMs ?? 0,
            factor: restart.factor ?? 0,
            maxDelayMs: restart.maxDelayMs ?? 0,
            resetAfterMs: restart.resetAfterMs ?? 0,
          },
    progressDeadlineMs: input.progressDeadlineMs ?? 0,
    update: input.update === undefined ? undefined : updateOf(input.update),
    ...(input.maxUnavailable !== undefined ? { maxUnavailable: input.maxUnavailable } : {}),
    workload:
      input.workload === undefined
        ? undefined
        : {
            command: input.workload.command,
            args: [...input.workload.args],
            env: input.workload.env.map((e) => ({ ...e })),
            ports: input.workload.ports.map((p) => ({ ...p })),
          },
  });
}
