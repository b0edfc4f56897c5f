import { splitHostPort } from "../lib/host-port.js";

/** The default local layout (docs/architecture.md): Raft on 7001.., the API on 50051... */
const raftPortBase = 7001;
const apiPortBase = 50051;
const portMax = 65_535;

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
    try {
      splitHostPort(address);
    } catch (error) {
      throw new Error(`${flag}: ${(error as Error).message}`, { cause: error });
    }
    if (peers.has(id)) throw new Error(`${flag}: replica ${id} is listed twice`);
    peers.set(id, address);
  }
  if (peers.size === 0) throw new Error(`${flag}: at least one replica is needed`);
  return peers;
}
/** Raft port 700i -> API port 5005i; a Raft port far from 7001 has no such API port, so the operator must say. */
export function derivedApiAddress(id: string, raftAddress: string): string {
  const { host, port } = splitHostPort(raftAddress);
  const apiPort = apiPortBase + (port - raftPortBase);
  if (apiPort < 1 || apiPort > portMax)
    throw new Error(
      `replica ${id}: the API port derived from Raft address ${raftAddress} (Raft port 700i -> API port 5005i) ` +
        `would be ${apiPort}, outside 1..${portMax}; pass --peer-apis r1=host:port,... with every replica's API address`,
    );
  return `${host}:${apiPort}`;
}
