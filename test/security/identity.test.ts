import { describe, expect, it } from "vitest";
import { pino } from "pino";
import { ManualClock } from "../../src/lib/clock.js";
import { RateLimitedLog } from "../../src/lib/rate-limited-log.js";
import { identityFromSubjectAltName } from "../../src/lib/tls-identity.js";
import { isLoopbackHost, plaintextRefusal } from "../../src/server/replica-security.js";

describe("certificate identity", () => {
  it.each([
    ["URI:orchestrator://replica/r1, DNS:localhost, IP Address:127.0.0.1", { role: "replica", name: "r1" }],
    [
      "URI:orchestrator://agent/a1, URI:orchestrator://region/eu-west-1",
      { role: "agent", name: "a1", region: "eu-west-1" },
    ],
    ["URI:orchestrator://client/admin", { role: "client", name: "admin" }],
  ])("reads %s", (san, expected) => {
    expect(identityFromSubjectAltName(san)).toEqual(expected);
  });

  it.each([
    [undefined],
    ["DNS:r1"],
    ["URI:orchestrator://root/r1"],
    ["URI:orchestrator://replica/"],
    ["URI:orchestrator://replica/r1, URI:orchestrator://replica/r2"],
    ["URI:https://replica/r1"],
  ])("finds no identity in %s", (san) => {
    expect(identityFromSubjectAltName(san)).toBeNull();
  });
});

describe("refusal log", () => {
  function capture(): { log: RateLimitedLog; clock: ManualClock; lines: Array<Record<string, unknown>> } {
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino({ level: "warn" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const clock = new ManualClock();
    return { log: new RateLimitedLog(logger, clock, { intervalMs: 60_000, keysMax: 2 }), clock, lines };
  }

  it("logs a key once per interval, and the next line counts what was held back", () => {
    const { log, clock, lines } = capture();
    for (let i = 0; i < 50; i++) log.warn("10.0.0.1", { reason: "CERT_HAS_EXPIRED" }, "refused");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ peer: "10.0.0.1", reason: "CERT_HAS_EXPIRED", suppressed: 0, msg: "refused" });
    log.warn("10.0.0.2", {}, "refused");
    expect(lines).toHaveLength(2);
    clock.advance(59_999);
    expect(log.warn("10.0.0.1", {}, "refused")).toBe(false);
    clock.advance(1);
    expect(log.warn("10.0.0.1", {}, "refused")).toBe(true);
    expect(lines[2]).toMatchObject({ peer: "10.0.0.1", suppressed: 50 });
  });

  it("forgets the least recently logged key past keysMax", () => {
    const { log, lines } = capture();
    log.warn("a", {}, "refused");
    log.warn("b", {}, "refused");
    log.warn("c", {}, "refused");
    // "a" was forgotten: it logs again at once; "c" is still remembered.
    expect(log.warn("a", {}, "refused")).toBe(true);
    expect(log.warn("c", {}, "refused")).toBe(false);
    expect(lines.map((l) => l["peer"])).toEqual(["a", "b", "c", "a"]);
  });
});

describe("plaintext only on loopback", () => {
  it.each(["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]"])("%s is loopback", (host) => {
    expect(isLoopbackHost(host)).toBe(true);
  });
  it.each(["0.0.0.0", "10.0.0.5", "::", "orch-1.internal"])("%s is not", (host) => {
    expect(isLoopbackHost(host)).toBe(false);
  });
  it("refuses a non-loopback address without TLS or --insecure, and only then", () => {
    const addresses = [["--api", "0.0.0.0:45123"]] as const;
    expect(plaintextRefusal(addresses, {})).toMatch(/--api 0\.0\.0\.0:45123 is not a loopback address/);
    expect(plaintextRefusal(addresses, { insecure: true })).toBeNull();
    expect(plaintextRefusal([["--api", "127.0.0.1:45123"]], {})).toBeNull();
  });
});
