import { describe, expect, it } from "vitest";
import { OncePerInterval } from "../../src/lib/once-per-interval.js";
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
  it("says yes once per key per interval", () => {
    let now = 0;
    const once = new OncePerInterval(60_000, () => now);
    expect(once.take("a")).toBe(true);
    expect(once.take("a")).toBe(false);
    expect(once.take("b")).toBe(true);
    now = 59_999;
    expect(once.take("a")).toBe(false);
    now = 60_000;
    expect(once.take("a")).toBe(true);
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
    const addresses = [["--api", "0.0.0.0:50051"]] as const;
    expect(plaintextRefusal(addresses, {})).toMatch(/--api 0\.0\.0\.0:50051 is not a loopback address/);
    expect(plaintextRefusal(addresses, { insecure: true })).toBeNull();
    expect(plaintextRefusal([["--api", "127.0.0.1:50051"]], {})).toBeNull();
  });
});
