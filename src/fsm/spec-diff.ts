/**
 * The fields in which two deployment specs differ, one leaf field at a time ("image",
 * "update.canary", "health_check.path"), for `orchctl plan`. Names are the spec's own in
 * snake_case, as the API and apply files spell them.
 */
import type { DeploymentSpec } from "./state.js";
import { plainEqual } from "./validation.js";

export interface FieldChange {
  readonly field: string;
  /** '' when there was no deployment. */
  readonly old: string;
  readonly new: string;
}

function snake(key: string): string {
  return key.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}

function show(value: unknown): string {
  if (typeof value === "string") return value;
  if (Array.isArray(value)) return value.length === 0 ? "[]" : value.join(",");
  return JSON.stringify(value);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Every leaf of `requested` whose value differs from `current`'s (all of them when current is undefined). */
export function specFieldChanges(current: DeploymentSpec | undefined, requested: DeploymentSpec): FieldChange[] {
  const changes: FieldChange[] = [];
  const walk = (prefix: string, a: unknown, b: unknown): void => {
    if (isRecord(b)) {
      for (const key of Object.keys(b)) walk(`${prefix}${snake(key)}.`, isRecord(a) ? a[key] : undefined, b[key]);
      return;
    }
    const field = prefix.slice(0, -1);
    if (a === undefined) changes.push({ field, old: "", new: show(b) });
    else if (!plainEqual(a, b)) changes.push({ field, old: show(a), new: show(b) });
  };
  walk("", current, requested);
  return changes.filter((change) => change.field !== "name");
}
