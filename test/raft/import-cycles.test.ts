import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize } from "node:path";
import { describe, expect, it } from "vitest";

// src/raft has no import circle (raft.ts <-> raw-node.ts had one): each file's relative imports,
// type-only ones included, followed depth-first; a file met again on the current path is a circle.

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sourceFiles(join(dir, entry.name))
      : entry.name.endsWith(".ts")
        ? [join(dir, entry.name)]
        : [],
  );
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const found: string[] = [];
  for (const match of text.matchAll(/(?:import|export)[^;]*?from\s+"(\.[^"]+)"/gs))
    found.push(normalize(join(dirname(file), match[1].replace(/\.js$/, ".ts"))));
  return found;
}

function importGraph(files: readonly string[]): ReadonlyMap<string, readonly string[]> {
  return new Map(files.map((f) => [f, importsOf(f).filter((to) => files.includes(to))]));
}

function circles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const done = new Set<string>();
  const found: string[][] = [];
  const visit = (file: string, path: string[]): void => {
    const at = path.indexOf(file);
    if (at >= 0) {
      found.push([...path.slice(at), file]);
      return;
    }
    if (done.has(file)) return;
    for (const next of graph.get(file) ?? []) visit(next, [...path, file]);
    done.add(file);
  };
  for (const file of graph.keys()) visit(file, []);
  return found;
}

describe("src/raft imports", () => {
  it("form no circle", () => {
    expect(circles(importGraph(sourceFiles("src/raft")))).toEqual([]);
  });

  it("the check finds a circle when there is one", () => {
    const graph = new Map([
      ["raft.ts", ["raw-node.ts", "types.ts"]],
      ["raw-node.ts", ["raft.ts"]],
      ["types.ts", []],
    ]);
    expect(circles(graph)).toEqual([["raft.ts", "raw-node.ts", "raft.ts"]]);
  });
});
