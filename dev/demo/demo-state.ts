import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import type { LocalSecurity } from "../local-cluster/local-security.js";

/** Where `npm run demo` keeps its data, and the file that tells `demo:failover` what runs where. */
export const demoDataRoot = path.resolve("data/demo");
const stateFile = path.join(demoDataRoot, "demo-state.json");

export interface DemoState {
  readonly endpoints: string;
  readonly replicas: readonly { id: string; pid: number; api: string }[];
  readonly agents: readonly { region: string; pid: number; http: string }[];
  /** How the demo's cluster is secured (demo:failover connects the same way); null for plaintext. */
  readonly security: LocalSecurity | null;
}

export function writeDemoState(state: DemoState): void {
  writeFileSync(stateFile, JSON.stringify(state, null, 2));
}

export function readDemoState(): DemoState {
  try {
    return JSON.parse(readFileSync(stateFile, "utf8")) as DemoState;
  } catch {
    throw new Error(
      `no running demo found (${stateFile} is missing): start one with \`npm run demo\` in another terminal first`,
    );
  }
}
