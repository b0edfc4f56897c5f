import { describe, expect, it } from "vitest";
import { formatCores, formatCpu, formatMemory, parseCpu, parseMemory } from "../../src/cli/quantity.js";

describe("parseCpu", () => {
  it.each([
    ["2", 2000],
    ["1", 1000],
    ["0.5", 500],
    [".5", 500],
    ["0.25", 250],
    ["1.5", 1500],
    ["0.001", 1],
    ["500m", 500],
    ["1m", 1],
    ["2000m", 2000],
    ["1.0m", 1],
    [" 250m ", 250],
    ["64", 64_000],
  ])("%j is %i millicores", (text, millicores) => {
    expect(parseCpu(text)).toEqual({ ok: true, value: millicores });
  });

  it.each([
    "",
    "abc",
    "-1",
    "0",
    "0m",
    "0.0",
    "1.",
    "0.0005",
    "0.5m",
    "1e3",
    "2 cores",
    "500M",
    "1Gi",
    "5mm",
    "1,5",
    "4294968",
  ])("rejects %j naming the accepted forms", (text) => {
    const parsed = parseCpu(text);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error).toContain('cores ("2", "0.5") or millicores ("500m")');
  });
});

describe("parseMemory", () => {
  it.each([
    ["512", 512],
    ["1024", 1024],
    ["1", 1],
    ["512Mi", 512],
    ["1Gi", 1024],
    ["1.5Gi", 1536],
    ["0.5Gi", 512],
    ["2Ti", 2 * 1024 * 1024],
    ["1048576Ki", 1024],
    ["1Ki", 1], // rounded up to a whole MiB
    ["1G", 954], // 10^9 bytes = 953.67 MiB, rounded up
    ["256M", 245], // 256e6 bytes = 244.14 MiB
    ["1000M", 954],
    ["1k", 1],
    ["1T", 953_675], // 10^12 bytes = 953674.3 MiB
    ["0.5", 1], // half a MiB rounds up
    ["128Mi", 128],
  ])("%j is %i MiB", (text, mib) => {
    expect(parseMemory(text)).toEqual({ ok: true, value: mib });
  });

  it.each(["", "abc", "-512", "0", "0Mi", "1g", "1GB", "512MB", "1gi", "1K", "1e9", "1.", "12 Mi", "1m", "5Ei"])(
    "rejects %j naming the accepted forms",
    (text) => {
      const parsed = parseMemory(text);
      expect(parsed.ok).toBe(false);
      if (!parsed.ok) expect(parsed.error).toContain('MiB ("512"), binary units ("512Mi", "1Gi")');
    },
  );
});

describe("formatting", () => {
  it("prints cpu as Kubernetes does", () => {
    expect(formatCpu(2000)).toBe("2");
    expect(formatCpu(500)).toBe("500m");
    expect(formatCpu(1500)).toBe("1500m");
    expect(formatCores(1500)).toBe("1.5");
    expect(formatCores(8000)).toBe("8");
  });

  it("prints memory in Gi when whole, else Mi", () => {
    expect(formatMemory(1024)).toBe("1Gi");
    expect(formatMemory(16384)).toBe("16Gi");
    expect(formatMemory(512)).toBe("512Mi");
    expect(formatMemory(0)).toBe("0");
  });

  it("round-trips what it prints", () => {
    for (const millicores of [1, 100, 999, 1000, 2500, 64_000])
      expect(parseCpu(formatCpu(millicores))).toEqual({ ok: true, value: millicores });
    for (const mib of [1, 128, 1000, 1024, 1536, 16_384])
      expect(parseMemory(formatMemory(mib))).toEqual({ ok: true, value: mib });
  });
});
