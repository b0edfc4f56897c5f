import type { DeploymentSpec } from "../../gen/orchestrator/v1/types.js";
import { CliError } from "../errors.js";
import { DeploymentFileError, readDeploymentFiles } from "./deployment-file.js";
import { specOfInput } from "./spec-of-input.js";

/** The specs of a file or directory; a bad file is a CliError (exit 1) with the reader's code and message. */
export function readSpecs(path: string): DeploymentSpec[] {
  try {
    return readDeploymentFiles(path).map((deployment) => specOfInput(deployment.input));
  } catch (error) {
    if (error instanceof DeploymentFileError) throw new CliError(error.code, error.message);
    throw error;
  }
}
