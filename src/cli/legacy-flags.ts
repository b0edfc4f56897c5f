import { assertNever } from "../lib/assert.js";
import type { Result } from "../lib/errors.js";
import { err, ok } from "../lib/errors.js";

/**
 * The seed's command line, in Go's flag style:
 *
 *   orchctl -server=localhost:50051 -action=deploy -name=demo-app -image=nginx:latest -replicas=2 -cpu=2 -memory=1024
 *
 * It is recognised before commander sees the arguments and rewritten into the modern form
 * (`orchctl --endpoints localhost:50051 deploy demo-app --image nginx:latest --replicas 2 --cpu 2 --memory 1024`),
 * so both forms share one implementation. As in Go's flag package, a flag may be written
 * `-name=value`, `--name=value`, `-name value` or, for booleans, bare `-wait`.
 *
 * Units carry over unchanged: the seed's -cpu is in cores and -memory in MiB, which is exactly
 * what a bare number means in the modern --cpu and --memory. Flags the chosen action does not use
 * are ignored, as the seed ignored them.
 */

const VALUE_FLAGS = [
  "server",
  "action",
  "name",
  "image",
  "replicas",
  "cpu",
  "memory",
  "strategy",
  "regions",
  "client-regions",
  "output",
  "timeout",
] as const;
const BOOLEAN_FLAGS = ["wait", "one-per-node"] as const;
const ACTIONS = ["deploy", "scale", "delete", "get", "list", "containers", "nodes", "cluster"] as const;

type ValueFlag = (typeof VALUE_FLAGS)[number];
type BooleanFlag = (typeof BOOLEAN_FLAGS)[number];
type Action = (typeof ACTIONS)[number];

interface LegacyFlags {
  readonly values: Partial<Record<ValueFlag, string>>;
  readonly booleans: Partial<Record<BooleanFlag, boolean>>;
}

/** A single dash, a name of two or more characters, then "=": "-server=...", never "-o" or "--image". */
const SINGLE_DASH_ASSIGNMENT = /^-[A-Za-z][A-Za-z0-9_-]+=/;

/** True when argv is in the seed's form: some `-flag=value`, or an -action flag in any spelling. */
export function isLegacyForm(argv: readonly string[]): boolean {
  return argv.some(
    (arg) => SINGLE_DASH_ASSIGNMENT.test(arg) || arg === "-action" || arg === "--action" || arg.startsWith("--action="),
  );
}

function isValueFlag(name: string): name is ValueFlag {
  return (VALUE_FLAGS as readonly string[]).includes(name);
}

function isBooleanFlag(name: string): name is BooleanFlag {
  return (BOOLEAN_FLAGS as readonly string[]).includes(name);
}

function isAction(name: string): name is Action {
  return (ACTIONS as readonly string[]).includes(name);
}

const ACCEPTED = `accepted flags: ${[...VALUE_FLAGS, ...BOOLEAN_FLAGS].map((f) => `-${f}`).join(" ")}`;

function parseLegacyFlags(argv: readonly string[]): Result<LegacyFlags, string> {
  const values: Partial<Record<ValueFlag, string>> = {};
  const booleans: Partial<Record<BooleanFlag, boolean>> = {};
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    const match = /^--?([A-Za-z][A-Za-z0-9_-]*)(?:=(.*))?$/s.exec(arg);
    if (match === null) return err(`unexpected argument "${arg}" in the -flag=value form; ${ACCEPTED}`);
    const name = match[1].replaceAll("_", "-");
    const inline = match[2];
    if (isBooleanFlag(name)) {
      if (inline === undefined || inline === "true" || inline === "1") booleans[name] = true;
      else if (inline === "false" || inline === "0") booleans[name] = false;
      else return err(`flag -${name} takes true or false, got "${inline}"`);
    } else if (isValueFlag(name)) {
      if (inline !== undefined) {
        values[name] = inline;
      } else {
        if (i + 1 >= argv.length) return err(`flag -${name} needs a value (-${name}=VALUE)`);
        i += 1;
        values[name] = argv[i];
      }
    } else {
      return err(`unknown flag -${name}; ${ACCEPTED}`);
    }
  }
  return ok({ values, booleans });
}

function required(flags: LegacyFlags, name: ValueFlag, action: Action): Result<string, string> {
  const value = flags.values[name];
  if (value === undefined || value === "") return err(`-action=${action} needs -${name}=...`);
  return ok(value);
}

function deployArgs(flags: LegacyFlags): Result<string[], string> {
  const name = required(flags, "name", "deploy");
  if (!name.ok) return name;
  const image = required(flags, "image", "deploy");
  if (!image.ok) return image;
  const args = ["deploy", name.value, "--image", image.value];
  const passThrough: readonly ValueFlag[] = ["replicas", "cpu", "memory", "strategy", "regions", "client-regions"];
  for (const flag of passThrough) {
    const value = flags.values[flag];
    if (value !== undefined) args.push(`--${flag}`, value);
  }
  if (flags.booleans["one-per-node"] === true) args.push("--one-per-node");
  if (flags.booleans.wait === true) args.push("--wait");
  return ok(args);
}

function actionArgs(action: Action, flags: LegacyFlags): Result<string[], string> {
  switch (action) {
    case "deploy":
      return deployArgs(flags);
    case "scale": {
      const name = required(flags, "name", action);
      if (!name.ok) return name;
      const replicas = required(flags, "replicas", action);
      if (!replicas.ok) return replicas;
      return ok(["scale", name.value, replicas.value]);
    }
    case "delete":
    case "get": {
      const name = required(flags, "name", action);
      if (!name.ok) return name;
      return ok([action, name.value]);
    }
    case "list":
    case "containers":
    case "nodes":
    case "cluster":
      return ok([action]);
    default:
      return assertNever(action, "legacy action");
  }
}

/** Rewrites the seed's flags into modern orchctl arguments, or says what is wrong with them. */
export function translateLegacyArgs(argv: readonly string[]): Result<string[], string> {
  const parsed = parseLegacyFlags(argv);
  if (!parsed.ok) return parsed;
  const flags = parsed.value;
  const action = flags.values.action;
  if (action === undefined) return err(`the -flag=value form needs -action=<${ACTIONS.join("|")}>`);
  if (!isAction(action)) return err(`unknown -action "${action}"; use one of ${ACTIONS.join(", ")}`);
  const globals: string[] = [];
  if (flags.values.server !== undefined) globals.push("--endpoints", flags.values.server);
  if (flags.values.output !== undefined) globals.push("--output", flags.values.output);
  if (flags.values.timeout !== undefined) globals.push("--timeout", flags.values.timeout);
  const args = actionArgs(action, flags);
  if (!args.ok) return args;
  return ok([...globals, ...args.value]);
}
