import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

// The import graph of src/ (type-only imports included: a circle of types is still a circle for a
// reader) must have no cycle. Lint checks the direction between areas; this checks within them.
const root = resolve(import.meta.dirname, "../..");
const sourceDirs = ["src", "dev"];

function tsFiles(dir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  const files: string[] = [];
  for (const entry of entries) {
    const path = join(dir, entry);
    if (entry === "gen" || entry === "node_modules") continue;
    if (statSync(path).isDirectory()) files.push(...tsFiles(path));
    else if (entry.endsWith(".ts")) files.push(path);
  }
  return files;
}

const importPattern = /(?:^|\n)\s*(?:import|export)\b[^"';]*?from\s+["'](\.[^"']+)["']/g;

export function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceDirs.flatMap((d) => tsFiles(join(root, d)))) {
    const text = readFileSync(file, "utf8");
    const targets: string[] = [];
    for (const match of text.matchAll(importPattern)) {
      const target = resolve(dirname(file), match[1].replace(/\.js$/, ".ts"));
      if (target.includes(`${join(root, "src", "gen")}`)) continue;
      targets.push(relative(root, target));
    }
    graph.set(relative(root, file), targets);
  }
  return graph;
}

/** Tarjan's strongly connected components; every component of more than one file is a circle. */
export function cycles(graph: Map<string, string[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter);
    counter++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

describe("the import graph of src/ and dev/", () => {
  it("reads the real tree (the parser finds imports)", () => {
    const graph = importGraph();
    expect(graph.size).toBeGreaterThan(100);
    expect(graph.get("src/raft/core/raw-node.ts")?.length ?? 0).toBeGreaterThan(0);
  });

  it("finds a circle when there is one", () => {
    const graph = new Map([
      ["a.ts", ["b.ts"]],
      ["b.ts", ["c.ts"]],
      ["c.ts", ["a.ts"]],
      ["d.ts", ["a.ts"]],
    ]);
    expect(cycles(graph)).toEqual([["a.ts", "b.ts", "c.ts"]]);
  });

  it("has no circle", () => {
    expect(cycles(importGraph())).toEqual([]);
  });
});
