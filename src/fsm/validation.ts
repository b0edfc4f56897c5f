/**
 * Pure input validation, shared by the API layer (before it proposes a command, so bad input
 * never reaches the log) and by apply (which re-validates, because the log is the authority and
 * the parts that depend on the state, like what the registered nodes can hold, may have moved).
 * Every failure says what was wrong and what to do instead.
 */
import type * as pb from "../gen/orchestrator/v1/types.js";
import { Strategy as PbStrategy } from "../gen/orchestrator/v1/types.js";
import { deploymentDefaults, fsmLimits, isKnownRegion, knownRegions, type Region } from "./limits.js";
import { strategyFromProto } from "./proto-convert.js";
import { failure, success, type FsmFailure, type FsmResult } from "./result.js";
import type { DeploymentSpec, HealthCheckSpec, Resources, RestartPolicySpec, UpdatePolicySpec } from "./state.js";
import { validateImageReference, validateWorkload } from "./workload.js";

const dnsLabelPattern = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const dnsSubdomainPattern = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const regionList = knownRegions.join(", ");

function invalid(message: string): FsmFailure {
  return failure("INVALID_ARGUMENT", message);
}

function isUint(value: number, max: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= max;
}

/** A deployment name: a DNS-1123 label, as Kubernetes names objects. */
export function validateDeploymentName(name: string): FsmFailure | null {
  if (name === "") return invalid("deployment name is empty; give one like web or api-v2");
  if (name.length > fsmLimits.nameLengthMax || !dnsLabelPattern.test(name)) {
    return invalid(
      `invalid deployment name ${JSON.stringify(name)}: use lowercase letters, digits and '-', starting and ending with a letter or digit, at most ${fsmLimits.nameLengthMax} characters`,
    );
  }
  return null;
}

/** A node id: a DNS-1123 subdomain (lowercase letters, digits, '-' and '.'). */
export function validateNodeId(id: string): FsmFailure | null {
  if (id === "") return invalid("node id is empty");
  if (id.length > fsmLimits.nodeIdLengthMax || !dnsSubdomainPattern.test(id)) {
    return invalid(
      `invalid node id ${JSON.stringify(id)}: use lowercase letters, digits, '-' and '.', at most ${fsmLimits.nodeIdLengthMax} characters`,
    );
  }
  return null;
}

export function validateReplicas(replicas: number): FsmFailure | null {
  if (!isUint(replicas, fsmLimits.replicasMax)) {
    return invalid(`replicas must be a whole number from 0 to ${fsmLimits.replicasMax}, got ${replicas}`);
  }
  return null;
}

export function validateRegion(region: string, what = "region"): FsmFailure | null {
  if (!isKnownRegion(region)) return invalid(`unknown ${what} ${JSON.stringify(region)}: use one of ${regionList}`);
  return null;
}

export function validateText(what: string, value: string, max: number): FsmFailure | null {
  if (value.length > max) return invalid(`${what} is ${value.length} characters long; at most ${max} are allowed`);
  return null;
}

/** A client's request identity (Raft thesis §6.3): empty for the leader's own commands. */
export function validateClientRequest(clientId: string, seq: number): FsmFailure | null {
  const tooLong = validateText("client id", clientId, fsmLimits.clientIdLengthMax);
  if (tooLong !== null) return tooLong;
  if (clientId !== "" && !(Number.isSafeInteger(seq) && seq >= 1)) {
    return invalid(`request of client ${clientId} has sequence number ${seq}; client sequence numbers start at 1`);
  }
  return null;
}

export function validateScale(name: string, replicas: number): FsmFailure | null {
  return validateDeploymentName(name) ?? validateReplicas(replicas);
}

export interface NodeRegistration {
  readonly nodeId: string;
  readonly region: Region;
  readonly capacity: Resources;
  readonly agentAddress: string;
}

export function validateNodeRegistration(input: {
  nodeId: string;
  region: string;
  capacity?: pb.Resources | undefined;
  agentAddress: string;
}): FsmResult<NodeRegistration> {
  const idProblem = validateNodeId(input.nodeId) ?? validateRegion(input.region, "node region");
  if (idProblem !== null) return idProblem;
  const cpu = input.capacity?.cpuMillicores ?? 0;
  const memory = input.capacity?.memoryMib ?? 0;
  if (!isUint(cpu, fsmLimits.nodeCpuMillicoresMax) || cpu === 0) {
    return invalid(
      `node ${input.nodeId} cpu capacity must be 1..${fsmLimits.nodeCpuMillicoresMax} millicores, got ${cpu}`,
    );
  }
  if (!isUint(memory, fsmLimits.nodeMemoryMibMax) || memory === 0) {
    return invalid(`node ${input.nodeId} memory capacity must be 1..${fsmLimits.nodeMemoryMibMax} MiB, got ${memory}`);
  }
  if (input.agentAddress === "" || /\s/.test(input.agentAddress)) {
    return invalid(
      `node ${input.nodeId} needs an agent address like 127.0.0.1:9101, got ${JSON.stringify(input.agentAddress)}`,
    );
  }
  const addressProblem = validateText("agent address", input.agentAddress, fsmLimits.agentAddressLengthMax);
  if (addressProblem !== null) return addressProblem;
  return success({
    nodeId: input.nodeId,
    region: input.region as Region,
    capacity: { cpuMillicores: cpu, memoryMib: memory },
    agentAddress: input.agentAddress,
  });
}

function validateRegionList(what: string, regions: readonly string[]): FsmResult<Region[]> {
  const seen = new Set<string>();
  for (const region of regions) {
    const problem = validateRegion(region, what);
    if (problem !== null) return problem;
    if (seen.has(region)) return invalid(`${what} ${region} is listed twice`);
    seen.add(region);
  }
  return success([...regions] as Region[]);
}

/**
 * The smallest request no node can hold is refused up front: it would stay pending forever.
 * Before any node registers, static maxima stand in for the nodes.
 */
function validateRequestFits(
  name: string,
  cpu: number,
  memory: number,
  nodeCapacities: readonly Resources[],
): FsmFailure | null {
  if (!isUint(cpu, 0xffff_ffff) || cpu === 0)
    return invalid(`deployment ${name} must request cpu > 0 millicores, got ${cpu}`);
  if (!isUint(memory, 0xffff_ffff) || memory === 0)
    return invalid(`deployment ${name} must request memory > 0 MiB, got ${memory}`);
  if (nodeCapacities.length === 0) {
    if (cpu > fsmLimits.containerCpuMillicoresMax || memory > fsmLimits.containerMemoryMibMax) {
      return invalid(
        `deployment ${name} asks ${cpu}m cpu and ${memory}Mi memory per replica; at most ${fsmLimits.containerCpuMillicoresMax}m cpu and ${fsmLimits.containerMemoryMibMax}Mi memory are allowed`,
      );
    }
    return null;
  }
  let cpuMax = 0;
  let memoryMax = 0;
  for (const capacity of nodeCapacities) {
    if (capacity.cpuMillicores >= cpu && capacity.memoryMib >= memory) return null;
    cpuMax = Math.max(cpuMax, capacity.cpuMillicores);
    memoryMax = Math.max(memoryMax, capacity.memoryMib);
  }
  return invalid(
    `deployment ${name} asks ${cpu}m cpu and ${memory}Mi memory per replica, more than any registered node can hold (largest: ${cpuMax}m cpu, ${memoryMax}Mi memory); lower the request or register bigger nodes`,
  );
}

function normalizeHealthCheck(name: string, input: pb.HealthCheck | undefined): FsmResult<HealthCheckSpec> {
  const d = deploymentDefaults.healthCheck;
  const check: HealthCheckSpec = {
    path: input?.path || d.path,
    periodMs: input?.periodMs || d.periodMs,
    timeoutMs: input?.timeoutMs || d.timeoutMs,
    failureThreshold: input?.failureThreshold || d.failureThreshold,
    successThreshold: input?.successThreshold || d.successThreshold,
    initialDelayMs: input?.initialDelayMs ?? d.initialDelayMs,
    port: input?.port ?? "",
  };
  const where = `deployment ${name} health check`;
  if (!check.path.startsWith("/") || /\s/.test(check.path))
    return invalid(`${where} path must start with '/' and hold no spaces, got ${JSON.stringify(check.path)}`);
  const pathProblem = validateText(`${where} path`, check.path, fsmLimits.healthPathLengthMax);
  if (pathProblem !== null) return pathProblem;
  if (!isUint(check.periodMs, fsmLimits.healthPeriodMsMax) || check.periodMs < fsmLimits.healthPeriodMsMin) {
    return invalid(
      `${where} period must be ${fsmLimits.healthPeriodMsMin}..${fsmLimits.healthPeriodMsMax} ms, got ${check.periodMs}`,
    );
  }
  if (!isUint(check.timeoutMs, check.periodMs) || check.timeoutMs < fsmLimits.healthTimeoutMsMin) {
    return invalid(
      `${where} timeout must be ${fsmLimits.healthTimeoutMsMin} ms up to its period (${check.periodMs} ms), got ${check.timeoutMs}`,
    );
  }
  for (const [field, value] of [
    ["failure threshold", check.failureThreshold],
    ["success threshold", check.successThreshold],
  ] as const) {
    if (!isUint(value, fsmLimits.healthThresholdMax) || value === 0)
      return invalid(`${where} ${field} must be 1..${fsmLimits.healthThresholdMax}, got ${value}`);
  }
  if (!isUint(check.initialDelayMs, fsmLimits.healthInitialDelayMsMax)) {
    return invalid(
      `${where} initial delay must be 0..${fsmLimits.healthInitialDelayMsMax} ms, got ${check.initialDelayMs}`,
    );
  }
  return success(check);
}

function normalizeRestartPolicy(name: string, input: pb.RestartPolicy | undefined): FsmResult<RestartPolicySpec> {
  const d = deploymentDefaults.restartPolicy;
  const policy: RestartPolicySpec = {
    initialDelayMs: input?.initialDelayMs || d.initialDelayMs,
    factor: input?.factor || d.factor,
    maxDelayMs: input?.maxDelayMs || d.maxDelayMs,
    resetAfterMs: input?.resetAfterMs || d.resetAfterMs,
  };
  const where = `deployment ${name} restart policy`;
  if (
    !isUint(policy.initialDelayMs, fsmLimits.restartDelayMsMax) ||
    policy.initialDelayMs < fsmLimits.restartDelayMsMin
  ) {
    return invalid(
      `${where} initial delay must be ${fsmLimits.restartDelayMsMin}..${fsmLimits.restartDelayMsMax} ms, got ${policy.initialDelayMs}`,
    );
  }
  if (!(
    Number.isFinite(policy.factor) &&
    policy.factor >= fsmLimits.restartFactorMin &&
    policy.factor <= fsmLimits.restartFactorMax
  )) {
    return invalid(
      `${where} factor must be ${fsmLimits.restartFactorMin}..${fsmLimits.restartFactorMax}, got ${policy.factor}`,
    );
  }
  if (!isUint(policy.maxDelayMs, fsmLimits.restartDelayMsMax) || policy.maxDelayMs < policy.initialDelayMs) {
    return invalid(
      `${where} max delay must be from its initial delay (${policy.initialDelayMs} ms) to ${fsmLimits.restartDelayMsMax} ms, got ${policy.maxDelayMs}`,
    );
  }
  if (!isUint(policy.resetAfterMs, fsmLimits.restartResetAfterMsMax)) {
    return invalid(
      `${where} reset-after must be 0..${fsmLimits.restartResetAfterMsMax} ms, got ${policy.resetAfterMs}`,
    );
  }
  return success(policy);
}

/**
 * The update policy with its defaults. Every message names its field as the API and apply files
 * spell it (update.max_parallel ...), so a person knows which one to fix.
 */
export function normalizeUpdatePolicy(
  name: string,
  replicas: number,
  input: pb.UpdatePolicy | undefined,
): FsmResult<UpdatePolicySpec> {
  const d = deploymentDefaults.update;
  const policy: UpdatePolicySpec = {
    maxParallel: input?.maxParallel || d.maxParallel,
    maxSurge: input?.maxSurge ?? d.maxSurge,
    minHealthyTimeMs: input?.minHealthyTimeMs ?? d.minHealthyTimeMs,
    healthyDeadlineMs: input?.healthyDeadlineMs || d.healthyDeadlineMs,
    progressDeadlineMs: input?.progressDeadlineMs || d.progressDeadlineMs,
    canary: input?.canary ?? d.canary,
    autoRevert: input?.autoRevert ?? d.autoRevert,
  };
  const where = `deployment ${name} update`;
  if (!isUint(policy.maxParallel, fsmLimits.replicasMax) || policy.maxParallel === 0)
    return invalid(`${where}.max_parallel must be 1..${fsmLimits.replicasMax}, got ${policy.maxParallel}`);
  if (!isUint(policy.maxSurge, fsmLimits.replicasMax))
    return invalid(`${where}.max_surge must be 0..${fsmLimits.replicasMax}, got ${policy.maxSurge}`);
  if (!isUint(policy.minHealthyTimeMs, fsmLimits.minHealthyTimeMsMax))
    return invalid(
      `${where}.min_healthy_time_ms must be 0..${fsmLimits.minHealthyTimeMsMax} ms, got ${policy.minHealthyTimeMs}`,
    );
  if (
    !isUint(policy.healthyDeadlineMs, fsmLimits.healthyDeadlineMsMax) ||
    policy.healthyDeadlineMs <= policy.minHealthyTimeMs
  )
    return invalid(
      `${where}.healthy_deadline_ms must be above min_healthy_time_ms (${policy.minHealthyTimeMs} ms) and at most ${fsmLimits.healthyDeadlineMsMax} ms, got ${policy.healthyDeadlineMs}`,
    );
  if (
    !isUint(policy.progressDeadlineMs, fsmLimits.rolloutProgressDeadlineMsMax) ||
    policy.progressDeadlineMs < policy.healthyDeadlineMs
  )
    return invalid(
      `${where}.progress_deadline_ms must be from healthy_deadline_ms (${policy.healthyDeadlineMs} ms) to ${fsmLimits.rolloutProgressDeadlineMsMax} ms, got ${policy.progressDeadlineMs}`,
    );
  if (!isUint(policy.canary, replicas))
    return invalid(`${where}.canary must be 0..replicas (${replicas}), got ${policy.canary}`);
  return success(policy);
}

/**
 * Checks a deployment spec from the API and returns it with every default filled in.
 * `nodeCapacities` are the capacities of the registered nodes (empty before any registers).
 */
export function validateDeploymentSpec(
  input: pb.DeploymentSpec | undefined,
  nodeCapacities: readonly Resources[],
): FsmResult<DeploymentSpec> {
  if (input === undefined) return invalid("deploy needs a deployment spec");
  const name = input.name;
  const basic =
    validateDeploymentName(name) ??
    validateReplicas(input.replicas) ??
    (input.image.trim() === "" || /\s/.test(input.image)
      ? invalid(`deployment ${name} needs an image like nginx:1.27, got ${JSON.stringify(input.image)}`)
      : null) ??
    validateText(`deployment ${name} image`, input.image, fsmLimits.imageLengthMax) ??
    validateImageReference(name, input.image) ??
    validateRequestFits(name, input.cpuMillicores, input.memoryMib, nodeCapacities);
  if (basic !== null) return basic;
  const strategy =
    input.strategy === PbStrategy.STRATEGY_UNSPECIFIED
      ? deploymentDefaults.strategy
      : strategyFromProto(input.strategy);
  if (strategy === null)
    return invalid(`deployment ${name} has unknown strategy ${input.strategy}: use binpack, spread or latency`);
  const regions = validateRegionList("region", input.regions);
  if (!regions.ok) return regions;
  const clientRegions = validateRegionList("client region", input.clientRegions);
  if (!clientRegions.ok) return clientRegions;
  const healthCheck = normalizeHealthCheck(name, input.healthCheck);
  if (!healthCheck.ok) return healthCheck;
  const restartPolicy = normalizeRestartPolicy(name, input.restartPolicy);
  if (!restartPolicy.ok) return restartPolicy;
  const workload = validateWorkload(name, input);
  if (!workload.ok) return workload;
  const progressDeadlineMs = input.progressDeadlineMs || deploymentDefaults.progressDeadlineMs;
  if (
    !isUint(progressDeadlineMs, fsmLimits.progressDeadlineMsMax) ||
    progressDeadlineMs < fsmLimits.progressDeadlineMsMin
  ) {
    return invalid(
      `deployment ${name} progress deadline must be ${fsmLimits.progressDeadlineMsMin}..${fsmLimits.progressDeadlineMsMax} ms, got ${progressDeadlineMs}`,
    );
  }
  const update = normalizeUpdatePolicy(name, input.replicas, input.update);
  if (!update.ok) return update;
  const maxUnavailable = input.maxUnavailable ?? deploymentDefaults.maxUnavailable;
  if (!isUint(maxUnavailable, fsmLimits.replicasMax))
    return invalid(`deployment ${name} max_unavailable must be 0..${fsmLimits.replicasMax}, got ${maxUnavailable}`);
  return success({
    name,
    image: input.image,
    replicas: input.replicas,
    cpuMillicores: input.cpuMillicores,
    memoryMib: input.memoryMib,
    strategy,
    regions: regions.value,
    clientRegions: clientRegions.value,
    onePerNode: input.onePerNode,
    healthCheck: healthCheck.value,
    restartPolicy: restartPolicy.value,
    progressDeadlineMs,
    update: update.value,
    maxUnavailable,
    ...workload.value,
  });
}

/**
 * Two specs run the same containers: they differ at most in replicas, the update policy and the
 * operations' progress deadline. A new version with the same template takes over the running
 * containers of the old one instead of replacing them.
 */
export function sameTemplate(a: DeploymentSpec, b: DeploymentSpec): boolean {
  const strip = ({
    replicas: _r,
    update: _u,
    progressDeadlineMs: _p,
    maxUnavailable: _m,
    ...template
  }: DeploymentSpec) => template;
  return plainEqual(strip(a), strip(b));
}

/** The fields in which two specs differ, as "field old vs new", for an actionable refusal. */
export function specDifferences(current: DeploymentSpec, requested: DeploymentSpec): string[] {
  const differences: string[] = [];
  const compare = (field: string, a: unknown, b: unknown): void => {
    if (!plainEqual(a, b)) differences.push(`${field} ${show(a)} vs ${show(b)}`);
  };
  compare("image", current.image, requested.image);
  compare("replicas", current.replicas, requested.replicas);
  compare("cpu", `${current.cpuMillicores}m`, `${requested.cpuMillicores}m`);
  compare("memory", `${current.memoryMib}Mi`, `${requested.memoryMib}Mi`);
  compare("strategy", current.strategy, requested.strategy);
  compare("regions", current.regions, requested.regions);
  compare("client regions", current.clientRegions, requested.clientRegions);
  compare("one-per-node", current.onePerNode, requested.onePerNode);
  compare("health check", current.healthCheck, requested.healthCheck);
  compare("restart policy", current.restartPolicy, requested.restartPolicy);
  compare("progress deadline", `${current.progressDeadlineMs}ms`, `${requested.progressDeadlineMs}ms`);
  compare("update policy", current.update, requested.update);
  compare("max_unavailable", current.maxUnavailable, requested.maxUnavailable);
  compare("command", current.command, requested.command);
  compare("args", current.args, requested.args);
  compare(
    "env",
    current.env.map((e) => `${e.name}=${e.value}`),
    requested.env.map((e) => `${e.name}=${e.value}`),
  );
  compare(
    "ports",
    current.ports.map((p) => `${p.name}=${p.containerPort}`),
    requested.ports.map((p) => `${p.name}=${p.containerPort}`),
  );
  return differences;
}

/** Equality of plain data (primitives, arrays, records), independent of key order. */
export function plainEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const aKeys = Object.keys(a);
  const bKeys = Object.keys(b);
  if (aKeys.length !== bKeys.length) return false;
  const bRecord = b as Record<string, unknown>;
  const aRecord = a as Record<string, unknown>;
  return aKeys.every((key) => Object.hasOwn(bRecord, key) && plainEqual(aRecord[key], bRecord[key]));
}

function show(value: unknown): string {
  if (typeof value === "string") return value;
  if (Array.isArray(value)) return value.length === 0 ? "[]" : value.join(",");
  return JSON.stringify(value);
}
