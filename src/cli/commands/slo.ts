import type { Command } from "commander";
import { CliError } from "../errors.js";

/** A placeholder until the health controller reports SLO figures through the API. */
export function registerSlo(parent: Command): void {
  parent
    .command("slo")
    .description("deployment success rate against the 99.99% objective (not available yet)")
    .allowUnknownOption()
    .allowExcessArguments()
    .action(() => {
      throw new CliError("UNIMPLEMENTED", "`orchctl slo` is not available yet");
    });
}
