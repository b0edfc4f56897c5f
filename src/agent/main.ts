#!/usr/bin/env node
/** The node-agent binary: parses the flags (see options.ts), runs the agent until a signal. */
import { CommanderError } from "commander";
import { startAgent } from "./agent.js";
import { parseAgentArgs, UsageError } from "./options.js";
import type { AgentOptions } from "./agent.js";

async function main(): Promise<void> {
  let options: AgentOptions;
  try {
    options = parseAgentArgs(process.argv.slice(2));
  } catch (error) {
    // Commander printed its own message (or the help, exit code 0).
    if (error instanceof CommanderError) process.exit(error.exitCode === 0 ? 0 : 2);
    if (error instanceof UsageError) {
      process.stderr.write(`error: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  try {
    const agent = await startAgent(options);
    let stopping = false;
    const stop = (): void => {
      if (stopping) return;
      stopping = true;
      void agent.stop().then(() => process.exit(0));
    };
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
  } catch (error) {
    process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
}

void main();
