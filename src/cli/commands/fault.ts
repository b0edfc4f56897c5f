import type { Command } from "commander";
import { CliError } from "../errors.js";

/** A placeholder until the agents accept fault injection through the API. */
export function registerFault(parent: Command): void {
  parent
    .command("fault")
    .description("inject faults into simulated nodes and containers (not available yet)")
    .allowUnknownOption()
    .allowExcessArguments()
    .action(() => {
      throw new CliError("UNIMPLEMENTED", "`orchctl fault` is not available yet");
    });
}
