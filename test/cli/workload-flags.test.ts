import { Command } from "commander";
import { describe, expect, it } from "vitest";
import { addWorkloadFlags, workloadFromFlags, type WorkloadFlags } from "../../src/cli/commands/workload-flags.js";

function parse(argv: string[]): WorkloadFlags {
  const command = addWorkloadFlags(new Command("deploy").exitOverride().configureOutput({ writeErr: () => {} }));
  command.parse(argv, { from: "user" });
  return command.opts<WorkloadFlags>();
}

describe("orchctl deploy workload flags", () => {
  it("collects repeated --arg, --env and --port in order", () => {
    const flags = parse([
      "--command",
      "/bin/sh",
      "--arg",
      "-c",
      "--arg",
      "exec httpd -p $PORT",
      "--env",
      "A=1",
      "--env",
      "B=x=y",
      "--port",
      "http=8080",
      "--port",
      "admin=9000",
      "--health-port",
      "http",
    ]);
    expect(workloadFromFlags(flags)).toEqual({
      workload: {
        command: "/bin/sh",
        args: ["-c", "exec httpd -p $PORT"],
        env: [
          { name: "A", value: "1" },
          { name: "B", value: "x=y" },
        ],
        ports: [
          { name: "http", containerPort: 8080 },
          { name: "admin", containerPort: 9000 },
        ],
      },
      healthCheck: { port: "http" },
    });
  });

  it("sets nothing without workload flags", () => {
    expect(workloadFromFlags(parse([]))).toEqual({});
  });

  it("refuses malformed --env and --port, naming the flag", () => {
    expect(() => parse(["--env", "NOVALUE"])).toThrow(/--env takes NAME=VALUE/);
    expect(() => parse(["--port", "http:80"])).toThrow(/--port takes NAME=PORT/);
  });
});
