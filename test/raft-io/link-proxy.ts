import { createServer, connect, type Server, type Socket } from "node:net";

/**
 * A TCP relay on one replica-to-replica link (from one replica to another's Raft port), so a
 * test can break that one direction the way a network does: `blackhole()` silently drops what
 * the sender writes while its connection stays up (a partition, not a reset), and `heal()` closes
 * the broken connections and relays again, so the sender reconnects. Real sockets, real gRPC.
 */
export class LinkProxy {
  private readonly pairs = new Set<{ client: Socket; upstream: Socket }>();
  private blackholed = false;

  private constructor(
    private readonly server: Server,
    private readonly target: { host: string; port: number },
    readonly address: string,
  ) {}

  static async start(target: string): Promise<LinkProxy> {
    const [host, port] = target.split(":");
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const bound = server.address();
    if (bound === null || typeof bound === "string") throw new Error("the proxy has no TCP address");
    const proxy = new LinkProxy(server, { host, port: Number(port) }, `127.0.0.1:${bound.port}`);
    server.on("connection", (client) => proxy.relay(client));
    return proxy;
  }

  /** From now on, bytes from the sender vanish; the connection stays up. */
  blackhole(): void {
    this.blackholed = true;
  }

  /** Closes the connections that lost bytes and relays again: the sender reconnects. */
  heal(): void {
    this.blackholed = false;
    for (const pair of [...this.pairs]) this.drop(pair);
  }

  async close(): Promise<void> {
    for (const pair of [...this.pairs]) this.drop(pair);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private relay(client: Socket): void {
    const upstream = connect(this.target.port, this.target.host);
    const pair = { client, upstream };
    this.pairs.add(pair);
    client.on("data", (chunk) => {
      if (!this.blackholed) upstream.write(chunk);
    });
    upstream.on("data", (chunk) => client.write(chunk));
    for (const socket of [client, upstream]) {
      socket.on("error", () => this.drop(pair));
      socket.on("close", () => this.drop(pair));
    }
  }

  private drop(pair: { client: Socket; upstream: Socket }): void {
    if (!this.pairs.delete(pair)) return;
    pair.client.destroy();
    pair.upstream.destroy();
  }
}
