import { describe, expect, it } from "vitest";
import { splitHostPort, splitListenHostPort } from "../../src/lib/host-port.js";

describe("splitHostPort", () => {
  it("splits host and port, IPv6 in brackets, 127.0.0.1 without a host", () => {
    expect(splitHostPort("10.0.0.5:7001")).toEqual({ host: "10.0.0.5", port: 7001 });
    expect(splitHostPort("[::1]:50051")).toEqual({ host: "::1", port: 50051 });
    expect(splitHostPort(":8080")).toEqual({ host: "127.0.0.1", port: 8080 });
    expect(splitHostPort("h:1")).toEqual({ host: "h", port: 1 });
    expect(splitHostPort("h:65535")).toEqual({ host: "h", port: 65535 });
  });

  it("refuses ports outside 1..65535 with a message that says so", () => {
    expect(() => splitHostPort("127.0.0.1:80723")).toThrow(
      'invalid address "127.0.0.1:80723": port 80723 is outside 1..65535',
    );
    expect(() => splitHostPort("127.0.0.1:0")).toThrow("port 0 is outside 1..65535");
    expect(() => splitHostPort("127.0.0.1:65536")).toThrow("outside 1..65535");
  });

  it("refuses what is not host:port", () => {
    for (const text of ["localhost", "h:", "h:-1", "h:1.5", "h:abc"])
      expect(() => splitHostPort(text), text).toThrow(`invalid address "${text}"`);
  });

  it("accepts port 0 only for an address to listen on", () => {
    expect(splitListenHostPort("127.0.0.1:0")).toEqual({ host: "127.0.0.1", port: 0 });
    expect(() => splitListenHostPort("127.0.0.1:70000")).toThrow("outside 0..65535");
  });
});
