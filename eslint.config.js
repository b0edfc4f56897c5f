// Lint rules, including the layering rule of DESIGN.md: every `core/` folder stays pure
// (no node:* modules, no timers, no wall clock, no Math.random) and imports only src/lib
// and its own area's core, so the simulator can drive it deterministically.
import js from "@eslint/js";
import tseslint from "typescript-eslint";
import prettierConfig from "eslint-config-prettier";

const impurityMessage =
  "core/ is pure: time enters through tick(), randomness through an injected seeded PRNG, IO through the io/ shell.";

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
  {
    files: ["src/**/core/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            { group: ["node:*"], message: impurityMessage },
            { group: ["**/io/**", "**/io"], message: "core/ must not import from io/." },
            { group: ["**/gen/**"], message: "core/ uses plain types; generated protobuf code belongs to io/." },
          ],
          paths: ["fs", "os", "net", "http", "crypto", "timers", "child_process", "path"].map((name) => ({
            name,
            message: impurityMessage,
          })),
        },
      ],
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
  // The product never depends on its tooling (dev/), and the node agent never on the replica (src/server/):
  // what they share lives in src/lib.
  {
    files: ["src/**/*.ts"],
    ignores: ["src/**/core/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        { patterns: [{ group: ["**/dev/**"], message: "src/ must not import the dev/ tooling." }] },
      ],
    },
  },
  {
    files: ["src/agent/**/*.ts"],
    ignores: ["src/agent/core/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            { group: ["**/dev/**"], message: "src/ must not import the dev/ tooling." },
            { group: ["**/server/**"], message: "the node agent shares code with the replica only through src/lib." },
          ],
        },
      ],
    },
  },
  // Formatting is prettier's job (npm run format); this turns off the lint rules that would fight it.
  prettierConfig,
);
