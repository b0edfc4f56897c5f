/**
 * A deployment's workload: what a real runtime (the agent's Docker driver) runs. The simulator
 * ignores it. Validated here, in the FSM, so every entry point (API, apply files, deploy flags)
 * refuses the same mistakes with the field named.
 */
import type * as pb from "../gen/orchestrator/v1/types.js";
import { workloadLimits } from "./limits.js";
import { failure, success, type FsmFailure, type FsmResult } from "./result.js";

export interface EnvVar {
  readonly name: string;
  readonly value: string;
}

export interface PortSpec {
  readonly name: string;
  readonly containerPort: number;
}

export interface Workload {
  /** The executable, replacing the image's entrypoint ('' keeps the image's). */
  command: string;
  args: string[];
  env: EnvVar[];
  ports: PortSpec[];
}

/** Where one named port of a container is reached (host:port). */
export interface ContainerAddress {
  readonly name: string;
  readonly address: string;
}

const envNamePattern = /^[A-Za-z_][A-Za-z0-9_]*$/;
const portNamePattern = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
// Docker's reference grammar (distribution/reference): [domain[:port]/]path[:tag][@digest].
const domainComponent = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const pathComponent = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const imagePattern = new RegExp(
  `^(?:${domainComponent}(?:\\.${domainComponent})*(?::[0-9]+)?/)?${pathComponent}(?:/${pathComponent})*` +
    `(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$`,
);

function invalid(message: string): FsmFailure {
  return failure("INVALID_ARGUMENT", message);
}

/** An image reference Docker would accept, e.g. nginx:1.27 or registry:5000/team/app@sha256:... */
export function validateImageReference(deployment: string, image: string): FsmFailure | null {
  if (imagePattern.test(image)) return null;
  return invalid(
    `deployment ${deployment} image ${JSON.stringify(image)} is not a Docker image reference: use [registry/]name[:tag][@sha256:digest], the name in lowercase`,
  );
}

/** The environment variable a named port's host port is passed in: PORT_<NAME>. */
export function portEnvName(portName: string): string {
  return `PORT_${portName.toUpperCase().replaceAll("-", "_")}`;
}

/** Checks the workload fields of a spec (and the health check's port) and returns them copied. */
export function validateWorkload(deployment: string, spec: pb.DeploymentSpec): FsmResult<Workload> {
  const where = `deployment ${deployment}`;
  const input: pb.Workload = spec.workload ?? { command: "", args: [], env: [], ports: [] };
  let bytes = input.command.length;
  if (input.command.length > workloadLimits.commandLengthMax)
    return invalid(
      `${where} command is ${input.command.length} characters long; at most ${workloadLimits.commandLengthMax} are allowed`,
    );
  if (input.args.length > workloadLimits.argsMax)
    return invalid(`${where} args has ${input.args.length} entries; at most ${workloadLimits.argsMax} are allowed`);
  for (const [i, arg] of input.args.entries()) {
    bytes += arg.length;
    if (arg.length > workloadLimits.argLengthMax)
      return invalid(
        `${where} args[${i}] is ${arg.length} characters long; at most ${workloadLimits.argLengthMax} are allowed`,
      );
  }
  const env = validateEnv(where, input.env);
  if (!env.ok) return env;
  for (const variable of env.value) bytes += variable.name.length + variable.value.length;
  const ports = validatePorts(where, input.ports);
  if (!ports.ok) return ports;
  if (bytes > workloadLimits.workloadBytesMax)
    return invalid(
      `${where} command, args and env hold ${bytes} characters together; at most ${workloadLimits.workloadBytesMax} are allowed`,
    );
  const healthPort = spec.healthCheck?.port ?? "";
  if (healthPort !== "" && !ports.value.some((p) => p.name === healthPort))
    return invalid(
      `${where} health check port ${JSON.stringify(healthPort)} is not one of its ports (${ports.value.map((p) => p.name).join(", ") || "none declared"})`,
    );
  return success({ command: input.command, args: [...input.args], env: env.value, ports: ports.value });
}

function validateEnv(where: string, input: readonly pb.EnvVar[]): FsmResult<EnvVar[]> {
  if (input.length > workloadLimits.envMax)
    return invalid(`${where} env has ${input.length} variables; at most ${workloadLimits.envMax} are allowed`);
  const seen = new Set<string>();
  for (const { name, value } of input) {
    if (!envNamePattern.test(name) || name.length > workloadLimits.envNameLengthMax)
      return invalid(
        `${where} env name ${JSON.stringify(name.slice(0, 64))} is not a valid variable name: letters, digits and '_', not starting with a digit, at most ${workloadLimits.envNameLengthMax} characters`,
      );
    if (seen.has(name)) return invalid(`${where} env ${name} is set twice`);
    seen.add(name);
    if (value.length > workloadLimits.envValueLengthMax)
      return invalid(
        `${where} env ${name} value is ${value.length} characters long; at most ${workloadLimits.envValueLengthMax} are allowed`,
      );
  }
  return success(input.map(({ name, value }) => ({ name, value })));
}

function validatePorts(where: string, input: readonly pb.PortSpec[]): FsmResult<PortSpec[]> {
  if (input.length > workloadLimits.portsMax)
    return invalid(`${where} ports has ${input.length} entries; at most ${workloadLimits.portsMax} are allowed`);
  const seen = new Set<string>();
  for (const { name, containerPort } of input) {
    if (!portNamePattern.test(name) || name.length > workloadLimits.portNameLengthMax)
      return invalid(
        `${where} port name ${JSON.stringify(name.slice(0, 64))} is invalid: lowercase letters, digits and '-', at most ${workloadLimits.portNameLengthMax} characters`,
      );
    if (seen.has(name)) return invalid(`${where} port ${name} is named twice`);
    seen.add(name);
    if (!Number.isInteger(containerPort) || containerPort < 1 || containerPort > 65_535)
      return invalid(`${where} port ${name} must be 1..65535, got ${containerPort}`);
  }
  return success(input.map(({ name, containerPort }) => ({ name, containerPort })));
}

/** Addresses an agent reported, checked before they enter the log. */
export function validateAddresses(containerId: string, input: readonly pb.ContainerAddress[]): FsmFailure | null {
  if (input.length > workloadLimits.portsMax)
    return invalid(`container ${containerId} reports ${input.length} addresses; at most ${workloadLimits.portsMax}`);
  for (const { name, address } of input) {
    if (!portNamePattern.test(name) || name.length > workloadLimits.portNameLengthMax)
      return invalid(`container ${containerId} reports an address for an invalid port name ${JSON.stringify(name)}`);
    if (address === "" || /\s/.test(address) || address.length > workloadLimits.addressLengthMax)
      return invalid(`container ${containerId} port ${name} address ${JSON.stringify(address)} is not host:port`);
  }
  return null;
}

export function workloadToProto(spec: Workload): pb.Workload {
  return {
    command: spec.command,
    args: [...spec.args],
    env: spec.env.map((e) => ({ ...e })),
    ports: spec.ports.map((p) => ({ ...p })),
  };
}

export function workloadFromProto(input: pb.Workload | undefined): Workload {
  return {
    command: input?.command ?? "",
    args: [...(input?.args ?? [])],
    env: (input?.env ?? []).map(({ name, value }) => ({ name, value })),
    ports: (input?.ports ?? []).map(({ name, containerPort }) => ({ name, containerPort })),
  };
}

export function addressesFromProto(input: pb.ContainerAddresses | undefined): ContainerAddress[] {
  return (input?.addresses ?? []).map(({ name, address }) => ({ name, address }));
}

/** Unset when there are none, so a simulator's records and messages stay as they were. */
export function addressesToProto(addresses: readonly ContainerAddress[]): pb.ContainerAddresses | undefined {
  return addresses.length === 0 ? undefined : { addresses: addresses.map(({ name, address }) => ({ name, address })) };
}
