import { ESLint } from "eslint";
import { describe, expect, it } from "vitest";

// Each layering rule of docs/architecture.md, broken on purpose in a file that exists only in
// memory at the path where the violation would live. The real lint config must refuse each one,
// and must accept the allowed import beside it (so the rule is not simply refusing everything).
const cases: readonly { file: string; forbidden: string; allowed: string }[] = [
  { file: "src/scheduler/io/probe.ts", forbidden: "../../api/command-proposer.js", allowed: "../../fsm/index.js" },
  { file: "src/scheduler/io/probe.ts", forbidden: "../../raft/io/raft-node.js", allowed: "../../lib/clock.js" },
  { file: "src/scheduler/io/probe.ts", forbidden: "../../server/replica.js", allowed: "../core/index.js" },
  { file: "src/health/io/probe.ts", forbidden: "../../api/agent-service.js", allowed: "../../fsm/index.js" },
  { file: "src/health/io/probe.ts", forbidden: "../../raft/io/raft-node.js", allowed: "../core/index.js" },
  { file: "src/health/io/probe.ts", forbidden: "../../server/replica.js", allowed: "../../lib/clock.js" },
  { file: "src/raft/io/probe.ts", forbidden: "../../fsm/index.js", allowed: "../../lib/assert.js" },
  { file: "src/raft/io/probe.ts", forbidden: "../../api/grpc-status.js", allowed: "../core/raft.js" },
  { file: "src/raft/core/probe.ts", forbidden: "../../server/replica.js", allowed: "./raft.js" },
  { file: "src/agent/io/probe.ts", forbidden: "../../server/http-server.js", allowed: "../../lib/assert.js" },
  { file: "src/cli/commands/probe.ts", forbidden: "../../server/replica.js", allowed: "../../lib/assert.js" },
  {
    file: "src/server/probe.ts",
    forbidden: "../../dev/local-cluster/process-cluster.js",
    allowed: "../api/api-server.js",
  },
  { file: "src/scheduler/core/probe.ts", forbidden: "node:fs", allowed: "../../lib/prng.js" },
  { file: "src/scheduler/core/probe.ts", forbidden: "../../fsm/index.js", allowed: "./stack.js" },
];

async function restrictedImportErrors(eslint: ESLint, file: string, specifier: string): Promise<string[]> {
  const code = `import { thing } from "${specifier}";\nexport const used = thing;\n`;
  const [result] = await eslint.lintText(code, { filePath: file });
  return result.messages.filter((m) => m.ruleId === "no-restricted-imports").map((m) => m.message);
}

describe("layering is enforced by lint", () => {
  const eslint = new ESLint();
  for (const { file, forbidden, allowed } of cases) {
    it(`${file} may not import ${forbidden}`, async () => {
      const errors = await restrictedImportErrors(eslint, file, forbidden);
      expect(errors).toHaveLength(1);
      expect(await restrictedImportErrors(eslint, file, allowed)).toEqual([]);
    });
  }

  it("does not mistake a generated file named like an area for that area", async () => {
    expect(await restrictedImportErrors(eslint, "src/api/probe.ts", "../gen/agent/v1/agent.js")).toEqual([]);
  });
});
