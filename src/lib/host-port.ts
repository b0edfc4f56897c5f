/** Highest TCP port; 0 is not a port one can connect to (only "any free port" when listening). */
const portMax = 65_535;

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/**
 * Parses "host:port" (IPv6 in brackets) of an address to connect to or to announce to others:
 * the port must be 1..65535. Without a host, 127.0.0.1.
 */
export function splitHostPort(address: string): HostPort {
  const parsed = parse(address);
  if (parsed.port < 1 || parsed.port > portMax)
    throw new Error(`invalid address "${address}": port ${parsed.port} is outside 1..${portMax}`);
  return parsed;
}

/** As splitHostPort, for an address to listen on: port 0 asks the system for any free port. */
export function splitListenHostPort(address: string): HostPort {
  const parsed = parse(address);
  if (parsed.port > portMax)
    throw new Error(`invalid address "${address}": port ${parsed.port} is outside 0..${portMax}`);
  return parsed;
}

function parse(address: string): HostPort {
  const index = address.lastIndexOf(":");
  const host = index > 0 ? address.slice(0, index).replace(/^\[|\]$/g, "") : "127.0.0.1";
  const portText = address.slice(index + 1);
  const port = Number(portText);
  if (portText.trim() === "" || !Number.isInteger(port) || port < 0)
    throw new Error(`invalid address "${address}": expected host:port`);
  return { host, port };
}

/** An address without its last ":port" ("ipv4:127.0.0.1:5000" -> "ipv4:127.0.0.1", "[::1]:5000" -> "[::1]"). */
export function withoutPort(address: string): string {
  const colon = address.lastIndexOf(":");
  return colon < 0 ? address : address.slice(0, colon);
}
