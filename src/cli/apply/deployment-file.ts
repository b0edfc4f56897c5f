/**
 * Reads deployment files for `orchctl apply` and `orchctl plan`: YAML or JSON, one deployment, a
 * list of them, or `deployments: [...]`, in one or more YAML documents per file, or every
 * .yaml/.yml/.json file of a directory. Every mistake is reported with the file, the deployment
 * and the field, and unknown fields are refused: a typo must not silently mean "default".
 */
import { readFileSync, readdirSync, statSync } from "node:fs";
import { basename, extname, join } from "node:path";
import { LineCounter, parseAllDocuments } from "yaml";
import { parseCpu, parseMemory } from "../quantity.js";
import { parseDuration } from "../../lib/duration.js";
import {
  deploymentInputDefaults,
  type DeploymentInput,
  type HealthCheckInput,
  type RestartPolicyInput,
  type UpdatePolicyInput,
  type WorkloadInput,
} from "./deployment-input.js";

export const deploymentFileLimits = {
  /** One file; bigger is refused before it is read (a deployment file is a few KiB). */
  fileBytesMax: 4 * 1024 * 1024,
  /** Deployments in one apply, over all its files. */
  deploymentsMax: 1_000,
  /** Files read from one directory. */
  filesPerDirectoryMax: 1_000,
} as const;

export type FileErrorCode = "INVALID_ARGUMENT" | "RESOURCE_EXHAUSTED" | "NOT_FOUND";

/** A file that cannot be applied; the message names the file, the deployment and the field. */
export class DeploymentFileError extends Error {
  constructor(
    readonly code: FileErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "DeploymentFileError";
  }
}

export interface FileDeployment {
  /** Where it came from, for messages: "web.yaml" or "web.yaml (document 2)". */
  readonly source: string;
  readonly input: DeploymentInput;
}

const EXTENSIONS = new Set([".yaml", ".yml", ".json"]);

/** Reads a file, or every deployment file of a directory (not recursive), in name order. */
export function readDeploymentFiles(path: string): FileDeployment[] {
  let stat;
  try {
    stat = statSync(path);
  } catch {
    throw new DeploymentFileError("NOT_FOUND", `${path}: no such file or directory`);
  }
  const files = stat.isDirectory() ? directoryFiles(path) : [path];
  const deployments: FileDeployment[] = [];
  for (const file of files) {
    const size = statSync(file).size;
    if (size > deploymentFileLimits.fileBytesMax) {
      throw new DeploymentFileError(
        "RESOURCE_EXHAUSTED",
        `${file}: ${size} bytes is more than the ${deploymentFileLimits.fileBytesMax} a deployment file may have`,
      );
    }
    deployments.push(...parseDeploymentText(readFileSync(file, "utf8"), file));
    refuseTooMany(deployments.length, path);
  }
  refuseDuplicates(deployments);
  return deployments;
}

function directoryFiles(dir: string): string[] {
  const names = readdirSync(dir)
    .filter((name) => EXTENSIONS.has(extname(name).toLowerCase()))
    .sort();
  if (names.length === 0)
    throw new DeploymentFileError("NOT_FOUND", `${dir}: no .yaml, .yml or .json files in this directory`);
  if (names.length > deploymentFileLimits.filesPerDirectoryMax) {
    throw new DeploymentFileError(
      "RESOURCE_EXHAUSTED",
      `${dir}: ${names.length} files; at most ${deploymentFileLimits.filesPerDirectoryMax} are read from a directory`,
    );
  }
  return names.map((name) => join(dir, name));
}

function refuseTooMany(count: number, path: string): void {
  if (count > deploymentFileLimits.deploymentsMax) {
    throw new DeploymentFileError(
      "RESOURCE_EXHAUSTED",
      `${path}: more than ${deploymentFileLimits.deploymentsMax} deployments in one apply; split it`,
    );
  }
}

function refuseDuplicates(deployments: readonly FileDeployment[]): void {
  const seen = new Map<string, string>();
  for (const { source, input } of deployments) {
    const first = seen.get(input.name);
    if (first !== undefined)
      throw new DeploymentFileError("INVALID_ARGUMENT", `${source}: deployment ${input.name} is also in ${first}`);
    seen.set(input.name, source);
  }
}

/** Parses one file's text; `file` names it in messages. */
export function parseDeploymentText(text: string, file: string): FileDeployment[] {
  const lines = new LineCounter();
  const documents = parseAllDocuments(text, { uniqueKeys: true, prettyErrors: false, lineCounter: lines });
  const list = Array.isArray(documents) ? documents : [documents];
  const deployments: FileDeployment[] = [];
  list.forEach((document, i) => {
    const source = list.length > 1 ? `${basename(file)} (document ${i + 1})` : basename(file);
    const error = document.errors[0];
    if (error !== undefined) {
      const at = lines.linePos(error.pos[0]);
      const where = ` at line ${at.line}, column ${at.col}`;
      throw new DeploymentFileError("INVALID_ARGUMENT", `${source}: not valid YAML or JSON${where}: ${error.code}`);
    }
    const value: unknown = document.toJS({ maxAliasCount: 100 });
    if (value === null || value === undefined) return; // an empty document
    for (const item of deploymentItems(value, source)) {
      deployments.push({ source, input: deploymentFrom(item.value, source, item.path) });
      refuseTooMany(deployments.length, file);
    }
  });
  return deployments;
}

function deploymentItems(value: unknown, source: string): { path: string; value: unknown }[] {
  if (Array.isArray(value)) return value.map((v, i) => ({ path: `item ${i + 1}`, value: v }));
  if (isObject(value) && "deployments" in value) {
    const extra = Object.keys(value).filter((k) => k !== "deployments");
    if (extra.length > 0) throw invalid(`${source}: unknown field ${JSON.stringify(extra[0])} beside "deployments"`);
    if (!Array.isArray(value.deployments)) throw invalid(`${source}: deployments must be a list`);
    return value.deployments.map((v: unknown, i: number) => ({ path: `deployments[${i}]`, value: v }));
  }
  return [{ path: "", value }];
}

// ------------------------------------------------------------ the fields

type Fields = Record<string, unknown>;

/** Reads one deployment; messages start "web.yaml: deployment web: " once the name is known. */
function deploymentFrom(value: unknown, source: string, path: string): DeploymentInput {
  const at = path === "" ? source : `${source}: ${path}`;
  if (!isObject(value)) throw invalid(`${at}: a deployment is a mapping of fields, got ${kindOf(value)}`);
  const name = requiredString(value, "name", at);
  const r = new FieldReader(value, `${source}: deployment ${name}`, DEPLOYMENT_FIELDS);
  return {
    name,
    image: r.string("image", true) ?? "",
    replicas: r.wholeNumber("replicas", 0) ?? deploymentInputDefaults.replicas,
    cpuMillicores: r.quantity("cpu", parseCpu) ?? deploymentInputDefaults.cpuMillicores,
    memoryMib: r.quantity("memory", parseMemory) ?? deploymentInputDefaults.memoryMib,
    strategy: r.choice("strategy", ["binpack", "spread", "latency"] as const) ?? deploymentInputDefaults.strategy,
    regions: r.stringList("regions") ?? [],
    clientRegions: r.stringList("client_regions") ?? [],
    onePerNode: r.boolean("one_per_node") ?? false,
    healthCheck: r.object("health_check", healthCheckFrom),
    restartPolicy: r.object("restart_policy", restartPolicyFrom),
    progressDeadlineMs: r.duration("progress_deadline"),
    update: r.object("update", updatePolicyFrom),
    maxUnavailable: r.wholeNumber("max_unavailable", 0),
    workload: workloadFrom(r),
  };
}

/** command, args, env and ports, as one workload when any of them is given. */
function workloadFrom(r: FieldReader): WorkloadInput | undefined {
  const command = r.string("command");
  const args = r.stringList("args", false);
  const env = r.envMap("env");
  const ports = r.portList("ports");
  if (command === undefined && args === undefined && env === undefined && ports === undefined) return undefined;
  return { command: command ?? "", args: args ?? [], env: env ?? [], ports: ports ?? [] };
}

const DEPLOYMENT_FIELDS = [
  "name",
  "image",
  "replicas",
  "cpu",
  "memory",
  "strategy",
  "regions",
  "client_regions",
  "one_per_node",
  "health_check",
  "restart_policy",
  "progress_deadline",
  "update",
  "max_unavailable",
  "command",
  "args",
  "env",
  "ports",
];

function healthCheckFrom(r: FieldReader): HealthCheckInput {
  return {
    path: r.string("path"),
    periodMs: r.duration("period"),
    timeoutMs: r.duration("timeout"),
    failureThreshold: r.wholeNumber("failure_threshold", 1),
    successThreshold: r.wholeNumber("success_threshold", 1),
    initialDelayMs: r.duration("initial_delay"),
    port: r.string("port"),
  };
}
healthCheckFrom.fields = [
  "path",
  "period",
  "timeout",
  "failure_threshold",
  "success_threshold",
  "initial_delay",
  "port",
];

function restartPolicyFrom(r: FieldReader): RestartPolicyInput {
  return {
    initialDelayMs: r.duration("initial_delay"),
    factor: r.number("factor"),
    maxDelayMs: r.duration("max_delay"),
    resetAfterMs: r.duration("reset_after"),
  };
}
restartPolicyFrom.fields = ["initial_delay", "factor", "max_delay", "reset_after"];

function updatePolicyFrom(r: FieldReader): UpdatePolicyInput {
  return {
    maxParallel: r.wholeNumber("max_parallel", 1),
    maxSurge: r.wholeNumber("max_surge", 0),
    minHealthyTimeMs: r.duration("min_healthy_time"),
    healthyDeadlineMs: r.duration("healthy_deadline"),
    progressDeadlineMs: r.duration("progress_deadline"),
    canary: r.wholeNumber("canary", 0),
    autoRevert: r.boolean("auto_revert"),
  };
}
updatePolicyFrom.fields = [
  "max_parallel",
  "max_surge",
  "min_healthy_time",
  "healthy_deadline",
  "progress_deadline",
  "canary",
  "auto_revert",
];

type SectionReader<T> = ((r: FieldReader) => T) & { fields: readonly string[] };

/** Reads typed fields of one mapping and refuses the ones it does not know. */
class FieldReader {
  constructor(
    private readonly fields: Fields,
    private readonly where: string,
    known: readonly string[],
    /** "update." inside a section, so a message names the field as the file spells it. */
    private readonly prefix = "",
  ) {
    for (const key of Object.keys(fields)) {
      if (known.includes(key)) continue;
      const near = nearest(key, known);
      throw invalid(
        `${where}: unknown field ${JSON.stringify(prefix + key)}${near === undefined ? "" : ` (did you mean ${prefix + near}?)`}`,
      );
    }
  }

  private present(key: string): unknown {
    const value = this.fields[key];
    return value === null ? undefined : value;
  }

  private fail(key: string, want: string, value: unknown): never {
    throw invalid(`${this.where}: ${this.prefix}${key} must be ${want}, got ${describe(value)}`);
  }

  string(key: string, required = false): string | undefined {
    const value = this.present(key);
    if (value === undefined) {
      if (required) throw invalid(`${this.where}: ${this.prefix}${key} is required`);
      return undefined;
    }
    if (typeof value !== "string" || value.trim() === "") this.fail(key, "a non-empty string", value);
    return value;
  }

  wholeNumber(key: string, min: number): number | undefined {
    const value = this.present(key);
    if (value === undefined) return undefined;
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min || value > 0xffff_ffff)
      this.fail(key, `a whole number, ${min} or more`, value);
    return value;
  }

  number(key: string): number | undefined {
    const value = this.present(key);
    if (value === undefined) return undefined;
    if (typeof value !== "number" || !Number.isFinite(value)) this.fail(key, "a number", value);
    return value;
  }

  boolean(key: string): boolean | undefined {
    const value = this.present(key);
    if (value === undefined) return undefined;
    if (typeof value !== "boolean") this.fail(key, "true or false", value);
    return value;
  }

  choice<T extends string>(key: string, choices: readonly T[]): T | undefined {
    const value = this.present(key);
    if (value === undefined) return undefined;
    if (typeof value !== "string" || !(choices as readonly string[]).includes(value))
      this.fail(key, `one of ${choices.join(", ")}`, value);
    return value as T;
  }

  /** A list of strings; with `commaText` a single "a, b" string is split too (regions), not for args. */
  stringList(key: string, commaText = true): string[] | undefined {
    const value = this.present(key);
    if (value === undefined) return undefined;
    if (commaText && typeof value === "string") return value.split(",").map((s) => s.trim());
    if (!Array.isArray(value) || !value.every((v) => typeof v === "string" && (!commaText || v.trim() !== "")))
      this.fail(key, "a list of strings", value);
    return value as string[];
  }

  /** Environment variables as a mapping NAME: value (numbers and booleans become their text). */
  envMap(key: string): { name: string; value: string }[] | undefined {
    const value = this.present(key);
    if (value === undefined) return undefined;
    if (!isObject(value)) this.fail(key, "a mapping of NAME: value", value);
    return Object.entries(value).map(([name, v]) => {
      if (typeof v !== "string" && typeof v !== "number" && typeof v !== "boolean")
        this.fail(`${key}.${name}`, "a string, number or boolean", v);
      return { name, value: String(v) };
    });
  }

  /** Named container ports: a list of {name, port}; the server checks the ranges and names. */
  portList(key: string): { name: string; containerPort: number }[] | undefined {
    const value = this.present(key);
    if (value === undefined) return undefined;
    if (!Array.isArray(value)) this.fail(key, "a list of {name, port}", value);
    return value.map((item: unknown, i: number) => {
      if (!isObject(item)) this.fail(`${key}[${i}]`, "a mapping {name, port}", item);
      const port = new FieldReader(item, this.where, ["name", "port"], `${this.prefix}${key}[${i}].`);
      const name = port.string("name", true) ?? "";
      const containerPort = port.wholeNumber("port", 1);
      if (containerPort === undefined) throw invalid(`${this.where}: ${this.prefix}${key}[${i}].port is required`);
      return { name, containerPort };
    });
  }

  /** A cpu or memory quantity: a string ("500m", "256Mi") or a plain number (cores, MiB). */
  quantity(key: string, parse: (text: string) => { ok: true; value: number } | { ok: false; error: string }) {
    const value = this.present(key);
    if (value === undefined) return undefined;
    if (typeof value !== "string" && typeof value !== "number") this.fail(key, "a quantity", value);
    const parsed = parse(String(value));
    if (!parsed.ok) throw invalid(`${this.where}: ${this.prefix}${key}: ${parsed.error}`);
    return parsed.value;
  }

  duration(key: string): number | undefined {
    const value = this.present(key);
    if (value === undefined) return undefined;
    if (typeof value !== "string") this.fail(key, 'a duration like "10s" or "2m"', value);
    const parsed = parseDuration(value);
    if (!parsed.ok) throw invalid(`${this.where}: ${this.prefix}${key}: ${parsed.error}`);
    return parsed.value;
  }

  object<T>(key: string, read: SectionReader<T>): T | undefined {
    const value = this.present(key);
    if (value === undefined) return undefined;
    if (!isObject(value)) this.fail(key, "a mapping of fields", value);
    return read(new FieldReader(value, this.where, read.fields, `${this.prefix}${key}.`));
  }
}

function requiredString(value: Fields, key: string, where: string): string {
  const name = value[key];
  if (typeof name !== "string" || name.trim() === "")
    throw invalid(`${where}: a deployment needs a name (the "${key}" field)`);
  return name;
}

function invalid(message: string): DeploymentFileError {
  return new DeploymentFileError("INVALID_ARGUMENT", message);
}

function isObject(value: unknown): value is Fields {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function kindOf(value: unknown): string {
  if (Array.isArray(value)) return "a list";
  if (value === null) return "nothing";
  return `a ${typeof value}`;
}

function describe(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? kindOf(value) : text.length > 60 ? `${text.slice(0, 60)}…` : text;
}

/** The known field closest to a typo, when it is close enough to be what was meant. */
function nearest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(key.length / 3)) + 1;
  for (const candidate of known) {
    const d = editDistance(key.toLowerCase(), candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}
