/**
 * A small reader of the Prometheus text exposition format, enough for the tests to ask which
 * metric families an endpoint declares, with what type, and which samples and labels it has.
 */

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface MetricFamily {
  readonly name: string;
  readonly type: string;
  readonly samples: Sample[];
}

const histogramSuffixes = ["_bucket", "_sum", "_count"] as const;

export function parseExposition(body: string): Map<string, MetricFamily> {
  const families = new Map<string, MetricFamily>();
  const sampleFamily = (name: string): MetricFamily | undefined => {
    const exact = families.get(name);
    if (exact !== undefined) return exact;
    for (const suffix of histogramSuffixes) {
      if (!name.endsWith(suffix)) continue;
      const family = families.get(name.slice(0, -suffix.length));
      if (family !== undefined && (family.type === "histogram" || family.type === "summary")) return family;
    }
    return undefined;
  };
  for (const line of body.split("\n")) {
    if (line.trim() === "") continue;
    if (line.startsWith("#")) {
      const type = /^# TYPE (\S+) (\S+)$/.exec(line);
      if (type !== null) families.set(type[1], { name: type[1], type: type[2], samples: [] });
      continue;
    }
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/.exec(line);
    if (match === null) throw new Error(`unparsable exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]] = pair[2];
    const sample: Sample = { name: match[1], labels, value: Number(match[3]) };
    const family = sampleFamily(match[1]);
    if (family === undefined) throw new Error(`sample ${match[1]} has no # TYPE line before it`);
    family.samples.push(sample);
  }
  return families;
}

/** Distinct label sets of a family, ignoring `le` (histogram buckets) and `quantile`. */
export function seriesCount(family: MetricFamily): number {
  const keys = new Set<string>();
  for (const sample of family.samples) {
    const key = Object.entries(sample.labels)
      .filter(([name]) => name !== "le" && name !== "quantile")
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, value]) => `${name}=${value}`)
      .join(",");
    keys.add(key);
  }
  return keys.size;
}
