// Lint rules, including the layering of docs/architecture.md, enforced here rather than hoped for:
// - every `core/` folder stays pure (no node:* modules, no timers, no wall clock, no Math.random)
//   and imports only src/lib and its own area's core, so the simulator can drive it deterministically;
// - each area of src/ imports only the areas below it (the `layers` table), so nothing runs back up
//   and the leader controllers meet Raft and the API only through their ports.
import js from "@eslint/js";
import tseslint from "typescript-eslint";
import prettierConfig from "eslint-config-prettier";

const impurityMessage =
  "core/ is pure: time enters through tick(), randomness through an injected seeded PRNG, IO through the io/ shell.";

/** The top-level folders of src/ (and dev/, which only tooling may use). */
const areas = [
  "lib",
  "gen",
  "raft",
  "fsm",
  "scheduler",
  "health",
  "rollout",
  "members",
  "drain",
  "api",
  "agent",
  "cli",
  "server",
  "dev",
];

/**
 * What each area of src/ may import besides itself. Anything else is a lint error naming the rule.
 * raft knows nothing above it (no FSM, no API); the controllers (scheduler, health, rollout, drain) see the
 * cluster only through src/fsm's ports; the agent and the CLI are other processes and never import the
 * replica (server); nothing in src/ imports the dev tooling.
 */
const layers = {
  lib: ["gen"],
  raft: ["lib", "gen"],
  fsm: ["lib", "gen"],
  scheduler: ["lib", "gen", "fsm"],
  health: ["lib", "gen", "fsm"],
  rollout: ["lib", "gen", "fsm"],
  members: ["lib", "gen", "fsm"],
  drain: ["lib", "gen", "fsm"],
  api: ["lib", "gen", "fsm", "raft", "scheduler", "health", "rollout"],
  agent: ["lib", "gen", "fsm"],
  cli: ["lib", "gen", "fsm", "scheduler", "rollout"],
  server: ["lib", "gen", "fsm", "raft", "scheduler", "health", "rollout", "members", "drain", "api"],
};

/**
 * Matches a relative specifier that climbs out of the importing area and names `other` as the first
 * folder: "../../api/x.js", "../api". Not "../gen/agent/v1/agent.js" (that is src/gen).
 */
function areaSpecifier(other) {
  return `^(\\.\\./)+${other}(/|$)`;
}

function forbiddenAreaPatterns(area) {
  const allowed = new Set([area, ...layers[area]]);
  return areas
    .filter((other) => !allowed.has(other))
    .map((other) => ({
      regex: areaSpecifier(other),
      message: `src/${area} may import only ${[...layers[area]].map((a) => `src/${a}`).join(", ")} (layering, docs/architecture.md); not ${other === "dev" ? "dev/" : `src/${other}`}.`,
    }));
}

const corePurityPatterns = [
  { group: ["node:*"], message: impurityMessage },
  { group: ["**/io/**", "**/io"], message: "core/ must not import from io/." },
  { group: ["**/gen/**"], message: "core/ uses plain types; generated protobuf code belongs to io/." },
];
const impureModulePaths = ["fs", "os", "net", "http", "crypto", "timers", "child_process", "path"].map((name) => ({
  name,
  message: impurityMessage,
}));

function layerConfigs(area) {
  const forbidden = forbiddenAreaPatterns(area);
  // A core may use src/lib and its own area only (the pure scheduler does not read the FSM's records).
  const coreForbidden = forbiddenAreaPatterns(area).concat(
    layers[area]
      .filter((a) => a !== "lib" && a !== "gen")
      .map((other) => ({
        regex: areaSpecifier(other),
        message: `core/ imports only src/lib and its own area's core; not src/${other}.`,
      })),
  );
  return [
    {
      files: [`src/${area}/**/*.ts`],
      ignores: [`src/${area}/**/core/**`],
      rules: { "no-restricted-imports": ["error", { patterns: forbidden }] },
    },
    {
      files: [`src/${area}/**/core/**/*.ts`],
      rules: {
        "no-restricted-imports": [
          "error",
          { patterns: [...corePurityPatterns, ...coreForbidden], paths: impureModulePaths },
        ],
      },
    },
  ];
}

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "src/gen/**", "coverage/**", "data/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { console: "readonly", process: "readonly" } },
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      eqeqeq: ["error", "always"],
    },
  },
  ...Object.keys(layers).flatMap(layerConfigs),
  {
    files: ["src/**/core/**/*.ts"],
    rules: {
      "no-restricted-globals": [
        "error",
        ...[
          "Date",
          "setTimeout",
          "setInterval",
          "setImmediate",
          "clearTimeout",
          "clearInterval",
          "queueMicrotask",
          "performance",
          "process",
          "require",
        ].map((name) => ({ name, message: impurityMessage })),
      ],
      "no-restricted-properties": ["error", { object: "Math", property: "random", message: impurityMessage }],
    },
  },
  // Formatting is prettier's job (npm run format); this turns off the lint rules that would fight it.
  prettierConfig,
);
