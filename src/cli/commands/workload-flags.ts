/**
 * The workload flags of `orchctl deploy` (what a real container runs): --command, --arg, --env,
 * --port, --health-port. Only their syntax is checked here; the FSM validates the values (port
 * range, names used twice, variable names, sizes), so every entry point refuses the same things.
 */
import { InvalidArgumentError, type Command } from "commander";
import type { EnvVar, HealthCheck, PortSpec, Workload } from "../../gen/orchestrator/v1/types.js";

export interface WorkloadFlags {
  readonly command?: string;
  readonly arg?: string[];
  readonly env?: EnvVar[];
  readonly port?: PortSpec[];
  readonly healthPort?: string;
}

function collect<T>(parse: (text: string) => T): (text: string, previous: T[] | undefined) => T[] {
  return (text, previous) => [...(previous ?? []), parse(text)];
}

export function envArg(text: string): EnvVar {
  const index = text.indexOf("=");
  if (index <= 0) throw new InvalidArgumentError(`--env takes NAME=VALUE, got ${JSON.stringify(text)}`);
  return { name: text.slice(0, index), value: text.slice(index + 1) };
}

export function portArg(text: string): PortSpec {
  const match = /^([^=]+)=(\d{1,10})$/.exec(text);
  if (match === null)
    throw new InvalidArgumentError(`--port takes NAME=PORT like http=8080, got ${JSON.stringify(text)}`);
  return { name: match[1], containerPort: Number(match[2]) };
}

export function addWorkloadFlags(command: Command): Command {
  return command
    .option("--command <cmd>", "the executable to run, replacing the image's entrypoint (Docker driver)")
    .option("--arg <arg>", "an argument of the command (repeatable, in order)", collect(String))
    .option("--env <NAME=VALUE>", "an environment variable (repeatable)", collect(envArg))
    .option(
      "--port <NAME=PORT>",
      "a named container port (repeatable); the agent passes its host port as PORT_<NAME> and the first as PORT",
      collect(portArg),
    )
    .option("--health-port <name>", "probe the health check at the container's address of this named port");
}

/** The spec fields the flags set; none when no flag was given, so a simulated deployment stays as before. */
export function workloadFromFlags(flags: WorkloadFlags): { workload?: Workload; healthCheck?: Partial<HealthCheck> } {
  const given =
    flags.command !== undefined || flags.arg !== undefined || flags.env !== undefined || flags.port !== undefined;
  return {
    ...(given
      ? {
          workload: {
            command: flags.command ?? "",
            args: flags.arg ?? [],
            env: flags.env ?? [],
            ports: flags.port ?? [],
          },
        }
      : {}),
    ...(flags.healthPort !== undefined ? { healthCheck: { port: flags.healthPort } } : {}),
  };
}
