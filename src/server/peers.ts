import { splitHostPort } from "./http-server.js";

/** Parses "r1=host:port,r2=host:port" into an ordered map; throws a usage error message on bad input. */
export function parsePeerList(text: string, flag: string): Map<string, string> {
  const peers = new Map<string, string>();
  for (const part of text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")) {
    const eq = part.indexOf("=");
    if (eq <= 0) throw new Error(`${flag}: "${part}" should look like r1=127.0.0.1:7001`);
    const id = part.slice(0, eq);
    const address = part.slice(eq + 1);
    if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(id))
      throw new Error(`${flag}: replica id "${id}" must be lowercase letters, digits and '-'`);
    splitHostPort(address);
    if (peers.has(id)) throw new Error(`${flag}: replica ${id} is listed twice`);
    peers.set(id, address);
  }
  if (peers.size === 0) throw new Error(`${flag}: at least one replica is needed`);
  return peers;
}
